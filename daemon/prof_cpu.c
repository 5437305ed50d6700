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
#include "frames.h"
#include "log.h"
#include "pprof/pprof.h"
#include "profiler.h"
#include "unwind/loader.h"

/* Aggregates one drain can hold: the collector's default, named here so
 * /metrics can report occupancy against it. */
#define PROF_CPU_MAX_KEYS 32768

struct prof_cpu {
	struct cpu_collector *col;
	uint64_t last_drain;    /* aggregates in the last drained generation */
	struct unwind_loader *unw; /* NULL: frame-pointer stacks */
	int64_t period_ns;
	uint64_t samples;
	uint64_t errors;        /* aggregates that could not be added */
	struct frames_stats fst;
};

static int cpu_init_profile(struct profiler *pr, struct pprof *p)
{
	int64_t period = 1000000000LL / (int64_t)pr->opts.frequency;
	int err;

	err = pprof__add_sample_type(p, "samples", "count");
	if (!err)
		err = pprof__add_sample_type(p, "cpu", "nanoseconds");
	if (!err)
		err = pprof__set_period(p, "cpu", "nanoseconds", period);
	return err;
}

/* The .eh_frame walker's loader, or NULL for frame-pointer stacks (logged
 * why). -errno only when --unwind=dwarf was asked for and is impossible. */
static int cpu_unwinder(struct profiler *pr, struct unwind_loader **out)
{
	struct unwind_loader_opts uo = { .max_table_bytes = pr->opts.unwind_max_bytes };
	enum profiler_unwind mode = pr->opts.unwind;
	char why[256];
	int err;

	*out = NULL;
	if (mode == PROFILER_UNWIND_FP)
		return 0;
	err = unwind_loader__probe(why, sizeof(why));
	if (!err) {
		*out = unwind_loader__new(&uo);
		if (!*out) {
			err = -errno;
			snprintf(why, sizeof(why), "cannot create the unwinder's maps: %s",
				 probe_explain(err));
		}
	}
	if (!err)
		return 0;
	if (mode == PROFILER_UNWIND_DWARF) {
		log_err("--unwind=dwarf is not possible here: %s", why);
		return err;
	}
	log_info("user stacks by frame pointers only: %s", why);
	return 0;
}

static int cpu_start(struct profiler *pr)
{
	struct prof_cpu *pc;
	struct cpu_opts opts = {
		.frequency = pr->opts.frequency,
		.pids = pr->opts.pids,
		.npids = pr->opts.npids,
		.max_keys = PROF_CPU_MAX_KEYS,
	};
	int err;

	pc = calloc(1, sizeof(*pc));
	if (!pc)
		return -ENOMEM;
	pr->priv = pc;
	pc->period_ns = 1000000000LL / (int64_t)pr->opts.frequency;
	err = cpu_unwinder(pr, &pc->unw);
	if (err)
		return err;
	opts.unw = pc->unw;
	pc->col = cpu_collector__new(&opts);
	if (!pc->col && pc->unw && pr->opts.unwind == PROFILER_UNWIND_AUTO) {
		/* E.g. a verifier that rejects the walker: keep profiling. */
		log_warn("the .eh_frame stack walker did not load (%s): user stacks by frame "
			 "pointers only", probe_explain(-errno));
		unwind_loader__free(pc->unw);
		pc->unw = opts.unw = NULL;
		pc->col = cpu_collector__new(&opts);
	}
	if (!pc->col) {
		err = -errno;
		log_err("cannot load the CPU sampler BPF program: %s", probe_explain(err));
		return err;
	}
	/* Targets get their tables before the first sample; any other process
	 * is picked up by its first samples (unknown-mapping events). */
	for (size_t i = 0; pc->unw && i < pr->opts.npids; i++) {
		err = unwind_loader__add_pid(pc->unw, pr->opts.pids[i]);
		if (err)
			log_warn("cannot read the mappings of pid %d for unwinding: %s, retrying on "
				 "its samples", pr->opts.pids[i], strerror(-err));
	}
	if (pc->unw)
		log_debug("user stacks by the .eh_frame walker");
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
		unwind_loader__poll(pc->unw);
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
	if (pc->unw) {
		struct unwind_loader_stats us;
		const uint64_t *u = st.unw;

		unwind_loader__stats(pc->unw, &us);
		log_info("unwinding: %llu walks, %llu reached the stack root; stopped early: %llu "
			 "unsupported CFI, %llu unreadable stack, %llu bad CFA, %llu bad PC, %llu "
			 "frame-pointer dead ends, %llu frame-0-only rules, %llu too deep; %llu frames "
			 "(%llu CFI, %llu frame-pointer, %llu signal), %llu in unknown mappings",
			 (unsigned long long)u[PROFD_UNW_M_WALKS],
			 (unsigned long long)u[PROFD_UNW_M_COMPLETE],
			 (unsigned long long)u[PROFD_UNW_M_STOP_INVALID],
			 (unsigned long long)u[PROFD_UNW_M_STOP_READ],
			 (unsigned long long)u[PROFD_UNW_M_STOP_BAD_CFA],
			 (unsigned long long)u[PROFD_UNW_M_STOP_BAD_PC],
			 (unsigned long long)u[PROFD_UNW_M_STOP_FP],
			 (unsigned long long)u[PROFD_UNW_M_STOP_FRAME0],
			 (unsigned long long)u[PROFD_UNW_M_STOP_DEPTH],
			 (unsigned long long)u[PROFD_UNW_M_FRAMES],
			 (unsigned long long)u[PROFD_UNW_M_TABLE_STEPS],
			 (unsigned long long)u[PROFD_UNW_M_FP_STEPS],
			 (unsigned long long)u[PROFD_UNW_M_SIGNAL_STEPS],
			 (unsigned long long)u[PROFD_UNW_M_UNKNOWN_MAP]);
		log_info("unwind tables: %zu loaded (%zu rows, %zu KiB kernel memory), %zu files "
			 "without CFI, %zu refused by the memory cap, %zu by the rule limit, %zu "
			 "failed to load; %zu processes, %zu scans, built in %.3fs",
			 us.tables, us.rows, us.table_bytes >> 10, us.no_cfi, us.refused_cap,
			 us.refused_rules, us.load_errors, us.pids, us.scans, us.build_ns / 1e9);
	}
	log_debug("%llu frames, %llu without a symbol", (unsigned long long)pc->fst.frames,
		  (unsigned long long)pc->fst.unsymbolized);
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
		{ PROFILER_STAT_MAP, "counts", pc->last_drain, PROF_CPU_MAX_KEYS },
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
	unwind_loader__free(pc->unw);
	free(pc);
	pr->priv = NULL;
}

const struct profiler_type profiler_cpu = {
	.name = "cpu",
	.description = "on-CPU time, sampled at --frequency (Go's CPU profile)",
	.start = cpu_start,
	.init_profile = cpu_init_profile,
	.drain = cpu_drain,
	.stop = cpu_stop,
	.summary = cpu_summary,
	.free = cpu_free,
	.stats = cpu_stats,
};
