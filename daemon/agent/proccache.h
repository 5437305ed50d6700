/* SPDX-License-Identifier: Apache-2.0 */
/* proccache: what the agent reads about a process from /proc (procinfo.h:
 * start time, name, systemd unit), kept across intervals for as long as
 * the process lives, so that a process sampled every interval is read once
 * in its life rather than three times an interval. Liveness is its pidfd
 * (util/pidwatch.h): a pid whose process exited names a new process and is
 * read anew. The name is read again when a sample's name (the kernel's
 * comm when it was taken) is not the cached one (an exec or a prctl
 * rename), the unit then too, and otherwise every PROCCACHE_UNIT_REFRESH_NS
 * (systemd moves a process between units rarely). Without a pidfd (pre-5.3
 * kernels, the fd budget) nothing is trusted: every lookup reads all three,
 * as the agent did before. Main thread only. */
#ifndef PROFD_PROCCACHE_H
#define PROFD_PROCCACHE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "agent/procinfo.h"
#include "util/pidwatch.h"

#define PROCCACHE_BUCKETS 1024
#define PROCCACHE_UNIT_REFRESH_NS (60LL * 1000000000)
/* A process no lookup asked for in this many intervals (sweeps) is
 * forgotten: one sampled now and then keeps its entry for a minute of
 * 10 s intervals. */
#define PROCCACHE_KEEP_SWEEPS 6

struct proc_ident {
	struct proc_ident *next; /* hash chain */
	pid_t pid;
	int watch;		/* pidwatch slot; -1: no pidfd (nothing trusted) */
	bool exited;		/* its pidfd told (and was closed then) */
	bool has_start;		/* /proc/PID/stat read */
	int64_t start_boot_ns;	/* CLOCK_BOOTTIME start (has_start) */
	bool has_comm;		/* /proc/PID/comm read (else the sample's name) */
	char comm[PROCINFO_COMM_LEN];
	bool has_unit;
	char unit[PROCINFO_UNIT_LEN];
	int64_t unit_read_ns;	/* CLOCK_MONOTONIC of the last cgroup read */
	uint64_t used;		/* sweep count at the last lookup */
};

struct proccache_stats {
	uint64_t lookups;
	uint64_t reads;	   /* /proc files read (stat, comm, cgroup) */
	uint64_t renames;  /* lookups whose sample named the process otherwise */
	uint64_t forgotten; /* entries dropped: exited, unused, pid reused */
};

struct proccache {
	bool ready;
	struct pidwatch watch;
	struct proc_ident *buckets[PROCCACHE_BUCKETS];
	size_t n;
	uint64_t sweeps;
	struct proccache_stats st;
};

void proccache__init(struct proccache *c);
void proccache__done(struct proccache *c);

/* The identity of pid for a sample that named it comm16 (the kernel's 16
 * bytes, NUL-terminated or not; NULL: the sample had no name, then the name
 * is read again). now_mono: CLOCK_MONOTONIC ns. Reads /proc only for what
 * is unknown or may have changed; what cannot be read (the process is
 * gone) is left unset (has_start, has_comm false; has_unit false).
 * NULL when out of memory. The entry lives until the next sweep at least. */
const struct proc_ident *proccache__get(struct proccache *c, pid_t pid, const char *comm16,
					int64_t now_mono);

/* Poll every pidfd (one epoll_wait()) and mark the processes that exited.
 * 0, or -errno when the poll failed (nothing marked). */
int proccache__poll(struct proccache *c);

/* Whether pid's process lives: 1 yes, 0 exited (its pidfd told at the
 * last poll), -1 unknown (no entry or no pidfd: ask kill(pid, 0)). */
int proccache__alive(const struct proccache *c, pid_t pid);

/* At an interval's end: forget processes that exited, those without a
 * pidfd and those no lookup asked for in PROCCACHE_KEEP_SWEEPS sweeps. */
void proccache__sweep(struct proccache *c);

#endif
