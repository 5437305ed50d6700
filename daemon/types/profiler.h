/* SPDX-License-Identifier: Apache-2.0 */
/* profiler: the registry of profile types. One entry (struct profiler_type,
 * defined in the type's own types/prof_NAME.c) says everything about a type:
 * its names, what its profiles hold, whether it runs host-wide, how it is
 * run (delta, cumulative, instant), the options it reads and their limits,
 * its HTTP endpoint and Pyroscope name, and the operations that run its
 * collector. The CLI (main.c), the INI file (agent/config.c), HTTP and the
 * exporters read the registry; none of them names a type.
 *
 * A run (run/run.h) creates a profiler of one type, starts it, drains it on
 * a tick and once more after stop(). drain() hands each sample to the
 * builder that profiler__sink() returns for its process: one builder for a
 * one-shot profile, one per process in continuous mode. */
#ifndef PROFD_PROFILER_H
#define PROFD_PROFILER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
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

/* The settings of a run; each is an option of the table below. */
struct profiler_opts {
	const pid_t *pids;          /* wanted processes; npids 0 = every process */
	size_t npids;
	uint64_t frequency;         /* cpu: Hz */
	uint64_t heap_sample_rate;  /* heap/allocs: mean bytes between samples */
	uint64_t python_allocator;  /* heap/allocs: PROFILER_PYALLOC_* */
	uint64_t min_block_ns;      /* block: shortest off-CPU time recorded */
	enum profiler_unwind unwind; /* user stack walk */
	uint64_t unwind_max_bytes;  /* kernel memory for unwind tables */
	uint64_t format;            /* a type with a text op: PROFILER_FORMAT_* */
};

/* How heap/allocs probe CPython's pymalloc (--python-allocator; the values
 * of collect/heap.h's enum heap_pymalloc). */
enum profiler_pyalloc {
	PROFILER_PYALLOC_OFF = 0,
	PROFILER_PYALLOC_AUTO = 1,
	PROFILER_PYALLOC_CALLS = 2,
	PROFILER_PYALLOC_ARENAS = 3,
};

/* How a one-shot run writes its profile (--format): pprof, or the text
 * forms of a type with a text op (Go's ?debug=1 and ?debug=2). */
enum profiler_format {
	PROFILER_FORMAT_PPROF = 0,
	PROFILER_FORMAT_TEXT = 1,   /* aggregated: count, then the stack */
	PROFILER_FORMAT_DUMP = 2,   /* every item, one block each */
};

/* The options: one row each, the same parser and limits for `--NAME VALUE`
 * and for `[section] key = VALUE`. */
enum profiler_option_id {
	PROFILER_OPT_FREQUENCY,
	PROFILER_OPT_HEAP_SAMPLE_RATE,
	PROFILER_OPT_PYTHON_ALLOCATOR,
	PROFILER_OPT_MIN_BLOCK,
	PROFILER_OPT_UNWIND,
	PROFILER_OPT_UNWIND_MAX_MEMORY,
	PROFILER_OPT_FORMAT,
	PROFILER_NOPTS,
};
#define PROFILER_OPT(id) (1u << (id))
/* Options every type that walks user stacks reads. */
#define PROFILER_OPTS_UNWIND (PROFILER_OPT(PROFILER_OPT_UNWIND) | PROFILER_OPT(PROFILER_OPT_UNWIND_MAX_MEMORY))

enum profiler_value {
	PROFILER_V_COUNT,       /* a plain number in [min, max] */
	PROFILER_V_SIZE,        /* bytes, with suffixes (64k, 100MiB), in [min, max] */
	PROFILER_V_DURATION0,   /* a duration (1ms), or "0"/"off" */
	PROFILER_V_UNWIND,      /* auto, fp or dwarf */
	PROFILER_V_FORMAT,      /* pprof, text or dump (enum profiler_format) */
	PROFILER_V_PYALLOC,     /* auto, calls, arenas or off (enum profiler_pyalloc) */
};

struct profiler_option {
	enum profiler_option_id id;
	const char *cli;        /* --cli VALUE */
	int short_opt;          /* -X VALUE, or 0 */
	const char *section;    /* [section] key = VALUE; NULL: a one-shot option
				 * (no INI key, refused with --config) */
	const char *key;
	enum profiler_value kind;
	uint64_t min, max;
	uint64_t dflt;
	size_t off;             /* the field in struct profiler_opts */
	const char *help;       /* one line for --help */
};

#define PROFILER_ERR_LEN 160

/* Iterate: NULL past the end. */
const struct profiler_option *profiler_option_at(size_t i);
const struct profiler_option *profiler_option_cli(const char *cli);
const struct profiler_option *profiler_option_key(const char *section, const char *key);
/* True when some option lives in [section]. */
bool profiler_option_section(const char *section);
/* Parse v for opt, check its limits and store it in o. 0, or -EINVAL with
 * the reason in err ("0 out of range [1, 10000]"), without naming the
 * option: the caller says where it came from. */
int profiler_option_set(struct profiler_opts *o, const struct profiler_option *opt, const char *v,
			char *err, size_t errlen);
/* Whether a and b agree on every option (pids not compared). */
bool profiler_opts_equal(const struct profiler_opts *a, const struct profiler_opts *b);
/* Every option's default (pids untouched). */
void profiler_opts_defaults(struct profiler_opts *o);

struct profiler;

/* One number a profile type reports for /metrics (see profiler_ops.stats). */
enum profiler_stat_kind {
	PROFILER_STAT_SAMPLES,  /* counter: samples collected (name unused) */
	PROFILER_STAT_DROPPED,  /* counter: samples lost; name says why */
	PROFILER_STAT_MAP,      /* gauge: BPF map name; value = entries at the last
				 * drain, max = capacity */
	PROFILER_STAT_GAUGE,    /* gauge of the type's own: /metrics has it as
				 * profd_<type>_<name>, help its HELP line */
	PROFILER_STAT_COUNTER,  /* counter of the type's own, likewise (name
				 * ends in _total) */
};

