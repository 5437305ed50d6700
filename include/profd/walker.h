/* SPDX-License-Identifier: Apache-2.0 */
/* walker: the maps shared by the BPF user-stack walker (bpf/unwind.bpf.h) and
 * its userspace loader (daemon/unwind/loader.c): which file covers a
 * process's PC, the per-file row tables of include/profd/unwind.h, the
 * global rule array, "unknown mapping" events, and the walker's counters.
 * Fixed-width types only, sizes asserted. */
#ifndef PROFD_WALKER_H
#define PROFD_WALKER_H

#ifndef __bpf__
#include <linux/types.h>
#endif

#include "profd/unwind.h"

/* Frames the walker records at most (the depth of every profd stack). */
#define PROFD_UNW_MAX_FRAMES 127

/*
 * unw_mappings: LPM_TRIE, (pid, address) → struct profd_unw_mapping.
 * The loader splits each executable mapping [start, end) of a process into
 * aligned power-of-two blocks, one trie entry each: prefixlen = 32 (pid) +
 * the block's address bits. pid and addr are big-endian, as the trie
 * compares bytes in order.
 */
struct profd_unw_map_key {
	__u32 prefixlen;
	__u32 pid_be;
	__u64 addr_be;
};
_Static_assert(sizeof(struct profd_unw_map_key) == 16, "LPM key layout");
#define PROFD_UNW_MAP_KEY_BITS 96 /* pid + address */

/* profd_unw_mapping.kind */
#define PROFD_UNW_MAP_TABLE 1 /* file_id names a table in unw_tables */
#define PROFD_UNW_MAP_FP 2    /* no table (JIT/anonymous code, no CFI, refused by
			       * the memory cap): frame-pointer steps only */

struct profd_unw_mapping {
	__u64 start;   /* the whole mapping [start, end): the walker reuses the */
	__u64 end;     /* last value while frames stay inside it */
	__u64 bias;    /* table pc = runtime pc - bias (load bias + vaddr_base) */
	__u32 file_id; /* key in unw_tables (TABLE only) */
	__u32 nrows;   /* rows in that table */
	__u32 kind;    /* PROFD_UNW_MAP_* */
	__u32 npages;  /* entries of its page index (after the rows) */
};
_Static_assert(sizeof(struct profd_unw_mapping) == 40, "mapping value layout");

/*
 * unw_tables: HASH_OF_MAPS, file_id (u32) → ARRAY of struct profd_unw_row,
 * exactly nrows entries (BPF_F_INNER_MAP lets inner arrays differ in size).
 * Row rule indexes point into unw_rules, shared by every file: the loader
 * rewrites each table's private rule indexes into global ones.
 *
 * unw_rules: ARRAY of PROFD_UNW_MAX_RULES struct profd_unw_rule.
 */

/*
 * Page index: after a table's nrows rows its inner array holds npages
 * entries of struct profd_unw_index, one per 2^PROFD_UNW_PAGE_SHIFT bytes of
 * table pcs. The row of a pc in page p is among rows[first - 1 .. end - 1]:
 * the walker's binary search starts from the rows of one page (~15 in libc)
 * instead of all of them, 4 array lookups a frame instead of 15. A pc past
 * the last page belongs to the last row. Costs npages * 8 bytes (6% of
 * libc's rows).
 */
#define PROFD_UNW_PAGE_SHIFT 11
/* Row pcs are distinct, so a page has at most 2^PROFD_UNW_PAGE_SHIFT rows:
 * this many binary-search steps always reach the answer. */
#define PROFD_UNW_PAGE_BSEARCH_STEPS (PROFD_UNW_PAGE_SHIFT + 1)
_Static_assert((1u << PROFD_UNW_PAGE_BSEARCH_STEPS) > (1u << PROFD_UNW_PAGE_SHIFT),
	       "binary search must reach every row of a page");
struct profd_unw_index {
	__u32 first; /* rows with pc < page start */
	__u32 end;   /* rows with pc < next page start */
};
_Static_assert(sizeof(struct profd_unw_index) == sizeof(struct profd_unw_row),
	       "index entries share the rows' array");

/* Entries of the page index of rows (sorted, nrows >= 1). */
static inline __u32 profd_unw_pages(const struct profd_unw_row *rows, __u32 nrows)
{
	return (rows[nrows - 1].pc >> PROFD_UNW_PAGE_SHIFT) + 1;
}

/* Fill idx[0 .. profd_unw_pages()) for rows. */
static inline void profd_unw_index_build(const struct profd_unw_row *rows, __u32 nrows,
					 struct profd_unw_index *idx)
{
	__u32 npages = profd_unw_pages(rows, nrows), r = 0;

	for (__u32 p = 0; p < npages; p++) {
		idx[p].first = r;
		while (r < nrows && (rows[r].pc >> PROFD_UNW_PAGE_SHIFT) <= p)
			r++;
		idx[p].end = r;
	}
}

/* "unknown mapping" event (ring buffer unw_events): a sampled PC of pid was
 * in no known mapping. Rate-limited per CPU; the loader rescans the pid. */
struct profd_unw_event {
	__u32 pid;
	__u32 pad;
	__u64 addr;
};
_Static_assert(sizeof(struct profd_unw_event) == 16, "event layout");

/* Counters of the walker (per-CPU array unw_metrics of every object that
 * includes the walker). "Stop" counters end a walk early: the stack is kept,
 * truncated at that frame. */
enum profd_unw_metric {
	PROFD_UNW_M_WALKS = 0,	    /* walks started */
	PROFD_UNW_M_FRAMES,	    /* frames recorded */
	PROFD_UNW_M_COMPLETE,	    /* walks that reached a root (STOP row, RA 0, rbp 0) */
	PROFD_UNW_M_TABLE_STEPS,    /* frames unwound with a CFI rule */
	PROFD_UNW_M_FP_STEPS,	    /* frames unwound with a frame-pointer step */
	PROFD_UNW_M_SIGNAL_STEPS,   /* signal frames crossed */
	PROFD_UNW_M_UNKNOWN_MAP,    /* PC in no known mapping (FP step tried) */
	PROFD_UNW_M_EVENTS,	    /* unknown-mapping events sent */
	PROFD_UNW_M_EVENTS_LOST,    /* ... not sent: ring buffer full */
	PROFD_UNW_M_STOP_INVALID,   /* stop: INVALID row (unsupported CFI) */
	PROFD_UNW_M_STOP_FRAME0,    /* stop: frame-0-only rule above frame 0 */
	PROFD_UNW_M_STOP_READ,	    /* stop: user memory unreadable (RA, rbp, CFA) */
	PROFD_UNW_M_STOP_BAD_CFA,   /* stop: CFA not above the stack pointer */
	PROFD_UNW_M_STOP_BAD_PC,    /* stop: PC below 4 KiB or in the kernel half */
	PROFD_UNW_M_STOP_FP,	    /* stop: frame-pointer step impossible (rbp
				     * unknown, not above sp, misaligned) */
	PROFD_UNW_M_STOP_NO_TABLE,  /* stop: table vanished or row unreadable */
	PROFD_UNW_M_STOP_DEPTH,	    /* stop: PROFD_UNW_MAX_FRAMES reached */
	PROFD_UNW_M_NO_REGS,	    /* no user registers (kernel thread, compat task) */
	PROFD_UNW_M_MAX,
};

/* Load-time knobs of the walker (part of each including object's .rodata). */
struct profd_unw_config {
	__u32 enabled;		  /* 0: the walker is compiled in but never runs */
	__u32 event_interval_ms;  /* min time between two unknown-mapping events
				   * of one pid from one CPU; 0 disables them */
};

#endif
