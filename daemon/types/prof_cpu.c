// SPDX-License-Identifier: Apache-2.0
/* prof_cpu: the `cpu` profile type. On-CPU samples from cpu.bpf.c, in Go's
 * CPU profile conventions: samples/count and cpu/nanoseconds, period type
 * cpu/nanoseconds, period 1e9/frequency. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collect/cpu.h"
#include "collect/probe.h"
#include "types/collector.h"
#include "aggregate/frames.h"
#include "util/log.h"
#include "pprof/pprof.h"
#include "types/profiler.h"
#include "unwind/unwinder.h"

struct prof_cpu {
	struct cpu_collector *col;
	uint64_t last_drain;    /* aggregates in the last drained generation */
	struct unwinder *unw;   /* NULL: frame-pointer stacks */
	int64_t period_ns;
	uint64_t samples;
	uint64_t errors;        /* aggregates that could not be added */
	struct frames_stats fst;
};

static int64_t cpu_period(const struct profiler_opts *o)
{
	return 1000000000LL / (int64_t)o->frequency;
}

static void *cpu_open(void *arg, struct unwinder *unw)
{
	struct cpu_opts *opts = arg;

	opts->unw = unw;
	return cpu_collector__new(opts);
}

static int cpu_start(struct profiler *pr)
{
	struct prof_cpu *pc;
	struct cpu_opts opts = {
		.frequency = pr->opts.frequency,
		.pids = pr->opts.pids,
		.npids = pr->opts.npids,
	};
	int err;

	pc = calloc(1, sizeof(*pc));
	if (!pc)
		return -ENOMEM;
	pr->priv = pc;
	pc->period_ns = cpu_period(&pr->opts);
	pc->col = collector__open(pr, "the CPU sampler BPF program", cpu_open, &opts, &pc->unw, &err);
	if (!pc->col)
		return err;
	err = cpu_collector__start(pc->col);
	if (err)
		log_err("cannot attach to cpu-clock perf events: %s", probe_explain(err));
	return err;
}

static void cpu_add(const struct cpu_sample *s, void *ctx)
{
	struct profiler *pr = ctx;
	struct prof_cpu *pc = pr->priv;
	uint64_t locs[2 * PROFD_MAX_STACK_DEPTH];
	int64_t values[2] = { (int64_t)s->count, (int64_t)s->count * pc->period_ns };
	struct task_labels tl;
	struct pprof *p;
	int n;

	p = profiler__sink_named(pr, s->key->pid, s->key->pcomm);
	if (!p) {
		pr->sink_drops += s->count;
		return;
	}
	task_labels__fill(&tl, s->key->pid, s->key->tid, s->key->pcomm, s->key->comm);
	n = frames__locations(p, pr->sym, s->key->pid, s->kstack, s->nkstack, s->ustack,
			      s->nustack, FRAMES_LEAF_EXACT, locs, sizeof(locs) / sizeof(locs[0]),
			      &pc->fst);
	if (n < 0 || pprof__add_sample(p, locs, n, values, tl.l, 4)) {
		pc->errors += s->count;
		return;
	}
	pc->samples += s->count;
}

static int cpu_drain(struct profiler *pr)
{
	struct prof_cpu *pc = pr->priv;
	int n;

	/* New processes and libraries first: their next samples unwind. */
	if (pc->unw)
		unwinder__poll(pc->unw);
	n = cpu_collector__drain(pc->col, cpu_add, pr);
	if (n >= 0)
		pc->last_drain = n;
	return n;
}

static void cpu_stop(struct profiler *pr)
{
	struct prof_cpu *pc = pr->priv;

	cpu_collector__stop(pc->col);
}

