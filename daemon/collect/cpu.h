/* SPDX-License-Identifier: Apache-2.0 */
/* cpu collector: loads cpu.bpf.c, attaches it to per-CPU cpu-clock events
 * and drains the aggregated (thread, stacks) → count maps on demand. */
#ifndef PROFD_COLLECT_CPU_H
#define PROFD_COLLECT_CPU_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "profd/abi.h"
#include "profd/walker.h"

struct cpu_collector;
struct unwinder;

struct cpu_opts {
	uint64_t frequency;     /* Hz per CPU */
	const pid_t *pids;      /* wanted tgids; NULL/0 = every process */
	size_t npids;
	uint32_t max_stacks;    /* stack map buckets per generation (0 = default) */
	uint32_t max_keys;      /* count map entries per generation (0: sized for
				 * the samples of a drain interval) */
	/* User stacks by the .eh_frame walker (borrowed, must outlive the
	 * collector); NULL: frame pointers only (the kernel's bpf_get_stackid
	 * walk). */
	struct unwinder *unw;
};

/* One drained aggregate. Stacks are leaf first; n* is 0 when absent. */
struct cpu_sample {
	const struct profd_cpu_key *key;
	uint64_t count;
	const uint64_t *ustack;
	size_t nustack;
	const uint64_t *kstack;
	size_t nkstack;
};

typedef void (*cpu_sample_fn)(const struct cpu_sample *s, void *ctx);

/* Totals of the kernel-side counters plus the agent's own drain losses. */
struct cpu_stats {
	uint64_t metrics[PROFD_METRIC_MAX];
	uint64_t stack_lookup_lost;   /* stack id vanished before it was read */
	uint64_t unw[PROFD_UNW_M_MAX]; /* walker counters (0 without the walker) */
};

/* Open, configure and load the BPF object. NULL with errno on failure. */
struct cpu_collector *cpu_collector__new(const struct cpu_opts *opts);
/* Attach to every online CPU; from now on samples are counted. */
int cpu_collector__start(struct cpu_collector *c);
/* Stop sampling (detach); a following drain still returns what was counted. */
void cpu_collector__stop(struct cpu_collector *c);
/* Switch generations and hand every aggregate of the finished one to fn,
 * then clear it. Returns the number of aggregates or -errno. */
int cpu_collector__drain(struct cpu_collector *c, cpu_sample_fn fn, void *ctx);
void cpu_collector__stats(const struct cpu_collector *c, struct cpu_stats *st);
/* Entries of each generation's count map. */
uint32_t cpu_collector__capacity(const struct cpu_collector *c);
void cpu_collector__free(struct cpu_collector *c);

#endif
