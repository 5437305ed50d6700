/* SPDX-License-Identifier: Apache-2.0 */
/* prof_threads: the `threads` (alias `goroutine`) profile type's entry
 * points besides its profiler_type: the one-shot snapshot and the HTTP
 * text forms, and the deadlock gauge for /metrics. */
#ifndef PROFD_PROF_THREADS_H
#define PROFD_PROF_THREADS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "profiler.h"

struct threads_snapshot;
struct threads_report;

extern const struct profiler_type profiler_threads;
extern const struct profiler_type profiler_goroutine;

bool prof_threads__is(const struct profiler_type *t);
/* After threads_start (pr->type->start): one snapshot and its report.
 * 0 or -errno; free both with threads_report__free/threads_snapshot__free. */
int prof_threads__take(struct profiler *pr, struct threads_snapshot *s, struct threads_report *r);
/* Write output at once: the pprof file (text_debug 0) or the text form of
 * Go's ?debug=1 / ?debug=2. Deadlocks and chains go to stderr too.
 * Returns the exit code. */
int threads_oneshot_run(const struct profiler_type *type, const struct profiler_opts *popts,
			const char *output, int text_debug);
/* An HTTP request's answer for pid: the pprof file (debug 0) or text
 * (debug 1, 2) in *body (malloc'ed); returns the HTTP status, with msg
 * filled when it is not 200. popts: the agent's options (unwind mode). */
int threads_http(const struct profiler_type *type, const struct profiler_opts *popts, pid_t pid,
		 int debug, uint8_t **body, size_t *len, char *msg, size_t msglen);
/* Deadlock cycles in the last snapshot taken, snapshots taken (any run). */
uint64_t prof_threads__deadlocks(void);
uint64_t prof_threads__snapshots(void);
/* The last snapshot: BPF walk time, user-stack time, threads. */
void prof_threads__last(uint64_t *walk_ns, uint64_t *stacks_ns, uint64_t *threads);

#endif
