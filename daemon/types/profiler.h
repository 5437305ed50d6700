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

/* How user stacks are walked. */
enum profiler_unwind {
	PROFILER_UNWIND_AUTO = 0, /* .eh_frame walker when the kernel has what it
				   * needs (5.17+), else frame pointers */
	PROFILER_UNWIND_FP,	  /* frame pointers only (the kernel's walk) */
	PROFILER_UNWIND_DWARF,	  /* .eh_frame walker; fails if unavailable */
};

struct profiler_opts {
	const pid_t *pids;          /* wanted processes; npids 0 = every process */
	size_t npids;
	uint64_t frequency;         /* cpu: Hz */
	uint64_t heap_sample_rate;  /* heap/allocs: mean bytes between samples */
	uint64_t min_block_ns;      /* block: shortest off-CPU time recorded */
	enum profiler_unwind unwind; /* user stack walk */
	uint64_t unwind_max_bytes;  /* kernel memory for unwind tables (0: 64 MiB) */
};

struct profiler;

/* One number a profile type reports for /metrics (see profiler_type.stats). */
enum profiler_stat_kind {
	PROFILER_STAT_SAMPLES,  /* counter: samples collected (name unused) */
	PROFILER_STAT_DROPPED,  /* counter: samples lost; name says why */
	PROFILER_STAT_MAP,      /* gauge: BPF map name; value = entries at the last
				 * drain, max = capacity */
};

struct profiler_stat {
	enum profiler_stat_kind kind;
	const char *name;       /* static string, snake_case */
	uint64_t value;
	uint64_t max;
};

#define PROFILER_MAX_STATS 16

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
	/* Optional: called every second (the drain tick) for snapshot types,
	 * which drain only at the end: housekeeping such as loading the
	 * unwind tables of libraries opened since. */
	void (*tick)(struct profiler *pr);
	/* Optional (NULL: nothing to report): fill up to max counters, totals
	 * since start, and return how many. Called by the draining thread. */
	size_t (*stats)(struct profiler *pr, struct profiler_stat *out, size_t max);
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
	/* During profiler__sink_named(): the process name that came with the
	 * sample (16 bytes, NUL-terminated or not); NULL otherwise. */
	const char *sink_comm;
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

/* profiler__sink() for types whose samples carry the process name (comm16,
 * the kernel's 16 bytes): a continuous run names a process by it when the
 * process exited before /proc/PID/comm could be read. */
static inline struct pprof *profiler__sink_named(struct profiler *pr, pid_t pid,
						 const char *comm16)
{
	struct pprof *p;

	pr->sink_comm = comm16;
	p = pr->sink(pr->sink_ctx, pr, pid);
	pr->sink_comm = NULL;
	return p;
}

extern const struct profiler_type profiler_cpu;
extern const struct profiler_type profiler_heap;
extern const struct profiler_type profiler_allocs;
extern const struct profiler_type profiler_mutex;
extern const struct profiler_type profiler_block;
extern const struct profiler_type profiler_threadcreate;

#endif
