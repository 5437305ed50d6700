/* SPDX-License-Identifier: Apache-2.0 */
/* unwind: the compact unwind-table format shared by the userspace builder
 * (daemon/unwind/, from .eh_frame/.debug_frame) and the BPF stack walker.
 * Self-contained: fixed-width types only, no pointers, sizes asserted. */
#ifndef PROFD_UNWIND_H
#define PROFD_UNWIND_H

#ifndef __bpf__
#include <linux/types.h>
#endif

/*
 * A table belongs to one ELF file. It is an array of rows sorted by pc plus an
 * array of deduplicated rules:
 *
 *   row i covers [rows[i].pc, rows[i+1].pc); the last row is always a command
 *   (FRAME_POINTER), so every covered range is closed. An address below
 *   rows[0].pc has no CFI: treat it as PROFD_UNW_CMD_FRAME_POINTER.
 *
 *   pc = ELF vaddr - vaddr_base. vaddr_base is stored next to the table by the
 *   loader (0 unless the file's text lies above 4 GiB), so the walker computes
 *   pc = runtime_pc - bias - vaddr_base.
 *
 * Lookup: frame 0 uses the exact PC, frames >= 1 use return address - 1 (a
 * call may be the last instruction of a function).
 *
 * row.rule < PROFD_UNW_CMD_FLAG is an index into the rule array. Otherwise it
 * is a command: bits 8..14 the command, bits 0..7 its argument.
 *
 * Rows are emitted only where the CFA, rbp or RA rule changes. FDEs further
 * apart than PROFD_UNW_MIN_GAP get a FRAME_POINTER row at the end of the
 * first, so code between functions does not inherit a function's rule; the
 * end of the last FDE gets one too.
 *
 * One step of the walker with rule r at frame (pc, rsp, rbp):
 *   CFA  = per r.cfa_kind (REG: reg + cfa_off; DEREF: *(reg + cfa_off) +
 *          cfa_aux; PLT: rsp + cfa_off + ((pc & 15) >= cfa_aux ? 8 : 0))
 *   RA   = *(CFA + ra_off)          (RA_REG: register ra_off, frame 0 only)
 *   rbp' = per r.rbp_how
 *   next frame: pc = RA, rsp = CFA, rbp = rbp'
 *
 * Unsupported cases (INVALID rows, reason in the argument; the builder and
 * its differential test against elfutils agree on every other row):
 *   - CFA expressions other than reg+k, *(reg+k)[+/-c] and the PLT form;
 *     CFA registers above 16; def_cfa_offset/_register after an expression;
 *     CFA offsets beyond s32
 *   - caller's rbp in another register, or an rbp (val_)expression other
 *     than *(rbp+k) or *(rsp+k); rbp offsets beyond s16
 *   - RA "same value", val_offset or (val_)expression (outside signal
 *     frames), RA offsets beyond s16
 *   - malformed programs: unknown opcodes, truncated operands,
 *     remember/restore_state misuse, set_loc going backwards, and more than
 *     PROFD_UNW_MAX_RULES distinct rules; the rest of that FDE is INVALID
 * Representable but only usable in frame 0 (profd_unw_rule_frame0_only()):
 * CFA based on a register other than rsp/rbp (setcontext, DRAP prologues,
 * _dl_runtime_resolve's rbx) and RA kept in a register (vfork).
 */
struct profd_unw_row {
	__u32 pc;   /* vaddr - vaddr_base; strictly increasing */
	__u16 rule; /* rule index, or PROFD_UNW_CMD(cmd, arg) */
	__u16 pad;  /* 0; reserved for a push/pop merge opcode */
};
_Static_assert(sizeof(struct profd_unw_row) == 8, "one BPF ARRAY slot per row");

#define PROFD_UNW_CMD_FLAG 0x8000
#define PROFD_UNW_CMD(cmd, arg) ((__u16)(PROFD_UNW_CMD_FLAG | ((cmd) << 8) | (arg)))
#define PROFD_UNW_IS_CMD(rule) (((rule) & PROFD_UNW_CMD_FLAG) != 0)
#define PROFD_UNW_CMD_OF(rule) (((rule) >> 8) & 0x7f)
#define PROFD_UNW_ARG_OF(rule) ((rule) & 0xff)

