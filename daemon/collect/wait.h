/* SPDX-License-Identifier: Apache-2.0 */
/* wait collector: loads wait.bpf.c for one kind of event (mutex waits,
 * off-CPU intervals, thread creations), attaches its raw tracepoints and
 * drains the (thread, stacks) → (count, delay) maps on demand. User stacks
 * come from the shared .eh_frame walker when one is given, else from the
 * gap walk, whose learned rules it installs (include/profd/wait.h). */
#ifndef PROFD_COLLECT_WAIT_H
#define PROFD_COLLECT_WAIT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "profd/wait.h"
#include "profd/walker.h"

struct wait_collector;
struct unwinder;

struct wait_opts {
	uint32_t kind;          /* PROFD_WAIT_KIND_* */
	const pid_t *pids;      /* wanted tgids; NULL/0 = every process */
	size_t npids;
	uint64_t min_block_ns;  /* block: shorter intervals are not counted */
	uint32_t max_stacks;    /* user stacks held (0 = default) */
	uint32_t max_keys;      /* count map entries per generation (0 = default) */
	uint32_t max_inflight;  /* events in progress at once (0 = default) */
	/* User stacks by the .eh_frame walker (borrowed, must outlive the
	 * collector); NULL: the gap walk (add_rule, exemplars). */
	struct unwinder *unw;
};

/* One drained aggregate. A stack pointer is NULL when the event has none
 * (kernel stack of mutex/threadcreate) or it was evicted before the drain;
 * exemplar is set only for a user stack with a miss whose window was kept.
 * Everything is valid during the callback only. */
struct wait_sample {
	const struct profd_wait_key *key;
	uint64_t count;
	uint64_t delay_ns;
	const struct profd_wait_stack *ustack;
	const struct profd_wait_exemplar *exemplar;
	const struct profd_wait_stack *kstack;
};

typedef void (*wait_sample_fn)(const struct wait_sample *s, void *ctx);

struct wait_stats {
	uint64_t metrics[PROFD_WAIT_METRIC_MAX];
	uint64_t ustacks_gone;   /* user stack evicted before it was read */
	uint64_t kstacks_gone;
	uint64_t rules_added;
	uint64_t rules_failed;
	uint64_t unw[PROFD_UNW_M_MAX]; /* walker counters (0 without the walker) */
};

/* Open, configure and load the BPF object. NULL with errno on failure. */
struct wait_collector *wait_collector__new(const struct wait_opts *opts);
/* Attach the kind's tracepoints; from now on events are counted. */
int wait_collector__start(struct wait_collector *c);
/* Detach; a following drain still returns what was counted. Events in
 * progress (threads still blocked) are not counted. */
void wait_collector__stop(struct wait_collector *c);
/* Switch generations and hand every aggregate of the finished one to fn,
 * then clear it. Returns the number of aggregates or -errno. */
int wait_collector__drain(struct wait_collector *c, wait_sample_fn fn, void *ctx);
/* Install a learned unwind rule (gap walk); 0 or -errno. */
int wait_collector__add_rule(struct wait_collector *c, const struct profd_wait_rule_key *key,
			     const struct profd_wait_rule *rule);
void wait_collector__stats(const struct wait_collector *c, struct wait_stats *st);
void wait_collector__free(struct wait_collector *c);

#endif
