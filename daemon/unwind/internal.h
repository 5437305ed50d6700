/* SPDX-License-Identifier: Apache-2.0 */
/* unwind internals, for the files of unwind/ only: the table builder
 * (table.c) that cfi.c feeds FDE by FDE, the CFI section parser (cfi.c),
 * and build.c, which runs the one into the other for elf.c and
 * unwind_table__build_raw(). Calls go elf.c -> build.c -> {cfi.c, table.c}
 * and cfi.c -> table.c, never back. */
#ifndef PROFD_UNWIND_INTERNAL_H
#define PROFD_UNWIND_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include "unwind/unwind.h"

/* FDE records kept while building (24-32 B each). The largest library we
 * know (libLLVM, 95k FDEs) is far below; adversarial input is not. */
#define UNW_MAX_FDES (1u << 21)

enum unw_source {
	UNW_SRC_EH_FRAME,
	UNW_SRC_DEBUG_FRAME,
	UNW_SRC_SYNTHETIC, /* signal trampoline found by its bytes, no FDE */
};

/* One FDE's address range and its rows (pc relative to start). */
struct unw_fde {
	__u64 start, end;
	__u32 first_row, nrows; /* slice of unw_builder.rows */
	__u32 seq;		/* parse order, for a stable sort */
	__u8 source;		/* enum unw_source */
};

struct unw_builder {
	struct unwind_stats *st;
	const struct unwind_input *in;
	struct unw_fde *fdes;
	size_t nfdes, fdes_cap;
	struct profd_unw_row *rows; /* per-FDE rows, pc = offset from FDE start */
	size_t nrows, rows_cap;
	struct profd_unw_rule *rules;
	size_t nrules, rules_cap;
	__u32 *rule_hash; /* open addressing: rule index + 1, 0 = empty */
	size_t rule_hash_size; /* slots, a power of two */
	bool in_fde;
	bool rows_full;
};

int unw_builder__init(struct unw_builder *b, const struct unwind_input *in,
		      struct unwind_stats *st);
void unw_builder__done(struct unw_builder *b);
/* Dedups r; returns its index, or PROFD_UNW_INVALID(TABLE_FULL). */
__u16 unw_builder__intern(struct unw_builder *b, const struct profd_unw_rule *r);
/* Opens an FDE [start, end). Returns 0, -ENOSPC when the table is full
 * (counted), -ENOMEM. */
int unw_builder__begin_fde(struct unw_builder *b, __u64 start, __u64 end, enum unw_source src);
/* Appends the rule in effect from FDE offset off (non-decreasing offsets);
 * repeats of the previous rule are dropped. */
int unw_builder__add_row(struct unw_builder *b, __u64 off, __u16 rule);
void unw_builder__end_fde(struct unw_builder *b);
/* Copies len bytes at vaddr out of the code segments; false if unavailable. */
bool unw_builder__read_text(const struct unw_builder *b, __u64 vaddr, void *buf, size_t len);
/* True if an FDE at start is a signal trampoline by its bytes. */
bool unw_builder__is_sigreturn(const struct unw_builder *b, __u64 start);

/* The table of everything b collected (b is still to be done()). NULL +
 * errno: ENODATA no FDE (or none in range), ENOMEM. (table.c) */
struct unwind_table *unw_builder__finish(struct unw_builder *b);

/* unwind_table__build_raw() without clearing st first. (build.c) */
struct unwind_table *unw_build(const struct unwind_input *in, struct unwind_stats *st);

/* Parses one .eh_frame (debug=false) or .debug_frame section into b. Bad
 * entries are counted in b->st and skipped. Returns 0 or -ENOMEM. */
int cfi__parse_section(struct unw_builder *b, const void *data, size_t size, __u64 vaddr,
		       bool debug, size_t max_fdes);

/* Reads a DW_EH_PE-encoded pointer at *p (p < end), whose own address is
 * at_vaddr; datarel values are relative to datarel_base. Advances *p.
 * Returns 0, -EINVAL (truncated) or -EOPNOTSUPP (indirect, funcrel,
 * unknown format). */
int cfi__read_encoded(const __u8 **p, const __u8 *end, __u8 enc, __u64 at_vaddr,
		      __u64 datarel_base, __u64 *out);

/* `mov $0xf,%rax; syscall`: the rt_sigreturn trampoline (glibc __restore_rt,
 * musl __restore_rt). */
#define UNW_SIGRETURN_LEN 9
/* FDEs longer than this are not checked for those bytes (glibc's covers 10). */
#define UNW_SIGRETURN_MAX_FDE 16
extern const __u8 unw_sigreturn_bytes[UNW_SIGRETURN_LEN];

#endif