/* Commands (bits 8..14 of row.rule). */
#define PROFD_UNW_CMD_FRAME_POINTER 0 /* no CFI here (gap between FDEs, code without
				       * FDE): take a frame-pointer step */
#define PROFD_UNW_CMD_STOP 1	      /* RA undefined: outermost frame (_start,
				       * thread start); the stack is complete */
#define PROFD_UNW_CMD_SIGNAL 2	      /* signal trampoline (__restore_rt): regs come
				       * from the ucontext at rsp+40 (rip/rsp/rbp =
				       * gregs[16]/[15]/[10]); the next PC is exact,
				       * not a return address */
#define PROFD_UNW_CMD_INVALID 3	      /* CFI exists but we cannot express it: stop
				       * and count arg (PROFD_UNW_INVALID_*) */

#define PROFD_UNW_FRAME_POINTER PROFD_UNW_CMD(PROFD_UNW_CMD_FRAME_POINTER, 0)
#define PROFD_UNW_STOP PROFD_UNW_CMD(PROFD_UNW_CMD_STOP, 0)
#define PROFD_UNW_SIGNAL PROFD_UNW_CMD(PROFD_UNW_CMD_SIGNAL, 0)
#define PROFD_UNW_INVALID(reason) PROFD_UNW_CMD(PROFD_UNW_CMD_INVALID, reason)

/* Why a row is INVALID (the argument of PROFD_UNW_CMD_INVALID). Each one is a
 * documented unsupported case; the walker stops and counts it rather than
 * produce a wrong frame. */
#define PROFD_UNW_INVALID_NONE 0
#define PROFD_UNW_INVALID_CFA_EXPR 1	 /* CFA expression other than the PLT and
					  * *(reg+k)[+c] patterns */
#define PROFD_UNW_INVALID_CFA_REG 2	 /* CFA based on a register > 16 (vector...) */
#define PROFD_UNW_INVALID_CFA_BROKEN 3	 /* def_cfa_offset/_register after an
					  * expression CFA (DWARF: undefined) */
#define PROFD_UNW_INVALID_CFA_RANGE 4	 /* CFA offset does not fit in s32 */
#define PROFD_UNW_INVALID_RBP_REG 5	 /* caller's rbp kept in another register */
#define PROFD_UNW_INVALID_RBP_EXPR 6	 /* rbp (val_)expression other than
					  * *(rbp+k) or *(rsp+k) */
#define PROFD_UNW_INVALID_RBP_RANGE 7	 /* rbp offset does not fit in s16 */
#define PROFD_UNW_INVALID_RA_SAME 8	 /* RA "same value"/unspecified: meaningless */
#define PROFD_UNW_INVALID_RA_EXPR 9	 /* RA expression, val_expression or
					  * val_offset */
#define PROFD_UNW_INVALID_RA_RANGE 10	 /* RA offset does not fit in s16, or RA in a
					  * register > 16 */
#define PROFD_UNW_INVALID_BAD_OPCODE 11	 /* unknown or non-x86 CFA opcode: the rest
					  * of the FDE */
#define PROFD_UNW_INVALID_TRUNCATED 12	 /* CFA program or expression block runs
					  * past its entry: the rest of the FDE */
#define PROFD_UNW_INVALID_STATE_STACK 13 /* remember/restore_state over- or
					  * underflow: the rest of the FDE */
#define PROFD_UNW_INVALID_BAD_LOC 14	 /* set_loc backwards or unreadable */
#define PROFD_UNW_INVALID_TABLE_FULL 15	 /* more distinct rules than a table holds */
#define PROFD_UNW_INVALID_MAX 16

/* rule.cfa_kind */
#define PROFD_UNW_CFA_REG 0   /* CFA = reg(cfa_reg) + cfa_off */
#define PROFD_UNW_CFA_DEREF 1 /* CFA = *(u64 *)(reg(cfa_reg) + cfa_off) + cfa_aux
			       * (GCC stack realignment/DRAP, OpenSSL asm) */
#define PROFD_UNW_CFA_PLT 2   /* CFA = rsp + cfa_off + ((rip & 15) >= cfa_aux ? 8 : 0)
			       * (lazy-binding PLT entries; cfa_reg is rsp) */

