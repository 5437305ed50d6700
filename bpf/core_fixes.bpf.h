/* SPDX-License-Identifier: GPL-2.0 */
/* core_fixes.bpf.h: CO-RE shims for kernel renames, one per rename, each
 * naming the commit that caused it. */
#ifndef PROFD_CORE_FIXES_BPF_H
#define PROFD_CORE_FIXES_BPF_H

#include <bpf/bpf_core_read.h>

/* task_struct::state became __state (and unsigned int) in 5.14,
 * commit 2f064a59a11f ("sched: Change task_struct::state"). */
struct task_struct___pre514 {
	long state;
} __attribute__((preserve_access_index));

static __always_inline unsigned int task_state(struct task_struct *t)
{
	if (bpf_core_field_exists(t->__state))
		return BPF_CORE_READ(t, __state);
	return BPF_CORE_READ((struct task_struct___pre514 *)t, state);
}

/* pt_regs::cs was an unsigned long until 6.9 made it a u16 in a union with
 * the u64 csx, for FRED: the FRED series ("x86/ptrace: Cleanup the
 * definition of the pt_regs structure"). A CO-RE read of `cs` as 8 bytes is
 * refused by libbpf on one side of that change ("unexpected mem size") and
 * as 2 bytes by the verifier on a perf_event context, which only allows
 * whole-word reads of regs: so read the 8-byte member each layout has (csx
 * after, cs before) and keep the selector's low 16 bits. */
struct pt_regs___pre_fred {
	unsigned long cs;
} __attribute__((preserve_access_index));

static __always_inline __u64 regs_cs(struct pt_regs *regs)
{
	__u64 cs;

	/* verifier: each branch keeps its own load at a constant offset from
	 * the context (a load at a merged, computed offset is refused as a
	 * "modified ctx ptr"): the barriers stop the compiler merging them. */
	if (bpf_core_field_exists(regs->csx)) {
		cs = regs->csx;
		barrier_var(cs);
	} else {
		cs = ((struct pt_regs___pre_fred *)regs)->cs;
		barrier_var(cs);
	}
	return cs & 0xffff;
}

#endif
