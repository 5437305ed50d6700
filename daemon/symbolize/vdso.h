/* SPDX-License-Identifier: Apache-2.0 */
/* vdso: symbols for [vdso] frames, read from profd's own vDSO. Internal to
 * symbolize/ (and its unit tests). */
#ifndef PROFD_SYMBOLIZE_VDSO_H
#define PROFD_SYMBOLIZE_VDSO_H

#include <stdint.h>

struct elf_image;

/* Parse the vDSO mapped into this process (getauxval(AT_SYSINFO_EHDR)).
 * The kernel maps one image into every process of the same ABI, so it
 * serves their [vdso] mappings too when the sizes match; *size is the
 * length of our [vdso] mapping. Returns 0, -ENOENT without a vDSO, or an
 * elf_image__open_mem() error. */
int vdso__open_self(struct elf_image **img, uint64_t *size);

#endif
