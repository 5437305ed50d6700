// SPDX-License-Identifier: Apache-2.0
/* collector: one start sequence for every type's collector. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>

#include "collect/bpf_diag.h"
#include "python/python.h"
#include "types/collector.h"
#include "types/profiler.h"
#include "unwind/unwinder.h"
#include "util/log.h"
#include "util/phase.h"

/* The targets' unwind tables, built and loaded in a thread while the
 * collector's programs load (the verifier's time and the tables' map
 * updates overlap): they need only the walker's maps, which exist before
 * the collector opens. */
struct target_tables {
	struct unwinder *unw;
	const pid_t *pids;
	size_t npids;
	bool py_ready; /* the Python map existed before the first scan */
	pthread_t th;
	bool started; /* the thread runs */
	bool done;    /* the tables are loaded */
};

static void *target_tables_run(void *arg)
{
	struct target_tables *t = arg;
	sigset_t all;

	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL); /* signals are the main thread's */
	t->py_ready = python__ready();
	for (size_t i = 0; i < t->npids; i++)
		unwinder__add_pid(t->unw, t->pids[i]);
	return NULL;
}

static void target_tables_start(struct target_tables *t, struct unwinder *unw,
				const struct profiler_opts *o)
{
	*t = (struct target_tables){ .unw = unw, .pids = o->pids, .npids = o->npids };
	if (unw && o->npids)
		t->started = !pthread_create(&t->th, NULL, target_tables_run, t);
}

/* Joins the thread, or loads the tables here when it did not run. */
static void target_tables_finish(struct target_tables *t)
{
	t->done = true;
	if (!t->started) {
		for (size_t i = 0; t->unw && i < t->npids; i++)
			unwinder__add_pid(t->unw, t->pids[i]);
		return;
	}
	pthread_join(t->th, NULL);
	t->started = false;
	/* A scan before the collector created the Python map found nothing
	 * to register: once more now that it exists. */
	for (size_t i = 0; !t->py_ready && i < t->npids; i++)
		python__scan(t->pids[i]);
}

void *collector__open(struct profiler *pr, const char *what, collector_open_fn open, void *arg,
		      struct unwinder **unw, int *err)
{
	const char *who = pr->type->name;
	struct target_tables tt;
	int open_err;
	void *col;

	*err = unwinder__get(&pr->opts, who, unw);
	if (*err)
		return NULL;
	phase_mark("unwinder set up");
	/* Targets get their tables before their first event; any other
	 * process is picked up by its first events (unknown-mapping events). */
	target_tables_start(&tt, *unw, &pr->opts);
	bpf_diag__reset();
	col = open(arg, *unw);
	open_err = errno;
	if (tt.started) {
		target_tables_finish(&tt);
		phase_mark("first unwind tables (beside load)");
	}
	if (!col && unwinder__give_up(unw, &pr->opts, who, -open_err)) {
		bpf_diag__reset();
		col = open(arg, NULL);
		open_err = errno;
	}
	if (!col) {
		*err = -open_err;
		log_err("cannot load %s: %s", what, bpf_diag__explain(*err));
		return NULL;
	}
	if (*unw && !tt.done) {
		/* No thread (no targets, or none could start): here, in order. */
		target_tables_finish(&tt);
		phase_mark("first unwind tables (targets)");
	}
	if (*unw)
		log_debug("%s: user stacks by the .eh_frame walker", who);
	return col;
}
