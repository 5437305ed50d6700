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

#endif
