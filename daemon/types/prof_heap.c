// SPDX-License-Identifier: Apache-2.0
/* prof_heap: the `heap` and `allocs` profile types. Sampled allocations
 * from heap.bpf.c, in Go's heap profile conventions: alloc_objects/count,
 * alloc_space/bytes, inuse_objects/count, inuse_space/bytes, period type
 * space/bytes with the sampling rate as period, values unsampled the way
 * Go scales its heap samples. `heap` shows inuse_space by default, `allocs`
 * alloc_space. Only allocations made after profd attached are seen. Stacks
 * of sampled calls by the .eh_frame walker when it is available (the
 * process's shared unwinder), else by frame pointers. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "collect/heap.h"
#include "collect/probe.h"
#include "types/collector.h"
#include "aggregate/frames.h"
#include "util/log.h"
#include "util/phase.h"
#include "pprof/pprof.h"
#include "types/profiler.h"
#include "profd/python.h"
#include "unwind/unwinder.h"

struct prof_heap {
	struct heap_collector *col;
	struct unwinder *unw;   /* NULL: frame-pointer stacks */
	uint64_t samples;       /* keys added */
	uint64_t errors;
	struct frames_stats fst;
};

static int64_t heap_period(const struct profiler_opts *o)
{
	return (int64_t)o->heap_sample_rate;
}

static void *heap_open(void *arg, struct unwinder *unw)
{
	struct heap_opts *opts = arg;

	opts->unw = unw;
	return heap_collector__new(opts);
}

static int heap_start(struct profiler *pr)
{
	struct heap_opts opts = { .sample_rate = pr->opts.heap_sample_rate,
				  .pymalloc = (int)pr->opts.python_allocator };
	struct prof_heap *ph;
	char msg[512];
	int err;

	ph = calloc(1, sizeof(*ph));
	if (!ph)
		return -ENOMEM;
	pr->priv = ph;
	ph->col = collector__open(pr, "the heap BPF program", heap_open, &opts, &ph->unw, &err);
	if (!ph->col)
		return err;
	for (size_t i = 0; i < pr->opts.npids; i++) {
		err = heap_collector__attach_pid(ph->col, pr->opts.pids[i], msg, sizeof(msg));
		if (err) {
			log_err("%s", msg);
			return err;
		}
	}
	phase_mark("heap: attach allocator uprobes");
	return 0;
}

/* Go's unsampling (runtime/pprof scaleHeapSample): a sample stands for
 * 1/(1-exp(-avg/rate)) allocations of its average size. */
static void scale(uint64_t count, uint64_t bytes, uint64_t rate, int64_t *c, int64_t *b)
{
	double avg, s;

	if (!count || !bytes) {
		*c = 0;
		*b = 0;
		return;
	}
	if (rate <= 1) {
		*c = count;
		*b = bytes;
		return;
	}
	avg = (double)bytes / count;
	s = 1 / (1 - exp(-avg / rate));
	*c = (int64_t)(count * s);
	*b = (int64_t)(bytes * s);
}

/* pymalloc's arenas are counted in heap_add under this leaf frame. */
#define PY_ARENA_FRAME "Python pymalloc arena"

_Static_assert((int)PROFILER_PYALLOC_OFF == HEAP_PYMALLOC_OFF &&
		       (int)PROFILER_PYALLOC_AUTO == HEAP_PYMALLOC_AUTO &&
		       (int)PROFILER_PYALLOC_CALLS == HEAP_PYMALLOC_CALLS &&
		       (int)PROFILER_PYALLOC_ARENAS == HEAP_PYMALLOC_ARENAS,
	       "python_allocator values");

/* A pymalloc arena: its frame leafward of the stack that made pymalloc map
 * it (the interpreter's own arena functions are unnamed in Debian's
 * python3.11). 0 or -ENOMEM. */
static int add_arena_frame(struct pprof *p, uint64_t *locs, int *n)
{
	struct pprof_line line = {
		.function_id = pprof__function(p, PY_ARENA_FRAME, "new_arena", NULL, 0),
	};
	uint64_t loc;

	if (!line.function_id)
		return -ENOMEM;
	loc = pprof__location(p, 0, PROFD_PY_MARK_ARENA, &line, 1);
	if (!loc)
		return -ENOMEM;
	memmove(locs + 1, locs, *n * sizeof(*locs));
	locs[0] = loc;
	(*n)++;
	return 0;
}

