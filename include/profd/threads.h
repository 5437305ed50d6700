/* SPDX-License-Identifier: Apache-2.0 */
/* threads.h: the contract between bpf/threads.bpf.c and
 * daemon/collect/threads.c: one record per thread, written by a task
 * iterator with bpf_seq_write() and read back in one read() loop.
 * Fixed-width types only, sizes asserted. */
#ifndef PROFD_THREADS_H
#define PROFD_THREADS_H

#ifndef __bpf__
#include <linux/types.h>
#endif

#include "profd/abi.h"

/* Kernel frames kept per thread (the scheduler, the syscall, its entry). */
#define PROFD_THREADS_KSTACK 48

/* profd_thread_rec.flags */
#define PROFD_THR_KTHREAD 0x1    /* kernel thread: no user registers */
#define PROFD_THR_ON_CPU 0x2     /* running on a CPU at the visit */
#define PROFD_THR_REGS 0x4       /* ip/sp/bp/orig_ax/args are the saved user registers */
#define PROFD_THR_SCHED_INFO 0x8 /* last_arrival is valid (CONFIG_SCHED_INFO) */

struct profd_thread_rec {
	__u32 tid;                  /* in the reader's pid namespace */
	__u32 tgid;
	__u32 state;                /* task->__state (or state before 5.14) */
	__u32 exit_state;
	__u32 flags;                /* PROFD_THR_* */
	__u32 nkstack;              /* kernel frames in kstack */
	__u64 now_ns;               /* bpf_ktime_get_ns() at the visit */
	__u64 last_arrival;         /* sched_info.last_arrival: last switch-in (rq clock) */
	__u64 sum_exec_ns;          /* se.sum_exec_runtime */
	__u64 nvcsw;
	__u64 nivcsw;
	/* Saved user registers (bpf_task_pt_regs, 5.15+): the state at the
	 * thread's last kernel entry. */
	__u64 ip, sp, bp;
	__u64 orig_ax;              /* syscall number, -1 when not in a syscall */
	__u64 args[6];              /* di, si, dx, r10, r8, r9 */
	__u64 fsbase;               /* thread pointer (glibc's struct pthread), with the registers */
	char comm[PROFD_COMM_LEN];  /* thread name */
	char pcomm[PROFD_COMM_LEN]; /* process name (group leader's comm) */
	__u64 kstack[PROFD_THREADS_KSTACK];
};
_Static_assert(sizeof(struct profd_thread_rec) == 184 + 8 * PROFD_THREADS_KSTACK,
	       "profd_thread_rec layout");

#endif