static void cpu_summary(struct profiler *pr)
{
	struct prof_cpu *pc = pr->priv;
	struct cpu_stats st;

	cpu_collector__stats(pc->col, &st);
	log_info("%llu samples; lost: %llu user stacks, %llu kernel stacks, %llu stack-map "
		 "collisions, %llu map-full drops, %llu stacks gone before read, %llu not encoded; "
		 "%llu idle samples not attributed",
		 (unsigned long long)pc->samples,
		 (unsigned long long)st.metrics[PROFD_METRIC_USTACK_LOST],
		 (unsigned long long)st.metrics[PROFD_METRIC_KSTACK_LOST],
		 (unsigned long long)st.metrics[PROFD_METRIC_STACK_COLLISION],
		 (unsigned long long)st.metrics[PROFD_METRIC_COUNTS_FULL],
		 (unsigned long long)st.stack_lookup_lost,
		 (unsigned long long)(pc->errors + pr->sink_drops),
		 (unsigned long long)st.metrics[PROFD_METRIC_IDLE]);
	if (pc->unw)
		unwinder__log_summary(pc->unw, st.unw);
	else
		unwinder__log_fallback(&pr->opts, "cpu");
	log_debug("%llu frames, %llu without a symbol, %llu looked up at the end",
		  (unsigned long long)pc->fst.frames, (unsigned long long)pc->fst.unsymbolized,
		  (unsigned long long)pc->fst.deferred);
}

static size_t cpu_stats(struct profiler *pr, struct profiler_stat *out, size_t max)
{
	struct prof_cpu *pc = pr->priv;
	struct cpu_stats st;
	size_t n = 0;

	if (!pc || !pc->col)
		return 0;
	cpu_collector__stats(pc->col, &st);
	const struct profiler_stat all[] = {
		{ PROFILER_STAT_SAMPLES, "", pc->samples, 0 },
		{ PROFILER_STAT_DROPPED, "user_stack_lost", st.metrics[PROFD_METRIC_USTACK_LOST], 0 },
		{ PROFILER_STAT_DROPPED, "kernel_stack_lost", st.metrics[PROFD_METRIC_KSTACK_LOST], 0 },
		{ PROFILER_STAT_DROPPED, "stack_map_collision",
		  st.metrics[PROFD_METRIC_STACK_COLLISION], 0 },
		{ PROFILER_STAT_DROPPED, "counts_map_full", st.metrics[PROFD_METRIC_COUNTS_FULL], 0 },
		{ PROFILER_STAT_DROPPED, "stack_gone_before_read", st.stack_lookup_lost, 0 },
		{ PROFILER_STAT_DROPPED, "not_encoded", pc->errors, 0 },
		{ PROFILER_STAT_MAP, "counts", pc->last_drain, cpu_collector__capacity(pc->col) },
	};
	for (; n < max && n < sizeof(all) / sizeof(all[0]); n++)
		out[n] = all[n];
	return n;
}

static void cpu_free(struct profiler *pr)
{
	struct prof_cpu *pc = pr->priv;

	if (!pc)
		return;
	cpu_collector__free(pc->col);
	unwinder__put(pc->unw);
	free(pc);
	pr->priv = NULL;
}

static const struct profiler_ops cpu_ops = {
	.start = cpu_start,
	.drain = cpu_drain,
	.stop = cpu_stop,
	.summary = cpu_summary,
	.free = cpu_free,
	.stats = cpu_stats,
};

const struct profiler_type profiler_cpu = {
	.name = "cpu",
	.description = "on-CPU time, sampled at --frequency (Go's CPU profile)",
	.kind = PROFILER_DELTA,
	.host_wide = true,
	.names_late = true,
	.options = PROFILER_OPT(PROFILER_OPT_FREQUENCY) | PROFILER_OPTS_UNWIND,
	.sample_types = { { "samples", "count" }, { "cpu", "nanoseconds" } },
	.period_type = { "cpu", "nanoseconds" },
	.period = cpu_period,
	.http = { "profile", 30, "CPU profile over ?seconds= (default 30)", true },
	.pyroscope = { "process_cpu", false },
	.ops = &cpu_ops,
};
