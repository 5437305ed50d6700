// SPDX-License-Identifier: Apache-2.0
/* vdso: the vDSO is not a file, so it is copied out of our own memory and
 * parsed like one. Its length comes from our maps, not from its headers,
 * so the copy never reads past the mapping. */
#include <errno.h>
#include <sys/auxv.h>
#include <unistd.h>

#include "binary/elf.h"
#include "binary/procmaps.h"
#include "symbolize/vdso.h"

struct vdso_find {
	uint64_t base;
	uint64_t size;
};

static int find_vdso(const struct procmaps_entry *e, void *ctx)
{
	struct vdso_find *f = ctx;

	if (e->start == f->base) {
		f->size = e->end - e->start;
		return 1;
	}
	return 0;
}

int vdso__open_self(struct elf_image **img, uint64_t *size)
{
	struct vdso_find f = { .base = getauxval(AT_SYSINFO_EHDR) };
	int err;

	if (!f.base)
		return -ENOENT;
	err = procmaps__read(getpid(), find_vdso, &f, NULL);
	if (err < 0)
		return err;
	if (!f.size)
		return -ENOENT;
	err = elf_image__open_mem((const void *)(uintptr_t)f.base, f.size, img);
	if (!err)
		*size = f.size;
	return err;
}