static void heap_add(const struct heap_sample *s, void *ctx)
{
	struct profiler *pr = ctx;
	struct prof_heap *ph = pr->priv;
	uint64_t locs[PROFD_MAX_STACK_DEPTH + 1];
	const struct profd_heap_counts *k = &s->counts;
	uint64_t inuse_n = k->alloc_count > k->free_count ? k->alloc_count - k->free_count : 0;
	uint64_t inuse_b = k->alloc_bytes > k->free_bytes ? k->alloc_bytes - k->free_bytes : 0;
	uint64_t rate = pr->opts.heap_sample_rate;
	char comm[PROFD_COMM_LEN + 1];
	int64_t v[4];
	struct pprof *p;
	int n;

	p = profiler__sink_named(pr, s->key->pid, s->key->comm);
	if (!p) {
		pr->sink_drops++;
		return;
	}
	scale(k->alloc_count, k->alloc_bytes, rate, &v[0], &v[1]);
	scale(inuse_n, inuse_b, rate, &v[2], &v[3]);
	memcpy(comm, s->key->comm, PROFD_COMM_LEN);
	comm[PROFD_COMM_LEN] = '\0';
	struct pprof_label labels[] = {
		{ .key = "bytes", .num = (int64_t)(k->alloc_bytes / (k->alloc_count ? k->alloc_count : 1)) },
		{ .key = "pid", .num = s->key->pid },
		{ .key = "comm", .str = comm[0] ? comm : "?" },
	};
	/* Every frame is a return address: the allocator's caller first. */
	n = frames__locations(p, pr->sym, s->key->pid, NULL, 0, s->frames, s->nframes,
			      FRAMES_LEAF_RETURN, locs, PROFD_MAX_STACK_DEPTH, &ph->fst);
	if (n >= 0 && (s->key->flags & PROFD_HEAP_KEY_PY_ARENA) && add_arena_frame(p, locs, &n))
		n = -1;
	if (n < 0 || pprof__add_sample(p, locs, n, v, labels, 3)) {
		ph->errors++;
		return;
	}
	ph->samples++;
}

/* Libraries loaded since: their next sampled calls unwind. */
static void heap_tick(struct profiler *pr)
{
	struct prof_heap *ph = pr->priv;

	if (ph && ph->unw)
		unwinder__poll(ph->unw);
}

static int heap_drain(struct profiler *pr)
{
	struct prof_heap *ph = pr->priv;

	heap_tick(pr);
	return heap_collector__snapshot(ph->col, heap_add, pr);
}

static void heap_stop(struct profiler *pr)
{
	struct prof_heap *ph = pr->priv;

	heap_collector__detach(ph->col);
}

static void heap_summary(struct profiler *pr)
{
	struct prof_heap *ph = pr->priv;
	struct heap_stats st;

	heap_collector__stats(ph->col, &st);
	log_info("%llu allocator calls, %llu sampled (rate %llu B), %llu frees of sampled blocks "
		 "(%llu of them unseen, found when the address was allocated again); "
		 "%llu/%llu probes at emulated instructions; %llu allocator-internal calls ignored; "
		 "%llu returns probed (by %s)",
		 (unsigned long long)st.metrics[PROFD_HEAP_CALLS],
		 (unsigned long long)st.metrics[PROFD_HEAP_SAMPLED],
		 (unsigned long long)pr->opts.heap_sample_rate,
		 (unsigned long long)st.metrics[PROFD_HEAP_FREES_MATCHED],
		 (unsigned long long)st.metrics[PROFD_HEAP_FREES_UNSEEN],
		 (unsigned long long)st.emulated, (unsigned long long)st.probes,
		 (unsigned long long)st.metrics[PROFD_HEAP_INTERNAL],
		 (unsigned long long)st.metrics[PROFD_HEAP_RETURNS], st.probe_kind);
	log_info("lost: %llu live-map full, %llu counts-map full, %llu stack-map full, "
		 "%llu stacks unreadable, %llu unmatched returns, %llu stacks missing, %llu not encoded; "
		 "%llu failed allocations",
		 (unsigned long long)st.metrics[PROFD_HEAP_LIVE_FULL],
		 (unsigned long long)st.metrics[PROFD_HEAP_COUNTS_FULL],
		 (unsigned long long)st.metrics[PROFD_HEAP_STACKS_FULL],
		 (unsigned long long)st.metrics[PROFD_HEAP_STACK_LOST],
		 (unsigned long long)st.metrics[PROFD_HEAP_PENDING_LOST],
		 (unsigned long long)st.stacks_missing,
		 (unsigned long long)(ph->errors + pr->sink_drops),
		 (unsigned long long)st.metrics[PROFD_HEAP_FAILED_ALLOCS]);
	if (ph->unw) {
		log_info("%llu walks missed the allocator's caller: frame-pointer stacks instead",
			 (unsigned long long)st.walk_mismatch);
		unwinder__log_summary(ph->unw, st.unw);
	} else {
		unwinder__log_fallback(&pr->opts, pr->type->name);
	}
}

