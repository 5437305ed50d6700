// SPDX-License-Identifier: Apache-2.0
/* prof_threads: the `threads` profile type (alias `goroutine`): a snapshot
 * of every thread of the wanted processes (or of the host), like Go's
 * goroutine profile, with deadlock detection over glibc mutexes. The
 * collector (collect/threads.c) takes the snapshot, threads/report.c turns
 * it into samples and text. One snapshot per drain: a one-shot run takes
 * it at once (threads_oneshot_run), continuous mode at each interval's end,
 * HTTP per request. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "collect/threads.h"
#include "frames.h"
#include "log.h"
#include "pprof/pprof.h"
#include "prof_threads.h"
#include "profiler.h"
#include "symbolize/symbolizer.h"
#include "threads/report.h"

struct prof_threads {
	struct threads_collector *col;
	uint64_t samples, snapshots, cycles, last_cycles, walk_ns;
};

/* Deadlock cycles in the last snapshot of any run, for /metrics. */
static _Atomic uint64_t last_deadlocks, total_snapshots, last_walk_ns, last_stacks_ns,
	last_threads;

uint64_t prof_threads__deadlocks(void)
{
	return atomic_load(&last_deadlocks);
}

uint64_t prof_threads__snapshots(void)
{
	return atomic_load(&total_snapshots);
}

