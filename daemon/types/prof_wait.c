// SPDX-License-Identifier: Apache-2.0
/* prof_wait: the `mutex`, `block` and `threadcreate` profile types, from
 * wait.bpf.c, in Go's conventions (runtime/pprof):
 *   mutex, block:  contentions/count, delay/nanoseconds; period contentions/count 1
 *   threadcreate:  threadcreate/count; period threadcreate/count 1
 * Values are exact (every event is counted), so the period is 1.
 *
 * mutex counts futex waits whose stack shows a lock function (pthread
 * mutexes, rwlocks, glibc's internal locks) or that used a PI lock
 * operation, and CPython's waits to take the GIL (a condition variable
 * told by its address or by take_gil in the stack: a "Python GIL" frame
 * and the label lock=GIL); other condition variables, semaphores and
 * futex waits are left to the block profile. block gives the same frame
 * and label to off-CPU intervals in a futex wait to take a GIL, and a
 * "Python GIL handoff" frame, label lock=GIL-handoff, to those of a thread
 * that released it on request until the other took it.
 *
 * User stacks come from the process's shared .eh_frame walker (unwinder.h)
 * when it is available, else from the gap walk (gapwalk.h): rules learned
 * here from the stack windows BPF copies where it met a PC without one. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collect/probe.h"
#include "types/collector.h"
#include "collect/wait.h"
#include "aggregate/frames.h"
#include "unwind/gapwalk.h"
#include "util/log.h"
#include "pprof/pprof.h"
#include "types/profiler.h"
#include "symbolize/symbolizer.h"
#include "unwind/unwinder.h"
#include "types/waitclass.h"
#include "profd/python.h"

/* User stacks as written to the profile (completed from their exemplar
 * when BPF met a PC without a rule) and what their frames say, reused by
 * the other threads' keys of the same drain (direct-mapped by hash). */
#define CACHE_SLOTS 64
/* Frames searched for a lock function: glibc needs 2-4 above the futex
 * call; a few more for wrappers (C11 mtx_lock, libstdc++). */
#define LOCK_SEARCH_FRAMES 8

struct ucache {
	uint64_t hash;
	uint64_t drain;
	int frames_class;       /* mutex: STACK_* below, -1 not yet known */
	size_t n;
	uint64_t frames[PROFD_MAX_STACK_DEPTH];
};

struct prof_wait {
	uint32_t kind;
	struct wait_collector *col;
	struct unwinder *unw;      /* user stacks by the walker, or NULL: */
	struct gapwalk *gw;        /* ... by the gap walk */
	uint64_t drain;
	uint64_t events;           /* events written */
	uint64_t not_lock;         /* mutex: futex waits that were not lock waits */
	uint64_t exemplars;        /* stacks completed from an exemplar */
	uint64_t truncated;        /* stacks with a miss that could not be completed */
	uint64_t errors;           /* aggregates that could not be added */
	struct frames_stats fst;
	struct ucache cache[CACHE_SLOTS];
};

extern const struct profiler_type profiler_mutex, profiler_block;

static uint32_t kind_of(const struct profiler *pr)
{
	if (pr->type == &profiler_mutex)
		return PROFD_WAIT_KIND_MUTEX;
	if (pr->type == &profiler_block)
		return PROFD_WAIT_KIND_BLOCK;
	return PROFD_WAIT_KIND_THREADCREATE;
}

/* block: the pprof comment says which intervals were counted. */
static void wait_comment(struct profiler *pr, char *buf, size_t size)
{
	if (kind_of(pr) == PROFD_WAIT_KIND_BLOCK)
		snprintf(buf, size, "off-CPU intervals of at least %llu ns",
			 (unsigned long long)pr->opts.min_block_ns);
}

static void *wait_open(void *arg, struct unwinder *unw)
{
	struct wait_opts *opts = arg;

	opts->unw = unw;
	return wait_collector__new(opts);
}

