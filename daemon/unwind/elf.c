// SPDX-License-Identifier: Apache-2.0
/* elf: finds an x86-64 ELF file's CFI with libelf (.eh_frame and .debug_frame
 * sections, or .eh_frame through PT_GNU_EH_FRAME when the section headers are
 * gone) and its code segments, and hands them to the table builder. */
#include <dwarf.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "binary/file.h"
#include "unwind/internal.h"

struct cfi_source {
	Elf *elf;
	const __u8 *raw;
	size_t rawsize;
	size_t phnum;
};

/* File bytes behind vaddr in the PT_LOAD that maps it: *avail bytes. */
static const __u8 *vaddr_bytes(const struct cfi_source *im, __u64 vaddr, size_t *avail)
{
	for (size_t i = 0; i < im->phnum; i++) {
		GElf_Phdr ph;
		__u64 off;

		if (!gelf_getphdr(im->elf, (int)i, &ph) || ph.p_type != PT_LOAD)
			continue;
		if (vaddr < ph.p_vaddr || vaddr - ph.p_vaddr >= ph.p_filesz)
			continue;
		off = ph.p_offset + (vaddr - ph.p_vaddr);
		if (off >= im->rawsize || ph.p_offset > im->rawsize)
			return NULL;
		*avail = ph.p_filesz - (vaddr - ph.p_vaddr);
		if (*avail > im->rawsize - off)
			*avail = im->rawsize - off;
		return im->raw + off;
	}
	return NULL;
}

/* .eh_frame located through .eh_frame_hdr. Its size is unknown, so the
 * parser runs to the zero terminator, the end of the segment, or the number
 * of FDEs the header's search table lists. */
static int eh_frame_from_hdr(const struct cfi_source *im, const GElf_Phdr *ph,
			     struct unwind_input *in)
{
	const __u8 *hdr, *p, *end, *frame;
	__u64 ptr, count = 0;
	size_t avail = 0;

	if (ph->p_offset > im->rawsize || ph->p_filesz > im->rawsize - ph->p_offset ||
	    ph->p_filesz < 4)
		return -EINVAL;
	hdr = im->raw + ph->p_offset;
	end = hdr + ph->p_filesz;
	if (hdr[0] != 1) /* version */
		return -EINVAL;
	p = hdr + 4;
	/* header values are relative to the header itself (datarel) */
	if (cfi__read_encoded(&p, end, hdr[1], ph->p_vaddr + 4, ph->p_vaddr, &ptr))
		return -EINVAL;
	if (hdr[2] != DW_EH_PE_omit &&
	    cfi__read_encoded(&p, end, hdr[2], ph->p_vaddr + (__u64)(p - hdr), ph->p_vaddr,
			      &count))
		count = 0;
	frame = vaddr_bytes(im, ptr, &avail);
	if (!frame || !avail)
		return -EINVAL;
	in->eh_frame = frame;
	in->eh_frame_size = avail;
	in->eh_frame_vaddr = ptr;
	in->max_fdes = count < SIZE_MAX ? (size_t)count : 0;
	return 0;
}

static const void *debug_frame_data(Elf_Scn *scn, const GElf_Shdr *sh, size_t *size)
{
	Elf_Data *d;

	/* SHF_COMPRESSED (gcc -gz); libelf inflates into its own buffer, which
	 * lives until elf_end() */
	if (sh->sh_flags & SHF_COMPRESSED) {
		if (elf_compress(scn, 0, 0) < 0)
			return NULL;
		d = elf_getdata(scn, NULL);
	} else {
		d = elf_rawdata(scn, NULL);
	}
	if (!d || !d->d_buf)
		return NULL;
	*size = d->d_size;
	return d->d_buf;
}

/* fd: the file behind elf, or -1 for an image in memory. */
static struct unwind_table *build_elf(Elf *elf, int fd, struct unwind_stats *st)
{
	struct cfi_source im = { .elf = elf };
	struct unwind_segment *segs = NULL;
	struct unwind_input in = { 0 };
	struct unwind_table *t = NULL;
	GElf_Phdr ehf = { 0 };
	Elf_Scn *scn = NULL;
	size_t shstrndx;
	GElf_Ehdr eh;
	int err = 0;

