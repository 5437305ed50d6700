/* SPDX-License-Identifier: Apache-2.0 */
/* run: the run core. A run owns one profiler instance of one type and its
 * sink, and knows how a type is run (enum profiler_kind): what the 1 s
 * drain tick does, and what stopping and flushing mean. The continuous
 * agent keeps one run per type (or per process), its sink a builder per
 * process; a run_profile is a run with one builder that takes every sample
 * and a symbolizer of its own: the one-shot run (oneshot.c) and the HTTP
 * on-demand profiles (agent/agent_http.c) are one each. */
#ifndef PROFD_RUN_H
#define PROFD_RUN_H

#include <stdbool.h>
#include <stdint.h>

#include "types/profiler.h"

/* The drain tick of every run. */
#define RUN_TICK_NS 1000000000LL

struct run {
	struct profiler pr;
	bool started;
};

/* Start a run of type t with options o (pids borrowed), samples to sink.
 * 0 or -errno (the type logged why); r is then still to be run__free()d. */
int run__start(struct run *r, const struct profiler_type *t, const struct profiler_opts *o,
	       struct symbolizer *sym, profiler_sink_fn sink, void *sink_ctx);
/* The drain tick: a delta type hands what came since the last tick to the
 * sink; the others keep house (tick op). Returns the drain's result or 0. */
int run__tick(struct run *r);
/* Hand the collected state to the sink now: a cumulative type's (heap: in
 * use at this moment) at the end of an interval. Returns samples or -errno. */
int run__drain(struct run *r);
/* run__drain() into another sink, once: the run's own sink and state stay
 * as they were (a cumulative type's state is read, not reset). For the
 * current state of a continuous heap profile, asked over HTTP. */
int run__drain_to(struct run *r, profiler_sink_fn sink, void *sink_ctx);
/* Stop collecting and flush: what remains goes to the sink (every kind
 * when flush_all, else only a delta type's remainder: a continuous
 * cumulative run is drained at its interval's end, never when stopped). */
void run__stop(struct run *r, bool flush_all);
/* Free what the type holds. NULL-safe, idempotent. */
void run__free(struct run *r);

/* Processes the walker met for the first time since the last call: their
 * maps read and files opened in sym now, while they live, so that one gone
 * by the next drain (a short script, a build step) is still symbolized.
 * Call after unwinder__poll. */
void run__symbolize_new_pids(struct symbolizer *sym);

/* CLOCK_* now in ns. */
int64_t run_now_ns(int clock);

/* One profile over one run. */
struct run_profile {
	struct run run;
	struct pprof *p;
	struct symbolizer *sym;
	int64_t start_mono;     /* when start returned */
	int64_t start_wall;     /* CLOCK_REALTIME at start, the profile's time */
};

enum run_profile_err {
	RUN_PROFILE_OK = 0,
	RUN_PROFILE_NOMEM,      /* no symbolizer or builder */
	RUN_PROFILE_HEADER,     /* the profile's header could not be written */
	RUN_PROFILE_START,      /* the type could not start (it logged why) */
};

/* Create the builder (the header from the registry), read the targets'
 * mappings now, while they surely run (a failure is logged and retried on
 * the first sample when warn), name the first target's executable as the
 * main binary, and start. *err: -errno of the failure. */
enum run_profile_err run_profile__start(struct run_profile *rp, const struct profiler_type *t,
					const struct profiler_opts *o, bool warn, int *err);
/* The drain tick (run__tick). */
void run_profile__tick(struct run_profile *rp);
/* Stop, flush everything into the builder and stamp its time and duration
 * (start_wall; from start to the stop). Returns the builder (owned by rp). */
struct pprof *run_profile__finish(struct run_profile *rp);
/* Free the run, the builder and the symbolizer. NULL-safe parts. */
void run_profile__free(struct run_profile *rp);

#endif