struct profiler_stat {
	enum profiler_stat_kind kind;
	const char *name;       /* static string, snake_case */
	uint64_t value;
	uint64_t max;
	const char *help;       /* GAUGE, COUNTER: one line for # HELP */
};

#define PROFILER_MAX_STATS 16

/* How a run reads a type. */
enum profiler_kind {
	/* drain() returns what came since the last drain (cpu, mutex, ...):
	 * drained every tick; a profile covers its interval. */
	PROFILER_DELTA,
	/* drain() returns everything since start (heap): drained once, at the
	 * end; tick() does housekeeping meanwhile. */
	PROFILER_CUMULATIVE,
	/* No duration: started, drained once and written at once (a snapshot
	 * of the state of the processes). */
	PROFILER_INSTANT,
};

/* The collector operations of a type. */
struct profiler_ops {
	/* Load and attach; fill pr->priv. 0 or -errno (message already logged). */
	int (*start)(struct profiler *pr);
	/* Hand what was collected to the sinks (see enum profiler_kind).
	 * Returns the number of samples or -errno. */
	int (*drain)(struct profiler *pr);
	/* Stop collecting; a following drain returns what remains. */
	void (*stop)(struct profiler *pr);
	/* Log what was lost and why (stderr summary). */
	void (*summary)(struct profiler *pr);
	void (*free)(struct profiler *pr);
	/* Optional: called every tick (1 s) by runs of a cumulative type,
	 * which drain only at the end: housekeeping such as loading the
	 * unwind tables of libraries opened since. */
	void (*tick)(struct profiler *pr);
	/* Optional: fill up to max counters, totals since start, and return
	 * how many. Called by the draining thread. The run adds the samples
	 * with no builder ("no_builder") itself. */
	size_t (*stats)(struct profiler *pr, struct profiler_stat *out, size_t max);
	/* Optional: a comment for the profile's header (written to buf). */
	void (*comment)(struct profiler *pr, char *buf, size_t size);
	/* Optional: write what the last drain collected as text, form
	 * PROFILER_FORMAT_TEXT or _DUMP (Go's ?debug=1 and ?debug=2). A type
	 * with it accepts --format (one-shot) and ?debug=1|2 (HTTP). 0 or
	 * -errno. */
	int (*text)(struct profiler *pr, FILE *f, int form);
};

struct profiler_sample_type {
	const char *type;
	const char *unit;
};

#define PROFILER_MAX_SAMPLE_TYPES 4

struct profiler_type {
	const char *name;               /* --type, [profd] types, file names */
	const char *aliases[3];         /* other names accepted for it, NULL-ended */
	const char *description;        /* one line for --help */
	enum profiler_kind kind;
	/* Runs over every process (no pid): false for types whose probes
	 * attach to one process each (heap, allocs: --pid needed, one run per
	 * target in continuous mode). */
	bool host_wide;
	/* Types of one probe group cannot run on one process at once (two
	 * allocator probes on a process both see nothing); NULL: none. */
	const char *probe_group;
	/* Its drains read no names themselves (only through
	 * frames__locations): a one-shot run may name its kernel frames and
	 * read its user frames' lines at the end (symbolizer__kernel_defer,
	 * symbolizer__user_defer). */
	bool names_late;
	uint32_t options;               /* PROFILER_OPT() bits it reads */
	/* The profile's header, in Go's conventions. */
	struct profiler_sample_type sample_types[PROFILER_MAX_SAMPLE_TYPES];
	const char *default_sample;     /* NULL: the last sample type (Go's default) */
	struct profiler_sample_type period_type;
	/* The period from the run's options; NULL: 1. */
	int64_t (*period)(const struct profiler_opts *o);
	/* /debug/pprof/<path>; default_seconds: a request without ?seconds=
	 * (0: the agent's short default); a type with a non-zero default
	 * refuses seconds=0. host_wide: a request may leave out ?pid= (the
	 * whole host on demand: the CPU profile only). alias: a second path
	 * (Go's name for it), or NULL. */
	struct {
		const char *path;
		uint64_t default_seconds;
		const char *what;
		bool host_wide;
		const char *alias;
	} http;
	/* Pyroscope: the __name__ of its series; delta_false: send
	 * __delta__=false (the v1 ingester would difference the series). */
	struct {
		const char *name;
		bool delta_false;
	} pyroscope;
	const struct profiler_ops *ops;
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

/* The registry. Types are numbered by their place (for bit sets and
 * arrays of at most PROFILER_MAX_TYPES). */
#define PROFILER_MAX_TYPES 16
size_t profiler_type_count(void);
/* Iterate: NULL past the end. */
const struct profiler_type *profiler_type_at(size_t i);
/* By name or alias; NULL if unknown. */
const struct profiler_type *profiler_type_find(const char *name);
/* The same over list[0..n) (the registry's lookup rule, for tests). */
const struct profiler_type *profiler_type_find_in(const struct profiler_type *const *list, size_t n,
						  const char *name);
/* By HTTP path or path alias; NULL if unknown. */
const struct profiler_type *profiler_type_http(const char *path);
/* The place of t in the registry, or -1. */
int profiler_type_index(const struct profiler_type *t);
/* "cpu, heap, ..." for messages: a constant string. */
const char *profiler_type_names(void);

/* Write the header of a new profile of pr's type: sample types, default,
 * period, comment. 0 or -errno. */
int profiler_init_profile(struct profiler *pr, struct pprof *p);

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

#endif