/* rule.rbp_how: how to recover the caller's rbp */
#define PROFD_UNW_RBP_SAME 0	/* unchanged */
#define PROFD_UNW_RBP_UNDEF 1	/* unknown: no frame-pointer step above this frame */
#define PROFD_UNW_RBP_AT_CFA 2	/* *(u64 *)(CFA + rbp_off) */
#define PROFD_UNW_RBP_VAL_CFA 3 /* CFA + rbp_off */
#define PROFD_UNW_RBP_AT_RBP 4	/* *(u64 *)(rbp + rbp_off) (DRAP prologues) */
#define PROFD_UNW_RBP_AT_RSP 5	/* *(u64 *)(rsp + rbp_off) */

/* rule.ra_how: where the return address is */
#define PROFD_UNW_RA_AT_CFA 0 /* *(u64 *)(CFA + ra_off); ra_off is -8 almost always */
#define PROFD_UNW_RA_REG 1    /* in DWARF register ra_off (vfork keeps it in rdi) */

/* DWARF x86-64 register numbers used in rules. A CFA register other than rsp
 * and rbp, and PROFD_UNW_RA_REG, need a register the walker only knows
 * exactly in frame 0 (see profd_unw_rule_frame0_only()). */
#define PROFD_UNW_REG_RAX 0
#define PROFD_UNW_REG_RDX 1
#define PROFD_UNW_REG_RBX 3
#define PROFD_UNW_REG_RDI 5
#define PROFD_UNW_REG_RBP 6
#define PROFD_UNW_REG_RSP 7
#define PROFD_UNW_REG_RA 16 /* the return-address column (rip) */

struct profd_unw_rule {
	__u8 cfa_kind; /* PROFD_UNW_CFA_* */
	__u8 cfa_reg;  /* DWARF register number 0..16 */
	__u8 rbp_how;  /* PROFD_UNW_RBP_* */
	__u8 ra_how;   /* PROFD_UNW_RA_* */
	__s32 cfa_off; /* see cfa_kind */
	__s32 cfa_aux; /* DEREF: addend after the load; PLT: threshold (10 or 11) */
	__s16 rbp_off; /* see rbp_how; 0 when unused */
	__s16 ra_off;  /* see ra_how */
};
_Static_assert(sizeof(struct profd_unw_rule) == 16, "rule layout is ABI");

/* A table holds at most this many rows (the largest inner-array bucket, 2^23)
 * and rules (15 bits of row.rule). */
#define PROFD_UNW_MAX_ROWS (1u << 23)
#define PROFD_UNW_MAX_RULES (1u << 15)
/* Binary-search steps needed for PROFD_UNW_MAX_ROWS rows. */
#define PROFD_UNW_BSEARCH_STEPS 24
_Static_assert((1ull << PROFD_UNW_BSEARCH_STEPS) > PROFD_UNW_MAX_ROWS,
	       "binary search must reach every row");
/* FDEs further apart than this get a FRAME_POINTER gap row between them;
 * smaller gaps are alignment padding and keep the previous rule. */
#define PROFD_UNW_MIN_GAP 16

/* True when the rule needs a register that is only exact in the first frame. */
static inline int profd_unw_rule_frame0_only(const struct profd_unw_rule *r)
{
	return (r->cfa_reg != PROFD_UNW_REG_RSP && r->cfa_reg != PROFD_UNW_REG_RBP) ||
	       r->ra_how == PROFD_UNW_RA_REG;
}

/* Index of the last row with rows[i].pc <= pc, knowing it is among
 * rows[lo - 1 .. hi - 1] (lo - 1 = -1: pc is below the first row), in at
 * most steps halvings. For userspace and tests; the BPF walker runs the same
 * bounded search with one array-map lookup per step. */
static inline int profd_unw_search(const struct profd_unw_row *rows, __u32 lo, __u32 hi, int steps,
				   __u32 pc)
{
	for (int i = 0; i < steps && lo < hi; i++) {
		__u32 mid = lo + (hi - lo) / 2;

		if (rows[mid].pc <= pc)
			lo = mid + 1;
		else
			hi = mid;
	}
	return (int)lo - 1;
}

/* Index of the last row with rows[i].pc <= pc, or -1 if pc is below the first
 * row. */
static inline int profd_unw_find(const struct profd_unw_row *rows, __u32 nrows, __u32 pc)
{
	return profd_unw_search(rows, 0, nrows, PROFD_UNW_BSEARCH_STEPS, pc);
}

#endif
