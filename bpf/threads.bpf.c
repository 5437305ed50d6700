// SPDX-License-Identifier: GPL-2.0
/* threads.bpf.c: a snapshot of every thread, for the `threads` profile
 * (daemon/collect/threads.c). A task iterator: the program runs once per
 * thread while the agent read()s the iterator's fd; each visit writes one
 * struct profd_thread_rec with bpf_seq_write(). Nothing is stopped: the
 * iterator holds RCU and a reference on one task at a time.
 *
 * Per thread: state, scheduler times, the kernel stack (the context saved at
 * its last switch-out; nothing for a thread running on another CPU), and
 * its saved user registers (the state at its last kernel entry), from which
 * the agent walks the user stack with the .eh_frame tables.
 *
 * Kernels: iter/task 5.8; the per-process walk (link_info pid) 6.1, before
 * that the agent walks every task and the program keeps want_tgid's;
 * bpf_get_task_stack 5.9 and bpf_task_pt_regs 5.15 are used where the
 * kernel has them (helper calls behind bpf_core_enum_value_exists are
 * pruned by the verifier elsewhere). pt_regs fields read here (ip, sp, bp,
 * orig_ax, di, si, dx, r10, r8, r9) are unsigned long on every kernel; cs,
 * whose size changed, is not read. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>

#include "profd/threads.h"
#include "core_fixes.bpf.h"

char LICENSE[] SEC("license") = "GPL";

#define PF_KTHREAD 0x00200000

/* Written by the agent before each walk: 0 = every process, else only this
 * tgid (for kernels without the iterator's pid parameter). */
__u32 want_tgid = 0;
/* Counters read by the agent: records written, records the seq buffer
 * refused (the reader restarts), threads skipped by the filter. */
__u64 nr_written = 0;
__u64 nr_overflow = 0;

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct profd_thread_rec);
} scratch SEC(".maps");

/* sched_info.last_arrival needs CONFIG_SCHED_INFO. */
struct sched_info___x {
	unsigned long long last_arrival;
} __attribute__((preserve_access_index));

SEC("iter/task")
int threads_iter(struct bpf_iter__task *ctx)
{
	struct seq_file *seq = ctx->meta->seq;
	struct task_struct *task = ctx->task;
	struct profd_thread_rec *r;
	__u32 zero = 0, tgid;
	long n;

	if (!task)
		return 0;
	tgid = BPF_CORE_READ(task, tgid);
	if (want_tgid && tgid != want_tgid)
		return 0;
	r = bpf_map_lookup_elem(&scratch, &zero);
	if (!r)
		return 0;
	__builtin_memset(r, 0, sizeof(*r));
	r->tid = BPF_CORE_READ(task, pid);
	r->tgid = tgid;
	r->state = task_state(task);
	r->exit_state = BPF_CORE_READ(task, exit_state);
	r->now_ns = bpf_ktime_get_ns();
	if (BPF_CORE_READ(task, flags) & PF_KTHREAD)
		r->flags |= PROFD_THR_KTHREAD;
	if (bpf_core_field_exists(task->on_cpu) && BPF_CORE_READ(task, on_cpu))
		r->flags |= PROFD_THR_ON_CPU;
	if (bpf_core_field_exists(((struct sched_info___x *)0)->last_arrival)) {
		struct sched_info___x *si = (void *)&task->sched_info;

		r->last_arrival = BPF_CORE_READ(si, last_arrival);
		r->flags |= PROFD_THR_SCHED_INFO;
	}
	r->sum_exec_ns = BPF_CORE_READ(task, se.sum_exec_runtime);
	r->nvcsw = BPF_CORE_READ(task, nvcsw);
	r->nivcsw = BPF_CORE_READ(task, nivcsw);
	BPF_CORE_READ_STR_INTO(&r->comm, task, comm);
	BPF_CORE_READ_STR_INTO(&r->pcomm, task, group_leader, comm);

	if (bpf_core_enum_value_exists(enum bpf_func_id, BPF_FUNC_get_task_stack)) {
		n = bpf_get_task_stack(task, r->kstack, sizeof(r->kstack), 0);
		if (n > 0)
			r->nkstack = n / sizeof(__u64);
	}
	if (!(r->flags & PROFD_THR_KTHREAD) &&
	    bpf_core_enum_value_exists(enum bpf_func_id, BPF_FUNC_task_pt_regs)) {
		struct pt_regs *regs = (struct pt_regs *)bpf_task_pt_regs(task);

		if (regs) {
			r->ip = BPF_CORE_READ(regs, ip);
			r->sp = BPF_CORE_READ(regs, sp);
			r->bp = BPF_CORE_READ(regs, bp);
			r->orig_ax = BPF_CORE_READ(regs, orig_ax);
			r->args[0] = BPF_CORE_READ(regs, di);
			r->args[1] = BPF_CORE_READ(regs, si);
			r->args[2] = BPF_CORE_READ(regs, dx);
			r->args[3] = BPF_CORE_READ(regs, r10);
			r->args[4] = BPF_CORE_READ(regs, r8);
			r->args[5] = BPF_CORE_READ(regs, r9);
			r->fsbase = BPF_CORE_READ(task, thread.fsbase);
			r->flags |= PROFD_THR_REGS;
		}
	}
	if (bpf_seq_write(seq, r, sizeof(*r)))
		__sync_fetch_and_add(&nr_overflow, 1);
	else
		__sync_fetch_and_add(&nr_written, 1);
	return 0;
}
