/* SPDX-License-Identifier: Apache-2.0 */
/* unwind: turns an ELF file's .eh_frame (and .debug_frame) into the compact
 * row/rule table of include/profd/unwind.h that the BPF stack walker reads.
 * x86-64 only. Library code: never logs, returns NULL + errno. */
#ifndef PROFD_DAEMON_UNWIND_H
#define PROFD_DAEMON_UNWIND_H

#include <stddef.h>

#include "profd/unwind.h"

struct unwind_table;

/* Why a section, CIE or FDE was dropped (the rows it would have produced are
 * then FRAME_POINTER, i.e. the walker falls back to frame pointers there). */
enum unwind_err {
	UNWIND_ERR_TRUNCATED,	 /* entry runs past the end of its section */
	UNWIND_ERR_CIE,		 /* bad CIE: version, augmentation, alignment or
				  * RA column we do not understand */
	UNWIND_ERR_CIE_POINTER,	 /* FDE's CIE pointer does not lead to a CIE */
	UNWIND_ERR_ENCODING,	 /* pointer encoding we refuse (indirect, funcrel,
				  * unknown) or cannot read */
	UNWIND_ERR_FDE_RANGE,	 /* empty or wrapping range, outside every
				  * executable segment, or > 4 GiB from vaddr_base */
	UNWIND_ERR_OVERLAP,	 /* FDE overlaps an earlier one (same section): the
				  * earlier one is cut, an exact duplicate dropped */
	UNWIND_ERR_ROWS_FULL,	 /* PROFD_UNW_MAX_ROWS rows or 2^21 FDEs reached:
				  * later FDEs dropped */
	UNWIND_ERR_DEBUG_FRAME,	 /* .debug_frame present but unreadable */
	UNWIND_ERR_EH_FRAME_HDR, /* no .eh_frame section and PT_GNU_EH_FRAME unusable */
	UNWIND_ERR_MAX
};

struct unwind_stats {
	size_t cies;		 /* CIEs parsed */
	size_t fdes;		 /* FDEs in the table (both sections) */
	size_t fdes_debug_frame; /* ... of which from .debug_frame */
	size_t fdes_debug_dup;	 /* .debug_frame FDEs skipped: .eh_frame covers them */
	size_t rows;
	size_t rules;		 /* distinct rules */
	size_t gap_rows;	 /* FRAME_POINTER rows between and after FDEs */
	size_t signal_ranges;	 /* SIGNAL ranges (augmentation "S" or the bytes) */
	size_t signal_by_bytes;	 /* ... of which found by `mov $15,%rax; syscall` */
	size_t stop_rows;
	size_t invalid_rows[PROFD_UNW_INVALID_MAX]; /* INVALID rows by reason */
	size_t errors[UNWIND_ERR_MAX];		    /* dropped entries by reason */
	size_t table_bytes;			    /* rows * 8 + rules * 16 */
	int eh_frame_from_phdr; /* .eh_frame located via PT_GNU_EH_FRAME */
};

/* A code segment: FDEs must lie inside one (when any are given), and the parts
 * no FDE covers are searched for signal trampolines. Its first nbytes bytes
 * of code are at bytes, or, when bytes is NULL, at offset in fd (read with
 * pread(), so a large file's text is not mapped in); nbytes may be less than
 * size, or 0. They are only read during the build. */
struct unwind_segment {
	__u64 vaddr;
	__u64 size;
	const void *bytes;
	size_t nbytes;
	int fd;
	__u64 offset;
};

/* Raw CFI sections, for callers that have no ELF file (tests, synthetic
 * inputs). eh_frame_vaddr is where .eh_frame is loaded (pcrel base). */
struct unwind_input {
	const void *eh_frame;
	size_t eh_frame_size;
	__u64 eh_frame_vaddr;
	const void *debug_frame;
	size_t debug_frame_size;
	const struct unwind_segment *segs;
	size_t nsegs;
	size_t max_fdes; /* stop after this many .eh_frame FDEs (0: no limit) */
};

/* Build the table for the ELF file at path / open fd / in-memory image (e.g. a
 * vDSO copied from a process). The image and fd are only used during the call.
 * st (optional) is filled even on failure. Returns NULL and sets errno:
 * EINVAL not an x86-64 ET_EXEC/ET_DYN ELF, ENODATA no usable CFI at all,
 * ENOMEM. Corrupt CFI is never fatal: the bad parts are counted in st and
 * left to FRAME_POINTER or INVALID rows. */
struct unwind_table *unwind_table__build(const char *path, struct unwind_stats *st);
struct unwind_table *unwind_table__build_fd(int fd, struct unwind_stats *st);
struct unwind_table *unwind_table__build_mem(const void *image, size_t size,
					     struct unwind_stats *st);
struct unwind_table *unwind_table__build_raw(const struct unwind_input *in,
					     struct unwind_stats *st);

/* NULL-safe. */
void unwind_table__free(struct unwind_table *t);

/* Borrowed arrays, valid until unwind_table__free(). */
const struct profd_unw_row *unwind_table__rows(const struct unwind_table *t, size_t *n);
const struct profd_unw_rule *unwind_table__rules(const struct unwind_table *t, size_t *n);
/* row.pc = vaddr - vaddr_base */
__u64 unwind_table__vaddr_base(const struct unwind_table *t);

/* The row.rule value in effect at ELF vaddr (PROFD_UNW_FRAME_POINTER where no
 * row covers it); *rule is filled when it is a rule index. */
unsigned int unwind_table__lookup(const struct unwind_table *t, __u64 vaddr,
				  struct profd_unw_rule *rule);

const char *unwind_err__str(enum unwind_err err);
const char *unwind_invalid__str(unsigned int reason);

#endif
