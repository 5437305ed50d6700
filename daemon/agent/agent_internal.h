/* SPDX-License-Identifier: Apache-2.0 */
/* agent internals: struct agent and the functions its files (agent.c: the
 * run loop; procs.c, profilers.c, components.c, reload.c, interval.c) share.
 * Internal to agent/; the HTTP callbacks (agent_http.c) see only
 * agent/shared.h. Everything here belongs to the main thread but `sh`. */
#ifndef PROFD_AGENT_INTERNAL_H
#define PROFD_AGENT_INTERNAL_H

#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "agent/agent.h"
#include "agent/config.h"
#include "agent/shared.h"
#include "agent/procinfo.h"
#include "agent/proccache.h"
#include "run/run.h"
#include "types/profiler.h"
#include "symbolize/symbolizer.h"

/* Drain every BPF collector this often: the maps are sized for about a
 * second of samples, and an exiting process is flushed one tick after it
 * is seen gone (so its last samples are in). */
#define AGENT_TICK_NS RUN_TICK_NS
/* Processes with a profile in progress at once; samples of more are
 * dropped and counted ("process_limit"). Each holds a pprof builder per
 * type, so this bounds the agent's memory under churn. */
#define AGENT_MAX_PROCS 4096
#define AGENT_PROC_BUCKETS 4096
/* Time SIGTERM gives the profile store to take what is queued before the
 * rest goes to the spool. */
#define AGENT_UPLOAD_FLUSH_NS (3ULL * 1000000000)
/* The same when a reload restarts the uploader: the loop waits meanwhile. */
#define AGENT_UPLOAD_RELOAD_NS (1ULL * 1000000000)
#define AGENT_SERVICE_LEN 128

struct agent;

/* One running profiler instance of a type. */
struct agent_inst {
	pid_t pid;                      /* its one process (per-process types), else 0 */
	struct run run;
};

/* One profile type collected continuously: a single instance for every
 * process (or the --pid ones), or, for types that attach per process
 * (not host-wide: heap, allocs), one instance per target, so that a target
 * coming or going leaves the others' state alone. */
struct agent_ptype {
	struct agent *a;
	const struct profiler_type *type;
	int pt;                         /* its place in the registry */
	bool per_pid;
	struct agent_inst **inst;       /* running instances (a type may keep
					 * pointers to its struct profiler) */
	size_t ninst;
	pid_t *pids;                    /* owned target set; NULL = every process */
	size_t npids;
};

/* A service's profiles this interval (group_by = service): every process
 * of the service samples into them, labelled by pid and comm. */
struct agent_group {
	struct agent_group *next;
	int64_t start_ns;               /* CLOCK_REALTIME: its first process's start */
	char service[AGENT_SERVICE_LEN];
	struct pprof *prof[PROFILER_MAX_TYPES];
};

/* A process with a profile in progress this interval. */
struct agent_proc {
	struct agent_proc *next;        /* hash bucket chain */
	struct agent_group *group;      /* group_by = service: where its samples go */
	pid_t pid;
	bool exited;                    /* seen gone: flushed at the next tick */
	int64_t start_ns;               /* CLOCK_REALTIME: the profiles' start ... */
	int64_t exit_ns;                /* ... and end, for a process seen gone */
	char comm[PROCINFO_COMM_LEN];
	char service[AGENT_SERVICE_LEN];
	struct pprof *prof[PROFILER_MAX_TYPES];
};

struct agent {
	const struct agent_opts *o;
	struct profd_config cfg;
	char host[HOST_NAME_MAX + 1];
	struct symbolizer *sym;
	struct agent_ptype types[PROFILER_MAX_TYPES];
	size_t ntypes;
	struct agent_proc *buckets[AGENT_PROC_BUCKETS];
	size_t nprocs;
	/* Start time, name and unit of the processes profiled, kept across
	 * intervals (procs.c; freed by the flush at shutdown). */
	struct proccache ids;
	struct agent_group *groups;     /* this interval's, group_by = service */
	size_t ngroups;
	struct disk_store *disk;
	char *http_token;               /* the token the server runs with */
	char *up_secrets;               /* the uploader's secret files' content */
	int tfd;                        /* the tick timerfd, re-armed at each interval start */
	int64_t interval_start_ns;      /* CLOCK_REALTIME */
	int64_t interval_end_mono;      /* CLOCK_MONOTONIC */
	int64_t last_drain_ns;          /* CLOCK_REALTIME of the last drain */
	uint64_t intervals, profiles, encode_errors, process_limit_drops;
	uint64_t reloads, reload_errors;
	struct agent_shared sh;         /* what the HTTP threads see */
};


int64_t agent_now_ns(int clock);

/* At most one line per this period for errors that repeat every drain. */
#define LOG_EVERY_NS (60LL * 1000000000)

/* Profiles are written or uploaded: the continuous part is on. */
static inline bool agent_continuous(const struct profd_config *cfg)
{
	return *cfg->output_dir || *cfg->upload.url;
}

/* procs.c */
size_t agent_flush_exited(struct agent *a);
void agent_flush_all(struct agent *a, int64_t now_ns);
struct pprof *agent_sink(void *ctx, struct profiler *pr, pid_t pid);

/* profilers.c */
void agent_type_drain(struct agent_ptype *t, bool tick);
void agent_drain_snapshots(struct agent *a);
void agent_profilers_stop(struct agent *a);
int agent_profilers_start(struct agent *a, const struct profd_config *cfg, char *err,
			  size_t errlen);
void agent_profilers_retarget(struct agent *a);

/* components.c */
int agent_disk_start(struct agent *a, const struct profd_config *cfg, char *err, size_t errlen);
void agent_disk_stop(struct agent *a);
char *agent_upload_secrets(const struct profd_config *cfg, char *err, size_t errlen);
void agent_free_secret(char **s);
int agent_upload_start(struct agent *a, const struct profd_config *cfg, char *err,
		       size_t errlen);
void agent_upload_stop(struct agent *a, uint64_t timeout_ns);
int agent_read_token(const struct profd_config *cfg, char *buf, size_t size, char *err,
		     size_t errlen);
int agent_http_start(struct agent *a, const struct profd_config *cfg, char *err, size_t errlen);
void agent_http_stop(struct agent *a);

/* reload.c */
int agent_check_config(const struct profd_config *cfg, char *err, size_t errlen);
void agent_reload(struct agent *a);

/* current.c: answer the queued current-state requests (now_fd readable). */
void agent_now_serve(struct agent *a);

/* interval.c */
void agent_interval_begin(struct agent *a, int64_t at);
void agent_snapshot_update(struct agent *a);
void agent_notify_status(struct agent *a);
void agent_interval_end(struct agent *a, int64_t now);
void agent_tick(struct agent *a);

#endif
