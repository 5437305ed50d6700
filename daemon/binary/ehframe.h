/* SPDX-License-Identifier: Apache-2.0 */
/* ehframe: where each function of a binary starts and ends according to
 * its .eh_frame (one FDE per function in every x86-64 binary, stripped or
 * not), for naming code no symbol covers. Reads only entry headers: CIE
 * augmentation (the FDE pointer encoding) and each FDE's initial location
 * and range; the CFA programs are unwind/cfi.c's business. Every read is
 * bounds-checked: garbage yields fewer (or no) functions, never a crash.
 * The table is compact: one sorted array of (start, length) pairs, starts
 * as 32-bit offsets from the lowest one. */
#ifndef PROFD_BINARY_EHFRAME_H
#define PROFD_BINARY_EHFRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* FDEs kept per file: far above the largest library (libLLVM ~95k). */
#define EHFRAME_MAX_FUNCS (1u << 21)
/* .eh_frame bytes read per file. */
#define EHFRAME_MAX_BYTES (256u << 20)

struct ehframe_func {
	uint32_t off; /* start - ehframe_funcs.base */
	uint32_t len;
};

struct ehframe_funcs {
	uint64_t base;
	struct ehframe_func *f; /* sorted by off, one per start */
	size_t n;
};

/* An address range FDEs must fall in (executable PT_LOADs); n 0: any. */
struct ehframe_range {
	uint64_t start, end;
};

/* Read a DW_EH_PE-encoded pointer at *p (< end) whose own address is
 * at_vaddr; datarel values are relative to datarel_base. Advances *p.
 * Returns 0, -EINVAL (truncated) or -EOPNOTSUPP (indirect, funcrel,
 * unknown format). */
int ehframe_read_encoded(const uint8_t **p, const uint8_t *end, uint8_t enc, uint64_t at_vaddr,
			 uint64_t datarel_base, uint64_t *out);

/* One entry of an .eh_frame (or .debug_frame) section. */
struct ehframe_entry {
	const uint8_t *body, *end; /* after the CIE id/pointer; end of entry */
	size_t next;               /* offset of the following entry */
	bool is_cie;
	size_t cie_off;            /* FDEs: the CIE's offset */
	bool cie_ok;               /* cie_off lies inside the section */
};

/* The entry at off of the section [start, end); debug: .debug_frame
 * (absolute CIE offsets, 0xffffffff CIE ids). Returns 0, 1 at the end or a
 * zero terminator, or -EINVAL (truncated). */
int ehframe_entry_read(const uint8_t *start, const uint8_t *end, size_t off, bool debug,
		       struct ehframe_entry *e);

/* A CIE's header. */
struct ehframe_cie {
	uint8_t version;
	bool aug_z;     /* augmentation data (and FDE augmentation lengths) */
	bool signal;    /* 'S': frames of signal trampolines */
	uint8_t fde_enc; /* DW_EH_PE_* of FDE addresses */
	uint64_t caf;
	int64_t daf;
	uint64_t ra_reg;
	const uint8_t *insns, *insns_end; /* initial instructions */
};

/* The header of CIE e of the section starting at start, loaded at vaddr.
 * Returns 0, -EINVAL (truncated) or -EBADMSG (a version, augmentation or
 * personality encoding this reader cannot skip). */
int ehframe_cie_read(const uint8_t *start, uint64_t vaddr, bool debug,
		     const struct ehframe_entry *e, struct ehframe_cie *cie);

/* The functions of one .eh_frame section loaded at vaddr: FDEs outside
 * ranges (when nranges > 0), empty or absurd ones are skipped. Returns 0
 * and a table (possibly empty), or -ENOMEM. */
int ehframe_funcs__parse(const void *data, size_t size, uint64_t vaddr,
			 const struct ehframe_range *ranges, size_t nranges,
			 struct ehframe_funcs **out);

/* The same for the ELF file open on fd: its .eh_frame section, else the
 * one PT_GNU_EH_FRAME points at (section headers stripped); executable
 * PT_LOADs bound the FDEs. Returns 0, -ENOENT (no .eh_frame), -ENOEXEC
 * (not ELF), -EINVAL (corrupt), -ENOMEM. */
int ehframe_funcs__read_fd(int fd, struct ehframe_funcs **out);

/* Start of the function covering vaddr; 0 and *start, or -ENOENT. */
int ehframe_funcs__find(const struct ehframe_funcs *t, uint64_t vaddr, uint64_t *start);

size_t ehframe_funcs__bytes(const struct ehframe_funcs *t);
void ehframe_funcs__free(struct ehframe_funcs *t);

#endif