static int wait_start(struct profiler *pr)
{
	struct prof_wait *pw;
	struct wait_opts opts = {
		.kind = kind_of(pr),
		.pids = pr->opts.pids,
		.npids = pr->opts.npids,
		.min_block_ns = pr->opts.min_block_ns,
	};
	char what[64];
	int err;

	pw = calloc(1, sizeof(*pw));
	if (!pw)
		return -ENOMEM;
	pr->priv = pw;
	pw->kind = opts.kind;
	snprintf(what, sizeof(what), "the %s BPF program", pr->type->name);
	pw->col = collector__open(pr, what, wait_open, &opts, &pw->unw, &err);
	if (!pw->col)
		return err;
	if (!pw->unw) {
		pw->gw = gapwalk__new(pr->sym);
		if (!pw->gw) {
			err = -errno;
			log_err("cannot create the gap unwinder: %s", strerror(-err));
			return err;
		}
	}
	err = wait_collector__start(pw->col);
	if (err)
		log_err("cannot attach to the %s tracepoints: %s", pr->type->name,
			probe_explain(err));
	return err;
}

/* What the first frames of a user stack say about a futex wait. */
enum {
	STACK_GIL,       /* CPython's take_gil is among them */
	STACK_LOCK,      /* a lock-acquire function is among them */
	STACK_NAMED,     /* named frames, none of them a lock function */
	STACK_UNNAMED,   /* no frame could be named */
};

static int stack_class(struct profiler *pr, pid_t pid, const uint64_t *frames, size_t n)
{
	size_t named = 0;
	bool lock = false;

	for (size_t i = 0; i < n && i < LOCK_SEARCH_FRAMES; i++) {
		struct sym_frame f;
		const char *name;

		/* Frame 0 is the PC after the syscall instruction. */
		if (symbolizer__user(pr->sym, pid, frames[i] - 1, &f) || !f.nlines)
			continue;
		named++;
		name = f.lines[f.nlines - 1].name;
		/* take_gil's own pthread_mutex_lock is a GIL wait too. */
		if (waitclass_is_gil_function(name))
			return STACK_GIL;
		lock = lock || waitclass_is_lock_function(name);
	}
	return lock ? STACK_LOCK : named ? STACK_NAMED : STACK_UNNAMED;
}

static int is_lock_wait(uint32_t flags, int frames_class)
{
	if ((flags & (PROFD_WAIT_EV_FUTEX_PI | PROFD_WAIT_EV_GIL)) || frames_class == STACK_GIL)
		return 1;
	if (flags & PROFD_WAIT_EV_FUTEX_REQUEUE_PI)
		return 0;
	if (frames_class == STACK_LOCK)
		return 1;
	/* Nothing named (stripped static binary): glibc's lll_lock waits
	 * for the value 2, its condition variables do not. */
	return frames_class == STACK_UNNAMED && (flags & PROFD_WAIT_EV_FUTEX_VAL2);
}

/* Leading kernel frames that belong to the tracepoint and BPF program
 * the stack was taken from (at most a few). */
static size_t tracing_frames(struct symbolizer *sym, const uint64_t *k, size_t n)
{
	size_t i;

	for (i = 0; i < n && i < 4; i++) {
		struct sym_frame f;

		if (symbolizer__kernel(sym, i ? k[i] - 1 : k[i], &f) || !f.nlines ||
		    !waitclass_is_tracing_glue(f.lines[f.nlines - 1].name))
			break;
	}
	return i;
}

static void learn(void *ctx, const struct profd_wait_rule_key *key, const struct profd_wait_rule *r)
{
	struct prof_wait *pw = ctx;

	wait_collector__add_rule(pw->col, key, r);
}

/* The user stack of a drained aggregate, completed from its exemplar when
 * BPF stopped at a PC without a rule (gap walk only: walker stacks never
 * miss). */
