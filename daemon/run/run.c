// SPDX-License-Identifier: Apache-2.0
/* run: one profiler instance, its tick, stop and flush; one profile over it. */
#include <errno.h>
#include <string.h>
#include <time.h>

#include "aggregate/frames.h"
#include "pprof/pprof.h"
#include "run/run.h"
#include "symbolize/symbolizer.h"
#include "unwind/loader.h"
#include "unwind/unwinder.h"
#include "util/log.h"
#include "util/phase.h"

int64_t run_now_ns(int clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void run__symbolize_new_pids(struct symbolizer *sym)
{
	struct unwind_new_proc news[64];
	size_t n;

	/* The maps the walker's loader read for each: not read again. */
	while ((n = unwinder__take_new_pids(news, sizeof(news) / sizeof(news[0]))))
		for (size_t i = 0; i < n; i++) {
			int err = symbolizer__note_pid_maps(sym, news[i].pid, &news[i].maps);

			log_debug("new process %d: %zu executable mappings noted for its symbols%s%s",
				  (int)news[i].pid, news[i].maps.n, err ? ": " : "",
				  err ? strerror(-err) : "");
			procmaps__release(&news[i].maps);
		}
}

int run__start(struct run *r, const struct profiler_type *t, const struct profiler_opts *o,
	       struct symbolizer *sym, profiler_sink_fn sink, void *sink_ctx)
{
	memset(r, 0, sizeof(*r));
	r->pr.type = t;
	r->pr.opts = *o;
	r->pr.sym = sym;
	r->pr.sink = sink;
	r->pr.sink_ctx = sink_ctx;
	r->started = true;
	return t->ops->start(&r->pr);
}

int run__tick(struct run *r)
{
	const struct profiler_type *t = r->pr.type;

	if (t->kind == PROFILER_DELTA)
		return t->ops->drain(&r->pr);
	if (t->ops->tick)
		t->ops->tick(&r->pr);
	return 0;
}

int run__drain(struct run *r)
{
	return r->pr.type->ops->drain(&r->pr);
}

int run__drain_to(struct run *r, profiler_sink_fn sink, void *sink_ctx)
{
	profiler_sink_fn own = r->pr.sink;
	void *own_ctx = r->pr.sink_ctx;
	int n;

	r->pr.sink = sink;
	r->pr.sink_ctx = sink_ctx;
	n = r->pr.type->ops->drain(&r->pr);
	r->pr.sink = own;
	r->pr.sink_ctx = own_ctx;
	return n;
}

void run__stop(struct run *r, bool flush_all)
{
	const struct profiler_type *t = r->pr.type;

	t->ops->stop(&r->pr);
	if (flush_all || t->kind == PROFILER_DELTA)
		t->ops->drain(&r->pr);
}

void run__free(struct run *r)
{
	if (!r || !r->started)
		return;
	r->pr.type->ops->free(&r->pr);
	r->started = false;
}

static struct pprof *single_sink(void *ctx, struct profiler *pr, pid_t pid)
{
	(void)pr;
	(void)pid;
	return ctx;
}

enum run_profile_err run_profile__start(struct run_profile *rp, const struct profiler_type *t,
					const struct profiler_opts *o, bool warn, int *err)
{
	memset(rp, 0, sizeof(*rp));
	*err = 0;
	rp->sym = symbolizer__new();
	rp->p = pprof__new();
	if (!rp->sym || !rp->p) {
		*err = -ENOMEM;
		return RUN_PROFILE_NOMEM;
	}
	/* The header needs the options: the profiler exists before it starts. */
	rp->run.pr.type = t;
	rp->run.pr.opts = *o;
	*err = profiler_init_profile(&rp->run.pr, rp->p);
	if (*err)
		return RUN_PROFILE_HEADER;
	phase_mark("symbolizer + profile header");
	for (size_t i = 0; i < o->npids; i++)
		if (symbolizer__add_pid(rp->sym, o->pids[i]) && warn)
			log_warn("cannot read the mappings of pid %d yet, retrying on first sample",
				 o->pids[i]);
	if (o->npids)
		frames__main_mapping(rp->p, rp->sym, o->pids[0]);
	phase_mark("/proc scans (targets' maps)");
	*err = run__start(&rp->run, t, o, rp->sym, single_sink, rp->p);
	if (*err)
		return RUN_PROFILE_START;
	phase_mark("collector started");
	rp->start_mono = run_now_ns(CLOCK_MONOTONIC);
	rp->start_wall = run_now_ns(CLOCK_REALTIME);
	return RUN_PROFILE_OK;
}

void run_profile__tick(struct run_profile *rp)
{
	run__tick(&rp->run);
}

struct pprof *run_profile__finish(struct run_profile *rp)
{
	const struct profiler_type *t = rp->run.pr.type;
	struct frames_stats fst = { 0 };
	int64_t end, t0;
	int err;

	t->ops->stop(&rp->run.pr);
	end = run_now_ns(CLOCK_MONOTONIC);
	t->ops->drain(&rp->run.pr);
	log_debug("%s: last drain done", t->name);
	if (frames__kernel_resolve(rp->p, rp->sym))
		log_warn("kernel frames left unnamed: out of memory");
	t0 = run_now_ns(CLOCK_MONOTONIC);
	err = frames__user_resolve(rp->p, rp->sym, &fst);
	if (err)
		log_warn("user frames left without lines: %s", strerror(-err));
	else if (fst.frames)
		log_debug("%s: lines of %llu user locations read at the end (%llu without), %.1f ms",
			  t->name, (unsigned long long)fst.frames,
			  (unsigned long long)fst.unsymbolized,
			  (run_now_ns(CLOCK_MONOTONIC) - t0) / 1e6);
	pprof__set_time(rp->p, rp->start_wall, end - rp->start_mono);
	return rp->p;
}

void run_profile__free(struct run_profile *rp)
{
	run__free(&rp->run);
	pprof__free(rp->p);
	symbolizer__free(rp->sym);
	memset(rp, 0, sizeof(*rp));
}
