// SPDX-License-Identifier: Apache-2.0
/* prof_threads: the `threads` profile type (alias `goroutine`): a snapshot
 * of every thread of the wanted processes (or of the host), like Go's
 * goroutine profile, with deadlock detection over glibc mutexes. The
 * collector (collect/threads.c) takes the snapshot, aggregate/
 * threads_report.c turns it into samples and text.
 *
 * An instant type: each drain takes one snapshot. The run core drains it
 * once and at once (one-shot, HTTP) or at each interval's end (continuous).
 * The last snapshot is kept until the next one, for the text forms (the
 * text op: --format text|dump, ?debug=1|2) and the deadlock report of the
 * one-shot summary. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "aggregate/threads_report.h"
#include "collect/threads.h"
#include "pprof/pprof.h"
#include "types/profiler.h"
#include "util/log.h"

struct prof_threads {
	struct threads_collector *col;
	bool have_last;
	struct threads_snapshot s;      /* the last snapshot ... */
	struct threads_report r;        /* ... and its report */
	uint64_t samples, snapshots, cycles;
};

static void drop_last(struct prof_threads *pt)
{
	if (!pt->have_last)
		return;
	threads_report__free(&pt->r);
	threads_snapshot__free(&pt->s);
	pt->have_last = false;
}

static int threads_start(struct profiler *pr)
{
	struct prof_threads *pt = calloc(1, sizeof(*pt));
	char msg[256];

	if (!pt)
		return -ENOMEM;
	pr->priv = pt;
	pt->col = threads_collector__new(msg, sizeof(msg));
	if (!pt->col) {
		int err = -errno;

		log_err("%s", msg);
		return err ? err : -EINVAL;
	}
	return 0;
}

static struct pprof *report_sink(void *ctx, pid_t pid, const char *comm16)
{
	return profiler__sink_named(ctx, pid, comm16);
}

/* One snapshot, its report and its samples. */
static int threads_drain(struct profiler *pr)
{
	struct prof_threads *pt = pr->priv;
	size_t drops = 0;
	int n;

	if (!pt || !pt->col)
		return -EINVAL;
	drop_last(pt);
	n = threads_collector__snapshot(pt->col, pr->sym, pr->opts.pids, pr->opts.npids, &pt->s);
	if (n) {
		log_err("threads snapshot failed: %s", strerror(-n));
		return n;
	}
	n = threads_report__build(&pt->r, &pt->s, pr->sym);
	if (n) {
		threads_snapshot__free(&pt->s);
		return n;
	}
	pt->have_last = true;
	pt->snapshots++;
	pt->cycles += pt->r.g.ncycles;
	n = threads_report__pprof(&pt->r, report_sink, pr, &drops);
	pr->sink_drops += drops;
	if (n > 0)
		pt->samples += n;
	/* Continuous mode: deadlocks are in /metrics (profd_threads_deadlocks)
	 * and in the samples' `deadlock` label, not repeated on stderr. */
	return n;
}

static void threads_stop(struct profiler *pr)
{
	(void)pr;
}

static int threads_text(struct profiler *pr, FILE *f, int form)
{
	struct prof_threads *pt = pr->priv;

	if (!pt || !pt->have_last)
		return -ENODATA;
	threads_report__text(&pt->r, f, form);
	return ferror(f) ? -EIO : 0;
}

/* The one-shot run's stderr: the counts, and the deadlocks and chains of
 * waiters of the snapshot. */
static void threads_summary(struct profiler *pr)
{
	struct prof_threads *pt = pr->priv;

	if (!pt)
		return;
	if (pt->have_last)
		log_info("snapshot of %zu threads: walk %.3f ms + user stacks %.3f ms", pt->s.n,
			 pt->s.walk_ns / 1e6, pt->s.unwind_ns / 1e6);
	log_info("%llu threads in %llu snapshot(s); %llu deadlock cycle(s)",
		 (unsigned long long)pt->samples, (unsigned long long)pt->snapshots,
		 (unsigned long long)pt->cycles);
	if (pt->have_last && (pt->r.g.ncycles || pt->r.chains))
		threads_report__deadlocks(&pt->r, stderr);
}

static void threads_free(struct profiler *pr)
{
	struct prof_threads *pt = pr->priv;

	if (!pt)
		return;
	drop_last(pt);
	threads_collector__free(pt->col);
	free(pt);
	pr->priv = NULL;
}

static size_t threads_stats(struct profiler *pr, struct profiler_stat *out, size_t max)
{
	struct prof_threads *pt = pr->priv;
	bool l;
	size_t n = 0;

	if (!pt)
		return 0;
	l = pt->have_last;
	const struct profiler_stat all[] = {
		{ PROFILER_STAT_SAMPLES, "", pt->samples, 0, NULL },
		{ PROFILER_STAT_COUNTER, "snapshots_total", pt->snapshots, 0,
		  "Threads snapshots taken (continuous mode)." },
		{ PROFILER_STAT_GAUGE, "deadlocks", l ? pt->r.g.ncycles : 0, 0,
		  "Deadlock cycles (glibc mutexes) in the last threads snapshot." },
		{ PROFILER_STAT_GAUGE, "last_snapshot_threads", l ? pt->s.n : 0, 0,
		  "Threads in the last threads snapshot." },
		{ PROFILER_STAT_GAUGE, "last_snapshot_walk_microseconds", l ? pt->s.walk_ns / 1000 : 0,
		  0, "The last threads snapshot's BPF walk." },
		{ PROFILER_STAT_GAUGE, "last_snapshot_stacks_microseconds",
		  l ? pt->s.unwind_ns / 1000 : 0, 0,
		  "The last threads snapshot's user stacks and mutex reads, after the walk." },
	};
	for (; n < max && n < sizeof(all) / sizeof(all[0]); n++)
		out[n] = all[n];
	return n;
}

static const struct profiler_ops threads_ops = {
	.start = threads_start,
	.drain = threads_drain,
	.stop = threads_stop,
	.summary = threads_summary,
	.free = threads_free,
	.stats = threads_stats,
	.text = threads_text,
};

/* One sample per distinct (stack, state) per process, valued at its
 * threads: period 1. */
const struct profiler_type profiler_threads = {
	.name = "threads",
	.aliases = { "goroutine" },
	.description = "every thread's stack now, by state; deadlocks (a snapshot, no duration)",
	.kind = PROFILER_INSTANT,
	.host_wide = true,
	.options = PROFILER_OPT(PROFILER_OPT_FORMAT),
	.sample_types = { { "threads", "count" } },
	.period_type = { "threads", "count" },
	.http = { "threads", 0, "every thread's stack now (?debug=1, ?debug=2: text)", false,
		  "goroutine" },
	/* Go's name for a snapshot of its threads. */
	.pyroscope = { "goroutine", false },
	.ops = &threads_ops,
};