static size_t user_frames(struct prof_wait *pw, pid_t pid, const struct profd_wait_stack *us,
			  const struct profd_wait_exemplar *ex, uint64_t *out)
{
	size_t n = us->nframes, m = us->miss_at, k;
	enum gapwalk_end end;

	if ((us->flags & PROFD_WAIT_STACK_WALKER) || !(us->flags & PROFD_WAIT_STACK_MISS) ||
	    m >= n || !pw->gw) {
		memcpy(out, us->ips, n * sizeof(*out));
		return n;
	}
	memcpy(out, us->ips, (m + 1) * sizeof(*out));
	if (!ex || ex->tgid != us->tgid || ex->regs.pc != us->ips[m]) {
		/* The window was evicted: learn this frame's rule at least,
		 * and end the stack rather than skip its caller. */
		struct profd_wait_rule_key key = {
			.tgid = us->tgid, .leaf = m == 0, .pc = us->ips[m], .asid = us->asid,
		};
		struct profd_wait_rule r;

		gapwalk__rule(pw->gw, pid, key.pc, key.leaf, &r);
		learn(pw, &key, &r);
		pw->truncated++;
		return m + 1;
	}
	k = gapwalk__unwind(pw->gw, pid, ex, ex->regs.bp, out + m + 1,
			    PROFD_MAX_STACK_DEPTH - (m + 1), &end, learn, pw);
	pw->exemplars++;
	n = m + 1 + k;
	if (end == GAPWALK_SPLICE) {
		for (size_t i = m + 1; i < us->nframes && n < PROFD_MAX_STACK_DEPTH; i++)
			out[n++] = us->ips[i];
	} else if (end == GAPWALK_TRUNC) {
		pw->truncated++;
		log_debug("pid %d: stack unwound from a stack copy ends after %zu frames (miss at "
			  "%zu, pc %#llx, sp %#llx, bp %#llx, %u bytes copied)", pid, n, m,
			  (unsigned long long)ex->regs.pc, (unsigned long long)ex->regs.sp,
			  (unsigned long long)ex->regs.bp, ex->len);
	}
	return n;
}

/* A GIL wait: the frame that says so, between the kernel frames and the
 * user stack (take_gil is unnamed where the interpreter has no symbols),
 * and the label lock=GIL; switch: the handoff's (drop_gil) instead.
 * 0 or -ENOMEM. */
static int add_gil_frame(struct pprof *p, uint64_t *locs, int *n, size_t nk, bool switch_,
			 struct pprof_label *label)
{
	struct pprof_line line = {
		.function_id = switch_ ?
			pprof__function(p, WAITCLASS_GIL_SWITCH_FRAME, "drop_gil", NULL, 0) :
			pprof__function(p, WAITCLASS_GIL_FRAME, "take_gil", NULL, 0),
	};
	uint64_t loc;

	if (!line.function_id)
		return -ENOMEM;
	loc = pprof__location(p, 0, switch_ ? PROFD_PY_MARK_GIL_SWITCH : PROFD_PY_MARK_GIL, &line,
			      1);
	if (!loc)
		return -ENOMEM;
	if ((size_t)*n < nk)
		nk = *n;
	memmove(locs + nk + 1, locs + nk, (*n - nk) * sizeof(*locs));
	locs[nk] = loc;
	(*n)++;
	*label = (struct pprof_label){ .key = WAITCLASS_LOCK_LABEL,
				       .str = switch_ ? WAITCLASS_GIL_SWITCH_LABEL : WAITCLASS_GIL_LABEL };
	return 0;
}

static void wait_add(const struct wait_sample *s, void *ctx)
{
	struct profiler *pr = ctx;
	struct prof_wait *pw = pr->priv;
	uint64_t locs[2 * PROFD_MAX_STACK_DEPTH];
	int64_t values[2] = { (int64_t)s->count, (int64_t)s->delay_ns };
	struct pprof_label labels[5];
	bool gil = false, gil_switch = false;
	const uint64_t *ufr = NULL, *kfr = NULL;
	size_t nu = 0, nk = 0;
	struct ucache *uc = NULL;
	struct task_labels tl;
	struct pprof *p;
	pid_t pid = s->key->pid;
	int n;

	if (s->ustack) {
		uc = &pw->cache[s->key->ustack % CACHE_SLOTS];
		if (uc->drain != pw->drain || uc->hash != s->key->ustack) {
			uc->hash = s->key->ustack;
			uc->drain = pw->drain;
			uc->frames_class = -1;
			uc->n = user_frames(pw, pid, s->ustack, s->exemplar, uc->frames);
		}
		ufr = uc->frames;
		nu = uc->n;
	}
	if (pw->kind == PROFD_WAIT_KIND_MUTEX) {
		int cls = uc ? uc->frames_class : -1;

		if (cls < 0) {
			cls = stack_class(pr, pid, ufr, nu);
			if (uc)
				uc->frames_class = cls;
		}
		if (!is_lock_wait(s->key->flags, cls)) {
			pw->not_lock += s->count;
			return;
		}
		gil = (s->key->flags & PROFD_WAIT_EV_GIL) || cls == STACK_GIL;
	} else if (pw->kind == PROFD_WAIT_KIND_BLOCK) {
		gil = s->key->flags & PROFD_WAIT_EV_GIL;
		gil_switch = s->key->flags & PROFD_WAIT_EV_GIL_SWITCH;
	}
	if (s->kstack) {
		kfr = (const uint64_t *)s->kstack->ips;
		nk = s->kstack->nframes;
		n = tracing_frames(pr->sym, kfr, nk);
		kfr += n;
		nk -= n;
	}
	p = profiler__sink(pr, pid);
	if (!p) {
		pr->sink_drops += s->count;
		return;
	}
	task_labels__fill(&tl, pid, s->key->tid, s->key->pcomm, s->key->comm);
	n = frames__locations(p, pr->sym, pid, kfr, nk, ufr, nu, FRAMES_LEAF_RETURN, locs,
			      sizeof(locs) / sizeof(locs[0]) - 1, &pw->fst);
	memcpy(labels, tl.l, sizeof(tl.l));
	if ((gil || gil_switch) && n >= 0 && add_gil_frame(p, locs, &n, nk, gil_switch, &labels[4])) {
		pw->errors += s->count;
		return;
	}
	if (n < 0 || pprof__add_sample(p, locs, n, values, labels, 4 + (gil || gil_switch))) {
		pw->errors += s->count;
		return;
	}
	pw->events += s->count;
}