	if (elf_kind(elf) != ELF_K_ELF || gelf_getclass(elf) != ELFCLASS64 ||
	    !gelf_getehdr(elf, &eh) || eh.e_ident[EI_DATA] != ELFDATA2LSB ||
	    eh.e_machine != EM_X86_64 || (eh.e_type != ET_EXEC && eh.e_type != ET_DYN)) {
		err = -EINVAL;
		goto cleanup;
	}
	im.raw = (const __u8 *)elf_rawfile(elf, &im.rawsize);
	if (!im.raw) {
		err = -EINVAL;
		goto cleanup;
	}
	if (elf_getphdrnum(elf, &im.phnum))
		im.phnum = 0;
	segs = calloc(im.phnum ? im.phnum : 1, sizeof(*segs));
	if (!segs) {
		err = -ENOMEM;
		goto cleanup;
	}
	for (size_t i = 0; i < im.phnum; i++) {
		GElf_Phdr ph;
		struct unwind_segment *s = &segs[in.nsegs];

		if (!gelf_getphdr(elf, (int)i, &ph))
			continue;
		if (ph.p_type == PT_GNU_EH_FRAME)
			ehf = ph;
		if (ph.p_type != PT_LOAD || !(ph.p_flags & PF_X) || !ph.p_memsz)
			continue;
		s->vaddr = ph.p_vaddr;
		s->size = ph.p_memsz;
		if (ph.p_offset < im.rawsize) {
			/* from a file, pread() the few code bytes we look at:
			 * touching the mapping would fault in 64 KiB around each */
			s->bytes = fd >= 0 ? NULL : im.raw + ph.p_offset;
			s->fd = fd;
			s->offset = ph.p_offset;
			s->nbytes = ph.p_filesz < im.rawsize - ph.p_offset ?
					    ph.p_filesz :
					    im.rawsize - ph.p_offset;
		}
		in.nsegs++;
	}
	in.segs = segs;

	if (elf_getshdrstrndx(elf, &shstrndx) == 0) {
		while ((scn = elf_nextscn(elf, scn))) {
			const char *name;
			GElf_Shdr sh;
			Elf_Data *d;

			if (!gelf_getshdr(scn, &sh) || sh.sh_type == SHT_NOBITS)
				continue;
			name = elf_strptr(elf, shstrndx, sh.sh_name);
			if (!name)
				continue;
			if (!strcmp(name, ".eh_frame") && !in.eh_frame) {
				d = elf_rawdata(scn, NULL);
				if (d && d->d_buf && d->d_size) {
					in.eh_frame = d->d_buf;
					in.eh_frame_size = d->d_size;
					in.eh_frame_vaddr = sh.sh_addr;
				}
			} else if (!strcmp(name, ".debug_frame") && !in.debug_frame) {
				in.debug_frame = debug_frame_data(scn, &sh, &in.debug_frame_size);
				if (!in.debug_frame && st)
					st->errors[UNWIND_ERR_DEBUG_FRAME]++;
			}
		}
	}
	if (!in.eh_frame && ehf.p_type == PT_GNU_EH_FRAME) {
		if (eh_frame_from_hdr(&im, &ehf, &in) == 0) {
			if (st)
				st->eh_frame_from_phdr = 1;
		} else if (st) {
			st->errors[UNWIND_ERR_EH_FRAME_HDR]++;
		}
	}
	if (!in.eh_frame && !in.debug_frame) {
		err = -ENODATA;
		goto cleanup;
	}
	t = unw_build(&in, st);
	if (!t)
		err = -errno;
cleanup:
	free(segs);
	if (err)
		errno = -err;
	return t;
}

static struct unwind_table *build_from(Elf *elf, int fd, struct unwind_stats *st)
{
	struct unwind_table *t;
	int err;

	if (!elf) {
		errno = EINVAL;
		return NULL;
	}
	t = build_elf(elf, fd, st);
	err = errno;
	elf_end(elf);
	errno = err;
	return t;
}

static int elf_init(struct unwind_stats *st)
{
	if (st)
		memset(st, 0, sizeof(*st));
	if (binary_elf_init()) {
		errno = EINVAL;
		return -EINVAL;
	}
	return 0;
}

struct unwind_table *unwind_table__build_fd(int fd, struct unwind_stats *st)
{
	if (elf_init(st))
		return NULL;
	return build_from(elf_begin(fd, ELF_C_READ_MMAP, NULL), fd, st);
}

struct unwind_table *unwind_table__build(const char *path, struct unwind_stats *st)
{
	struct unwind_table *t;
	int fd, err;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		if (st)
			memset(st, 0, sizeof(*st));
		return NULL;
	}
	t = unwind_table__build_fd(fd, st);
	err = errno;
	close(fd);
	errno = err;
	return t;
}

struct unwind_table *unwind_table__build_mem(const void *image, size_t size,
					     struct unwind_stats *st)
{
	struct unwind_table *t;
	char *copy;
	int err;

	if (elf_init(st))
		return NULL;
	if (!image || !size) {
		errno = EINVAL;
		return NULL;
	}
	/* libelf wants a writable image (it may update section headers when
	 * it inflates .debug_frame); never write to the caller's */
	copy = malloc(size);
	if (!copy)
		return NULL;
	memcpy(copy, image, size);
	t = build_from(elf_memory(copy, size), -1, st);
	err = errno;
	free(copy);
	errno = err;
	return t;
}
