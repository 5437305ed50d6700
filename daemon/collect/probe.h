/* SPDX-License-Identifier: Apache-2.0 */
/* probe: what this kernel and these privileges allow, checked before any
 * BPF object is loaded so a failure names what is missing. */
#ifndef PROFD_PROBE_H
#define PROFD_PROBE_H

#include <stddef.h>

/* 0 when profd can load and attach its programs, else -errno with a
 * message in msg naming the missing piece (kernel BTF, CAP_BPF/CAP_PERFMON). */
int probe_environment(char *msg, size_t len);
/* The same with the BTF file given (tests). */
int probe_environment_at(const char *btf_path, char *msg, size_t len);

/* Text for an error from loading/attaching, naming the likely cause. */
const char *probe_explain(int err);

#endif