void prof_threads__last(uint64_t *walk_ns, uint64_t *stacks_ns, uint64_t *threads)
{
	*walk_ns = atomic_load(&last_walk_ns);
	*stacks_ns = atomic_load(&last_stacks_ns);
	*threads = atomic_load(&last_threads);
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

static int threads_init_profile(struct profiler *pr, struct pprof *p)
{
	(void)pr;
	return threads_report__init_profile(p);
}

static struct pprof *report_sink(void *ctx, pid_t pid, const char *comm16)
{
	return profiler__sink_named(ctx, pid, comm16);
}

int prof_threads__take(struct profiler *pr, struct threads_snapshot *s, struct threads_report *r)
{
	struct prof_threads *pt = pr->priv;
	int err;

	err = threads_collector__snapshot(pt->col, pr->sym, pr->opts.pids, pr->opts.npids, s);
	if (err) {
		log_err("threads snapshot failed: %s", strerror(-err));
		return err;
	}
	err = threads_report__build(r, s, pr->sym);
	if (err) {
		threads_snapshot__free(s);
		return err;
	}
	pt->snapshots++;
	pt->walk_ns = s->walk_ns;
	pt->last_cycles = r->g.ncycles;
	pt->cycles += r->g.ncycles;
	atomic_store(&last_deadlocks, r->g.ncycles);
	atomic_fetch_add(&total_snapshots, 1);
	atomic_store(&last_walk_ns, s->walk_ns);
	atomic_store(&last_stacks_ns, s->unwind_ns);
	atomic_store(&last_threads, s->n);
	return 0;
}

static int threads_drain(struct profiler *pr)
{
	struct prof_threads *pt = pr->priv;
	struct threads_snapshot s;
	struct threads_report r;
	size_t drops = 0;
	int n;

	if (!pt || !pt->col)
		return -EINVAL;
	n = prof_threads__take(pr, &s, &r);
	if (n)
		return n;
	n = threads_report__pprof(&r, report_sink, pr, &drops);
	pr->sink_drops += drops;
	if (n > 0)
		pt->samples += n;
	/* Continuous mode: deadlocks are in /metrics (profd_threads_deadlocks)
	 * and in the samples' `deadlock` label, not repeated on stderr. */
	threads_report__free(&r);
	threads_snapshot__free(&s);
	return n;
}

static void threads_stop(struct profiler *pr)
{
	(void)pr;
}

static void threads_summary(struct profiler *pr)
{
	struct prof_threads *pt = pr->priv;

	if (pt)
		log_info("%llu threads in %llu snapshot(s), last walk %.3f ms; %llu deadlock cycle(s)",
			 (unsigned long long)pt->samples, (unsigned long long)pt->snapshots,
			 pt->walk_ns / 1e6, (unsigned long long)pt->cycles);
}

static void threads_free(struct profiler *pr)
{
	struct prof_threads *pt = pr->priv;

	if (!pt)
		return;
	threads_collector__free(pt->col);
	free(pt);
	pr->priv = NULL;
}

static size_t threads_stats(struct profiler *pr, struct profiler_stat *out, size_t max)
{
	struct prof_threads *pt = pr->priv;

	if (!pt || max < 1)
		return 0;
	out[0] = (struct profiler_stat){ .kind = PROFILER_STAT_SAMPLES, .value = pt->samples };
	return 1;
}

#define THREADS_TYPE(var, nm, desc)                                                          \
	const struct profiler_type var = {                                                   \
		.name = nm,                                                                  \
		.description = desc,                                                         \
		.snapshot = 1,                                                               \
		.start = threads_start,                                                      \
		.init_profile = threads_init_profile,                                        \
		.drain = threads_drain,                                                      \
		.stop = threads_stop,                                                        \
		.summary = threads_summary,                                                  \
		.free = threads_free,                                                        \
		.stats = threads_stats,                                                      \
	}

THREADS_TYPE(profiler_threads, "threads",
	     "every thread's stack now, by state; deadlocks (a snapshot, no duration)");
THREADS_TYPE(profiler_goroutine, "goroutine", "alias of threads (Go's name)");

bool prof_threads__is(const struct profiler_type *t)
{
	return t == &profiler_threads || t == &profiler_goroutine;
}

static struct pprof *threads_single_sink(void *ctx, pid_t pid, const char *comm16)
{
	(void)pid;
	(void)comm16;
	return ctx;
}

/* Write buf to path as pprof__write_file() does: a temporary file in the
 * same directory, fsync, rename; nothing left behind on failure. */
static int write_atomic(const char *path, const char *buf, size_t len)
{
	char tmp[PATH_MAX], dir[PATH_MAX];
	const char *slash = strrchr(path, '/');
	int fd, err = 0;

	snprintf(dir, sizeof(dir), "%.*s", slash ? (int)(slash - path) : 1, slash ? path : ".");
	if (snprintf(tmp, sizeof(tmp), "%s/.%s.XXXXXX", slash == path ? "" : dir,
		     slash ? slash + 1 : path) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0)
		return -errno;
	for (size_t off = 0; off < len && !err;) {
		ssize_t n = write(fd, buf + off, len - off);

		if (n < 0 && errno != EINTR)
			err = -errno;
		else if (n > 0)
			off += n;
	}
	if (!err && fsync(fd))
		err = -errno;
	if (close(fd) && !err)
		err = -errno;
	if (!err && rename(tmp, path))
		err = -errno;
	if (err)
		unlink(tmp);
	return err;
}

/* A one-shot snapshot: written at once; text forms on request. */
int threads_oneshot_run(const struct profiler_type *type, const struct profiler_opts *popts,
			const char *output, int text_debug)
{
	struct profiler pr = { .type = type, .opts = *popts };
	struct threads_snapshot s;
	struct threads_report r;
	struct pprof *p = NULL;
	size_t drops = 0;
	int err, ret = 1;

	pr.sym = symbolizer__new();
	if (!pr.sym)
		return 1;
	for (size_t i = 0; i < popts->npids; i++)
		symbolizer__add_pid(pr.sym, popts->pids[i]);
	if (threads_start(&pr))
		goto out;
	if (prof_threads__take(&pr, &s, &r))
		goto out;
	if (text_debug) {
		char *txt = NULL;
		size_t len = 0;
		FILE *f = open_memstream(&txt, &len);

		if (f) {
			threads_report__text(&r, f, text_debug);
			err = fclose(f) ? -ENOMEM : write_atomic(output, txt, len);
		} else {
			err = -ENOMEM;
		}
		free(txt);
		if (err)
			log_err("cannot write '%s': %s", output, strerror(-err));
		else
			ret = 0;
	} else {
		p = pprof__new();
		if (p && !threads_report__init_profile(p)) {
			if (popts->npids)
				frames__main_mapping(p, pr.sym, popts->pids[0]);
			err = threads_report__pprof(&r, threads_single_sink, p, &drops);
			pprof__set_time(p, s.wall_ns, (int64_t)(s.walk_ns + s.unwind_ns));
			if (err >= 0)
				err = pprof__write_file(p, output);
			if (err < 0)
				log_err("cannot write profile '%s': %s", output, strerror(-err));
			else
				ret = 0;
		}
	}
	if (!ret)
		log_info("wrote %s: %zu threads, walk %.3f ms + user stacks %.3f ms", output, s.n,
			 s.walk_ns / 1e6, s.unwind_ns / 1e6);
	if (r.g.ncycles || r.chains)
		threads_report__deadlocks(&r, stderr);
	threads_report__free(&r);
	threads_snapshot__free(&s);
out:
	threads_free(&pr);
	pprof__free(p);
	symbolizer__free(pr.sym);
	return ret;
}

int threads_http(const struct profiler_type *type, const struct profiler_opts *popts, pid_t pid,
		 int debug, uint8_t **body, size_t *len, char *msg, size_t msglen)
{
	struct profiler pr = { .type = type, .opts = *popts };
	struct threads_snapshot s;
	struct threads_report r;
	struct pprof *p = NULL;
	size_t drops = 0;
	int status = 500, err;

	pr.opts.pids = &pid;
	pr.opts.npids = 1;
	pr.sym = symbolizer__new();
	if (!pr.sym) {
		snprintf(msg, msglen, "out of memory");
		return 500;
	}
	symbolizer__add_pid(pr.sym, pid);
	if (threads_start(&pr)) {
		snprintf(msg, msglen, "cannot load the threads iterator (see profd's log)");
		status = 503;
		goto out;
	}
	if (prof_threads__take(&pr, &s, &r)) {
		snprintf(msg, msglen, "threads snapshot failed (see profd's log)");
		goto out;
	}
	if (!s.n) {
		snprintf(msg, msglen, "no threads of pid %d (it exited?)", pid);
		status = 404;
	} else if (debug) {
		FILE *f = open_memstream((char **)body, len);

		if (f) {
			threads_report__text(&r, f, debug);
			if (!fclose(f))
				status = 200;
		}
		if (status != 200)
			snprintf(msg, msglen, "out of memory");
	} else {
		p = pprof__new();
		err = p ? threads_report__init_profile(p) : -ENOMEM;
		if (!err) {
			frames__main_mapping(p, pr.sym, pid);
			err = threads_report__pprof(&r, threads_single_sink, p, &drops);
		}
		if (err >= 0) {
			pprof__set_time(p, s.wall_ns, (int64_t)(s.walk_ns + s.unwind_ns));
			/* go tool pprof would ask /debug/pprof/symbol otherwise
			 * (see agent_http.c): everything profd could name is named. */
			for (uint64_t id = 1; !pprof__mapping_mark(p, id, PPROF_HAS_FUNCTIONS); id++)
				;
			err = pprof__encode(p, body, len);
		}
		if (err < 0)
			snprintf(msg, msglen, "cannot encode the profile: %s", strerror(-err));
		else
			status = 200;
	}
	threads_report__free(&r);
	threads_snapshot__free(&s);
out:
	threads_free(&pr);
	pprof__free(p);
	symbolizer__free(pr.sym);
	return status;
}