static int wait_drain(struct profiler *pr)
{
	struct prof_wait *pw = pr->priv;

	pw->drain++;
	/* New processes and libraries first: their next events unwind. */
	if (pw->unw)
		unwinder__poll(pw->unw);
	return wait_collector__drain(pw->col, wait_add, pr);
}

static void wait_stop(struct profiler *pr)
{
	struct prof_wait *pw = pr->priv;

	wait_collector__stop(pw->col);
}

static void wait_summary(struct profiler *pr)
{
	struct prof_wait *pw = pr->priv;
	struct gapwalk_stats gs;
	struct wait_stats st;

	wait_collector__stats(pw->col, &st);
	log_info("%llu events written%s; lost: %llu user stacks, %llu kernel stacks, %llu evicted "
		 "stacks, %llu in-progress overflows, %llu map-full drops, %llu not encoded",
		 (unsigned long long)pw->events,
		 pw->kind == PROFD_WAIT_KIND_MUTEX ? " (lock waits)" : "",
		 (unsigned long long)st.metrics[PROFD_WAIT_METRIC_USTACK_LOST],
		 (unsigned long long)st.metrics[PROFD_WAIT_METRIC_KSTACK_LOST],
		 (unsigned long long)(st.ustacks_gone + st.kstacks_gone),
		 (unsigned long long)st.metrics[PROFD_WAIT_METRIC_STARTS_FULL],
		 (unsigned long long)st.metrics[PROFD_WAIT_METRIC_COUNTS_FULL],
		 (unsigned long long)(pw->errors + pr->sink_drops));
	if (pw->kind == PROFD_WAIT_KIND_MUTEX)
		log_info("%llu futex waits were not lock waits (condition variables, "
			 "semaphores, ...); %llu returned at once",
			 (unsigned long long)pw->not_lock,
			 (unsigned long long)st.metrics[PROFD_WAIT_METRIC_NOT_WAITED]);
	if (pw->kind == PROFD_WAIT_KIND_BLOCK)
		log_info("%llu off-CPU intervals shorter than --min-block not counted",
			 (unsigned long long)st.metrics[PROFD_WAIT_METRIC_SHORT]);
	if (pw->unw) {
		unwinder__log_summary(pw->unw, st.unw);
	} else {
		unwinder__log_fallback(&pr->opts, pr->type->name);
		gapwalk__stats(pw->gw, &gs);
		log_info("unwinding: gap walk, %llu rules learned, %llu events met a PC without "
			 "a rule (%llu stacks completed in the agent, %llu truncated), %llu ended "
			 "by an unusable rule",
			 (unsigned long long)st.rules_added,
			 (unsigned long long)st.metrics[PROFD_WAIT_METRIC_RULE_MISS],
			 (unsigned long long)pw->exemplars, (unsigned long long)pw->truncated,
			 (unsigned long long)st.metrics[PROFD_WAIT_METRIC_BAD_RULE]);
		log_debug("%llu unwind tables, %llu table errors, %llu PCs in no file",
			  (unsigned long long)gs.tables, (unsigned long long)gs.table_errors,
			  (unsigned long long)gs.no_file);
	}
	log_debug("%llu frames, %llu without a symbol", (unsigned long long)pw->fst.frames,
		  (unsigned long long)pw->fst.unsymbolized);
}