static size_t heap_stats(struct profiler *pr, struct profiler_stat *out, size_t max)
{
	struct prof_heap *ph = pr->priv;
	struct heap_stats st;
	size_t n = 0;

	if (!ph || !ph->col)
		return 0;
	heap_collector__stats(ph->col, &st);
	const struct profiler_stat all[] = {
		{ PROFILER_STAT_SAMPLES, "", st.metrics[PROFD_HEAP_SAMPLED], 0 },
		{ PROFILER_STAT_DROPPED, "live_map_full", st.metrics[PROFD_HEAP_LIVE_FULL], 0 },
		{ PROFILER_STAT_DROPPED, "counts_map_full", st.metrics[PROFD_HEAP_COUNTS_FULL], 0 },
		{ PROFILER_STAT_DROPPED, "stack_map_full", st.metrics[PROFD_HEAP_STACKS_FULL], 0 },
		{ PROFILER_STAT_DROPPED, "stack_lost", st.metrics[PROFD_HEAP_STACK_LOST], 0 },
		{ PROFILER_STAT_DROPPED, "unmatched_return", st.metrics[PROFD_HEAP_PENDING_LOST], 0 },
		{ PROFILER_STAT_DROPPED, "stack_missing", st.stacks_missing, 0 },
		{ PROFILER_STAT_DROPPED, "not_encoded", ph->errors, 0 },
	};
	for (; n < max && n < sizeof(all) / sizeof(all[0]); n++)
		out[n] = all[n];
	return n;
}

static void heap_free(struct profiler *pr)
{
	struct prof_heap *ph = pr->priv;

	if (!ph)
		return;
	heap_collector__free(ph->col);
	unwinder__put(ph->unw);
	free(ph);
	pr->priv = NULL;
}

static const struct profiler_ops heap_ops = {
	.start = heap_start,
	.drain = heap_drain,
	.tick = heap_tick,
	.stop = heap_stop,
	.summary = heap_summary,
	.free = heap_free,
	.stats = heap_stats,
};

#define HEAP_SAMPLE_TYPES                                                                  \
	{ { "alloc_objects", "count" }, { "alloc_space", "bytes" }, { "inuse_objects", "count" }, \
	  { "inuse_space", "bytes" } }

/* Probes attach to one process: not host-wide. Pyroscope: __delta__=false
 * (the v1 ingester would otherwise difference the memory series). */
const struct profiler_type profiler_heap = {
	.name = "heap",
	.description = "live sampled allocations, inuse_space by default (Go's heap profile)",
	.kind = PROFILER_CUMULATIVE,
	.probe_group = "allocator",
	.options = PROFILER_OPT(PROFILER_OPT_HEAP_SAMPLE_RATE) | PROFILER_OPT(PROFILER_OPT_PYTHON_ALLOCATOR) |
		   PROFILER_OPTS_UNWIND,
	.sample_types = HEAP_SAMPLE_TYPES,
	.default_sample = NULL, /* Go: unset, the last type (inuse_space) */
	.period_type = { "space", "bytes" },
	.period = heap_period,
	.http = { "heap", 0, "memory in use, sampled" },
	.pyroscope = { "memory", true },
	.ops = &heap_ops,
};

const struct profiler_type profiler_allocs = {
	.name = "allocs",
	.description = "sampled allocations, alloc_space by default (Go's allocs profile)",
	.kind = PROFILER_CUMULATIVE,
	.probe_group = "allocator",
	.options = PROFILER_OPT(PROFILER_OPT_HEAP_SAMPLE_RATE) | PROFILER_OPT(PROFILER_OPT_PYTHON_ALLOCATOR) |
		   PROFILER_OPTS_UNWIND,
	.sample_types = HEAP_SAMPLE_TYPES,
	.default_sample = "alloc_space",
	.period_type = { "space", "bytes" },
	.period = heap_period,
	.http = { "allocs", 0, "memory allocations, sampled" },
	.pyroscope = { "memory", true },
	.ops = &heap_ops,
};
