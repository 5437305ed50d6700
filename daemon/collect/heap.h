/* SPDX-License-Identifier: Apache-2.0 */
/* heap collector: finds the allocator a process uses, attaches heap.bpf.c's
 * uprobes to it at instructions the kernel emulates, and reads cumulative
 * snapshots of sampled allocations. */
#ifndef PROFD_COLLECT_HEAP_H
#define PROFD_COLLECT_HEAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "profd/abi.h"
#include "profd/walker.h"

struct heap_collector;
struct unwinder;

/* How CPython's own allocator, pymalloc, is probed in Python processes
 * (python_allocator). */
enum heap_pymalloc {
	HEAP_PYMALLOC_OFF = 0,  /* not: its small objects are unseen */
	HEAP_PYMALLOC_AUTO,     /* CALLS where the binary names pymalloc's own
				 * functions (every request seen), else ARENAS */
	HEAP_PYMALLOC_CALLS,    /* each request, at pymalloc's functions (or the
				 * exported entry points where those are unnamed) */
	HEAP_PYMALLOC_ARENAS,   /* each 1 MiB arena it maps and unmaps */
};

struct heap_opts {
	uint64_t sample_rate;   /* mean bytes between samples; 1 = every call */
	int pymalloc;           /* enum heap_pymalloc: how CPython's pymalloc is probed */
	uint32_t max_live;      /* live sampled blocks tracked (0 = default) */
	uint32_t max_stacks;    /* distinct stacks (0 = default) */
	/* Stacks of sampled calls by the .eh_frame walker (borrowed, must
	 * outlive the collector); NULL: the caller at the stack pointer, then
	 * frame pointers. */
	struct unwinder *unw;
};

/* One key of a snapshot: cumulative counts and the stack (caller first). */
struct heap_sample {
	const struct profd_heap_key *key;
	struct profd_heap_counts counts;
	const uint64_t *frames;
	size_t nframes;
};

typedef void (*heap_sample_fn)(const struct heap_sample *s, void *ctx);

struct heap_stats {
	uint64_t metrics[PROFD_HEAP_METRIC_MAX];
	uint64_t stacks_missing;   /* key whose stack was not found */
	uint64_t probes;           /* uprobes attached */
	const char *probe_kind;    /* how: uprobe session, uprobe-multi links, one each */
	uint64_t emulated;         /* of which at an emulated instruction */
	uint64_t walk_mismatch;    /* walks that missed the caller: frame-pointer stack */
	uint64_t unw[PROFD_UNW_M_MAX]; /* walker counters (0 without the walker) */
};

struct heap_collector *heap_collector__new(const struct heap_opts *opts);
/* Attach to pid's allocator. On failure err names the process and what was
 * searched. Returns 0 or -errno. */
int heap_collector__attach_pid(struct heap_collector *c, pid_t pid, char *err, size_t errlen);
/* Hand every key's cumulative counts to fn. Returns the number of keys. */
int heap_collector__snapshot(struct heap_collector *c, heap_sample_fn fn, void *ctx);
void heap_collector__detach(struct heap_collector *c);
void heap_collector__stats(const struct heap_collector *c, struct heap_stats *st);
void heap_collector__free(struct heap_collector *c);

#endif
