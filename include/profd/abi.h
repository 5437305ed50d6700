/* SPDX-License-Identifier: Apache-2.0 */
/* abi.h: THE contract between bpf/ and daemon/: map keys and values, limits,
 * metric ids and load-time configuration. Fixed-width types only, explicit
 * padding, sizes asserted, so both compilers agree on every byte. */
#ifndef PROFD_ABI_H
#define PROFD_ABI_H

#ifndef __bpf__
#include <linux/types.h>
#endif

#define PROFD_COMM_LEN 16
/* Frames kept per stack: the kernel's default perf_event_max_stack. */
#define PROFD_MAX_STACK_DEPTH 127

/* Sentinels in profd_cpu_key.{user,kern}_stack_id besides ids >= 0. */
#define PROFD_STACK_NONE (-1)     /* no stack in this mode (kernel thread: no user stack) */
#define PROFD_STACK_LOST (-2)     /* capture failed; counted in a metric */

/* Aggregation key of the on-CPU sampler: one counter per distinct
 * (thread, user stack, kernel stack). */
struct profd_cpu_key {
	__u32 pid;                  /* tgid in the root pid namespace */
	__u32 tid;
	__s32 user_stack_id;        /* stack_traces id, or PROFD_STACK_* */
	__s32 kern_stack_id;
	char comm[PROFD_COMM_LEN];  /* thread name */
	char pcomm[PROFD_COMM_LEN]; /* process name (group leader's comm) */
};
_Static_assert(sizeof(struct profd_cpu_key) == 48, "profd_cpu_key layout");

/* Counters kept in the per-CPU `metrics` array of every BPF object; the
 * agent sums them over CPUs and reports them. */
enum profd_metric {
	PROFD_METRIC_SAMPLES = 0,       /* samples of wanted processes */
	PROFD_METRIC_IDLE,              /* samples in the idle task, not attributed */
	PROFD_METRIC_USTACK_LOST,       /* user stack could not be captured */
	PROFD_METRIC_KSTACK_LOST,       /* kernel stack could not be captured */
	PROFD_METRIC_STACK_COLLISION,   /* stack map bucket taken by another stack (map too small) */
	PROFD_METRIC_COUNTS_FULL,       /* aggregation map full: sample dropped */
	PROFD_METRIC_MAX,
};

/* Load-time knobs of cpu.bpf.c (.rodata: the verifier prunes what is off). */
struct profd_cpu_config {
	__u32 filter_pids;   /* 1: only tgids present in pid_filter */
	__u32 pad;
};

#endif
