/* SPDX-License-Identifier: Apache-2.0 */
/* profiler: the interface every profile type implements (cpu, heap, ...),
 * and the sink through which drained samples reach a pprof builder.
 *
 * A run (one-shot or continuous) creates a profiler of one type, starts it,
 * calls drain() periodically and once more after stop(). drain() hands each
 * sample to the builder that profiler__sink() returns for its process: one
 * builder for a one-shot profile, one per process in continuous mode. */
#ifndef PROFD_PROFILER_H
#define PROFD_PROFILER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct pprof;
struct symbolizer;

struct profiler_opts {
	const pid_t *pids;          /* wanted processes; npids 0 = every process */
	size_t npids;
	uint64_t frequency;         /* cpu: Hz */
	uint64_t heap_sample_rate;  /* heap/allocs: mean bytes between samples */
	uint64_t min_block_ns;      /* block: shortest off-CPU time recorded */
};

struct profiler;

struct profiler_type {
	const char *name;         /* --type value */
	const char *description;  /* one line for --help */
	/* 1: drain() returns everything since start (a heap snapshot), so a
	 * one-shot run drains once, at the end; 0: drain() returns what came
	 * since the last drain (cpu). */
	int snapshot;
	/* 1: needs --pid (probes are attached per process). */
	int needs_pid;
	/* Load and attach; fill pr->priv. 0 or -errno (message already logged). */
	int (*start)(struct profiler *pr);
	/* Write the header of a new profile: sample types, period, default. */
	int (*init_profile)(struct profiler *pr, struct pprof *p);
	/* Hand what was collected since the last drain to the sinks. Returns
	 * the number of samples or -errno. */
	int (*drain)(struct profiler *pr);
	/* Stop collecting; a following drain returns what remains. */
	void (*stop)(struct profiler *pr);
	/* Log what was lost and why (stderr summary). */
	void (*summary)(struct profiler *pr);
	void (*free)(struct profiler *pr);
};

/* Where a drained sample of pid goes: NULL drops it (counted by caller). */
typedef struct pprof *(*profiler_sink_fn)(void *ctx, struct profiler *pr, pid_t pid);

struct profiler {
	const struct profiler_type *type;
	struct profiler_opts opts;
	struct symbolizer *sym;
	profiler_sink_fn sink;
	void *sink_ctx;
	void *priv;
	uint64_t sink_drops;   /* samples with no builder (ENOMEM, limits) */
};

const struct profiler_type *profiler_type_find(const char *name);
/* "cpu, heap, ..." for messages. */
const char *profiler_type_names(void);
/* Iterate: NULL past the end. */
const struct profiler_type *profiler_type_at(size_t i);

static inline struct pprof *profiler__sink(struct profiler *pr, pid_t pid)
{
	return pr->sink(pr->sink_ctx, pr, pid);
}

extern const struct profiler_type profiler_cpu;
extern const struct profiler_type profiler_heap;
extern const struct profiler_type profiler_allocs;
extern const struct profiler_type profiler_mutex;
extern const struct profiler_type profiler_block;
extern const struct profiler_type profiler_threadcreate;

#endif
