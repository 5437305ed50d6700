/* SPDX-License-Identifier: Apache-2.0 */
/* shared: the narrow view of the agent its HTTP threads get (agent_http.c):
 * what the main thread publishes for them and what they claim, all under
 * one lock: the snapshot /metrics shows and the settings an on-demand
 * profile uses, the upload worker and HTTP server (swapped on reload), the
 * processes on-demand requests probe now, and the stop/restart signals. */
#ifndef PROFD_AGENT_SHARED_H
#define PROFD_AGENT_SHARED_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "symbolize/symbolizer.h"
#include "types/profiler.h"
#include "unwind/loader.h"

/* Processes one continuous profiler of a per-process type targets. */
#define AGENT_MAX_TARGETS 1024
/* /debug/pprof/heap and friends without ?seconds= (a BPF profiler sees only
 * what happens after it attaches: there is no instant snapshot). */
#define AGENT_HTTP_DEFAULT_SECONDS 10
/* Bound on on-demand probe-group requests in flight (the server allows at
 * most http.max_concurrent <= 64 profile requests at once). */
#define HTTP_MAX_CONNECTIONS_AGENT 64

struct agent_type_stats {
	const char *name;
	size_t n;
	struct profiler_stat st[PROFILER_MAX_STATS];
	uint64_t no_builder;            /* profiler.sink_drops */
};

/* What /metrics shows from the main thread; copied under lock each tick. */
struct agent_snapshot {
	size_t ntypes;
	struct agent_type_stats types[PROFILER_MAX_TYPES];
	uint64_t procs;                 /* processes with a profile in progress */
	uint64_t intervals;
	uint64_t profiles;              /* profiles finished (encoded) */
	uint64_t encode_errors;
	uint64_t process_limit_drops;   /* samples of processes over AGENT_MAX_PROCS */
	uint64_t reloads, reload_errors;
	bool disk_on;
	struct {
		uint64_t written, errors, enospc, removed, bytes_used, files;
	} disk;
	struct symbolizer_stats sym;
	bool unw_on;                    /* the .eh_frame walker runs */
	struct unwind_loader_stats unw;
	/* settings on-demand profiles use */
	struct profiler_opts popts;     /* pids unused */
	/* processes a continuous profiler of a probe group probes now */
	size_t nprobed;
	pid_t probed[AGENT_MAX_TARGETS];
};

/* A request for the current state of a profile the agent collects
 * continuously (heap, allocs of a [heap] process): an HTTP thread queues
 * it and waits, the main thread (which owns the profilers) answers it. */
struct agent_now_req {
	pid_t pid;
	const struct profiler_type *type;       /* the type asked for */
	bool done;                      /* under lock: answered */
	int status;                     /* 200; 0: not collected continuously */
	char message[256];              /* the reason, when not 200 */
	uint8_t *body;                  /* the gzipped profile (malloc'ed) */
	size_t len;
};

struct agent_shared {
	pthread_mutex_t lock;
	struct agent_snapshot snap;     /* under lock; written by the main thread */
	struct upload_worker *up;       /* under lock; the main thread swaps it */
	struct http_server *http;       /* idem */
	/* under lock: processes an on-demand request of a probe group (heap,
	 * allocs) probes now */
	pid_t claims[HTTP_MAX_CONNECTIONS_AGENT];
	/* under lock: current-state requests the main thread has yet to
	 * take; now_fd (an eventfd) wakes it, now_done wakes the requests */
	struct agent_now_req *now[HTTP_MAX_CONNECTIONS_AGENT];
	size_t nnow;
	int now_fd;
	pthread_cond_t now_done;
	atomic_bool stopping;           /* profile requests end early ... */
	atomic_uint gen;                /* ... and when it changes (server restart) */
};

struct http_callbacks;
/* The HTTP server's callbacks over sh (agent_http.c). */
void agent_http__callbacks(struct agent_shared *sh, struct http_callbacks *cb);

#endif