static void wait_free(struct profiler *pr)
{
	struct prof_wait *pw = pr->priv;

	if (!pw)
		return;
	wait_collector__free(pw->col);
	unwinder__put(pw->unw);
	gapwalk__free(pw->gw);
	free(pw);
	pr->priv = NULL;
}

static size_t wait_type_stats(struct profiler *pr, struct profiler_stat *out, size_t max)
{
	struct prof_wait *pw = pr->priv;
	struct wait_stats st;
	size_t n = 0;

	if (!pw || !pw->col)
		return 0;
	wait_collector__stats(pw->col, &st);
	const struct profiler_stat all[] = {
		{ PROFILER_STAT_SAMPLES, "", pw->events, 0 },
		{ PROFILER_STAT_DROPPED, "user_stack_lost", st.metrics[PROFD_WAIT_METRIC_USTACK_LOST], 0 },
		{ PROFILER_STAT_DROPPED, "kernel_stack_lost", st.metrics[PROFD_WAIT_METRIC_KSTACK_LOST], 0 },
		{ PROFILER_STAT_DROPPED, "stack_evicted", st.ustacks_gone + st.kstacks_gone, 0 },
		{ PROFILER_STAT_DROPPED, "in_progress_map_full", st.metrics[PROFD_WAIT_METRIC_STARTS_FULL], 0 },
		{ PROFILER_STAT_DROPPED, "counts_map_full", st.metrics[PROFD_WAIT_METRIC_COUNTS_FULL], 0 },
		{ PROFILER_STAT_DROPPED, "not_encoded", pw->errors, 0 },
	};
	for (; n < max && n < sizeof(all) / sizeof(all[0]); n++)
		out[n] = all[n];
	return n;
}

static const struct profiler_ops wait_ops = {
	.start = wait_start,
	.drain = wait_drain,
	.stop = wait_stop,
	.summary = wait_summary,
	.free = wait_free,
	.stats = wait_type_stats,
	.comment = wait_comment,
};

/* Values are exact (every event is counted): period 1. */
const struct profiler_type profiler_mutex = {
	.name = "mutex",
	.description = "where threads wait for pthread mutexes and rwlocks (Go's mutex profile)",
	.kind = PROFILER_DELTA,
	.host_wide = true,
	.options = PROFILER_OPTS_UNWIND,
	.sample_types = { { "contentions", "count" }, { "delay", "nanoseconds" } },
	.period_type = { "contentions", "count" },
	.http = { "mutex", 0, "where threads wait for contended locks" },
	.pyroscope = { "mutex", false },
	.ops = &wait_ops,
};

const struct profiler_type profiler_block = {
	.name = "block",
	.description = "where threads block off-CPU: I/O, futexes, sleeps (Go's block profile)",
	.kind = PROFILER_DELTA,
	.host_wide = true,
	.options = PROFILER_OPT(PROFILER_OPT_MIN_BLOCK) | PROFILER_OPTS_UNWIND,
	.sample_types = { { "contentions", "count" }, { "delay", "nanoseconds" } },
	.period_type = { "contentions", "count" },
	.http = { "block", 0, "where threads are off-CPU (I/O, locks, sleeps)" },
	.pyroscope = { "block", false },
	.ops = &wait_ops,
};

const struct profiler_type profiler_threadcreate = {
	.name = "threadcreate",
	.description = "stacks that created threads (Go's threadcreate profile)",
	.kind = PROFILER_DELTA,
	.host_wide = true,
	.options = PROFILER_OPTS_UNWIND,
	.sample_types = { { "threadcreate", "count" } },
	.period_type = { "threadcreate", "count" },
	.http = { "threadcreate", 0, "where threads are created" },
	.pyroscope = { "threadcreate", false },
	.ops = &wait_ops,
};
