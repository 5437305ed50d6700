/* SPDX-License-Identifier: Apache-2.0 */
/* threads_report: what a threads snapshot says, in the three forms the
 * `threads` (alias `goroutine`) profile offers: pprof samples (one per
 * distinct (stack, state) per process, value = threads), Go's
 * goroutine?debug=1 text (count, then the stack) and ?debug=2 text (one
 * block per thread), plus the deadlock report: every cycle of the
 * waits-for graph and every chain of waiters behind one holder. */
#ifndef PROFD_AGGREGATE_THREADS_REPORT_H
#define PROFD_AGGREGATE_THREADS_REPORT_H

#include <stdbool.h>
#include <stdio.h>
#include <sys/types.h>

#include "collect/threads.h"
#include "aggregate/waitgraph.h"

struct pprof;
struct symbolizer;

struct threads_report {
	struct threads_snapshot *s;
	struct symbolizer *sym;
	struct wg_result g;         /* node i = thread s->t[i] */
	bool *mutex;                /* thread i waits for a confirmed pthread mutex */
	size_t chains;              /* holders with waiters behind them */
};

/* Confirm mutex waits (a pthread_mutex_* frame, or a valid __kind and an
 * owner in the snapshot) and build the waits-for graph. 0 or -ENOMEM. */
int threads_report__build(struct threads_report *r, struct threads_snapshot *s,
			  struct symbolizer *sym);
void threads_report__free(struct threads_report *r);

/* One sample per thread (merged by the
 * builder into one per (stack, labels)); sink gives the profile of a pid
 * (NULL: dropped and counted in *drops). Returns samples added or -errno. */
typedef struct pprof *(*threads_sink_fn)(void *ctx, pid_t pid, const char *comm16);
int threads_report__pprof(struct threads_report *r, threads_sink_fn sink, void *ctx,
			  size_t *drops);

/* debug 1: aggregated (count @ stack), 2: every thread. Both end with the
 * deadlock report. */
void threads_report__text(struct threads_report *r, FILE *f, int debug);
/* Cycles and chains only (one-shot mode prints this on stderr). Returns
 * the number of lines written. */
size_t threads_report__deadlocks(struct threads_report *r, FILE *f);

#endif
