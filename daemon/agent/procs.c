// SPDX-License-Identifier: Apache-2.0
/* procs: the agent's process table and the runs' sink: for the current
 * interval one builder per service per type (group_by = service: every
 * process of the service, finished when the interval ends) or per process
 * per type (group_by = process: finished when the process exits or the
 * interval ends), handed to disk and upload. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/agent_internal.h"
#include "aggregate/frames.h"
#include "export/disk.h"
#include "export/pyroscope.h"
#include "export/upload_worker.h"
#include "util/log.h"

static struct agent_proc **proc_slot(struct agent *a, pid_t pid)
{
	struct agent_proc **pp = &a->buckets[(uint32_t)pid % AGENT_PROC_BUCKETS];

	while (*pp && (*pp)->pid != pid)
		pp = &(*pp)->next;
	return pp;
}

/* The group of service this interval, made when missing; its start the
 * earliest of its processes'. NULL when out of memory or over the limit. */
static struct agent_group *group_get(struct agent *a, const char *service, int64_t start_ns)
{
	struct agent_group *g;

	for (g = a->groups; g; g = g->next)
		if (!strcmp(g->service, service))
			break;
	if (!g) {
		if (a->ngroups >= AGENT_MAX_PROCS)
			return NULL;
		g = calloc(1, sizeof(*g));
		if (!g)
			return NULL;
		snprintf(g->service, sizeof(g->service), "%s", service);
		g->start_ns = start_ns;
		g->next = a->groups;
		a->groups = g;
		a->ngroups++;
	}
	if (start_ns < g->start_ns)
		g->start_ns = start_ns;
	return g;
}

static struct agent_proc *proc_new(struct agent *a, pid_t pid, const char *comm16)
{
	static int64_t last_full_log;
	const struct proc_ident *id;
	struct agent_proc *p;
	const char *svc;

	if (a->nprocs >= AGENT_MAX_PROCS) {
		int64_t now = agent_now_ns(CLOCK_MONOTONIC);

		if (!last_full_log || now - last_full_log > LOG_EVERY_NS) {
			log_warn("more than %d processes with samples in one interval: dropping the "
				 "samples of the others (counted in metrics)", AGENT_MAX_PROCS);
			last_full_log = now;
		}
		return NULL;
	}
	/* What /proc says of it: read in its first interval, then kept
	 * while it lives, the name read again when the sample's is another
	 * (proccache.h). */
	id = proccache__get(&a->ids, pid, comm16, agent_now_ns(CLOCK_MONOTONIC));
	if (!id)
		return NULL;
	p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->pid = pid;
	/* The profile covers the interval, or the process's life since it
	 * started in it; if it is gone already, its samples were at least
	 * taken after the previous drain. */
	if (id->has_start)
		p->start_ns = agent_now_ns(CLOCK_REALTIME) -
			      (agent_now_ns(CLOCK_BOOTTIME) - id->start_boot_ns);
	else
		p->start_ns = a->last_drain_ns;
	if (p->start_ns < a->interval_start_ns)
		p->start_ns = a->interval_start_ns;
	/* The process's name now, the one `ps` shows: the first sample's
	 * may predate an exec (`sh -c prog` samples as `sh` first). The
	 * sample's name is what is left when the process already exited. */
	if (id->has_comm)
		snprintf(p->comm, sizeof(p->comm), "%s", id->comm);
	else if (comm16 && comm16[0])
		snprintf(p->comm, sizeof(p->comm), "%.*s", PROCINFO_COMM_LEN - 1, comm16);
	else
		snprintf(p->comm, sizeof(p->comm), "unknown");
	svc = config__service_for(&a->cfg, p->comm, id->has_unit ? id->unit : NULL);
	if (svc)
		snprintf(p->service, sizeof(p->service), "%s", svc);
	else
		procinfo__default_service(id->has_unit ? id->unit : NULL, p->comm, p->service,
					  sizeof(p->service));
	if (a->cfg.group_by == GROUP_BY_SERVICE) {
		p->group = group_get(a, p->service, p->start_ns);
		if (!p->group) {
			free(p);
			return NULL;
		}
	}
	*proc_slot(a, pid) = p;
	a->nprocs++;
	return p;
}

/* profiler_sink_fn: the builder of (pid, type) for this interval. */
struct pprof *agent_sink(void *ctx, struct profiler *pr, pid_t pid)
{
	struct agent_ptype *t = ctx;
	struct agent *a = t->a;
	struct agent_proc *p = *proc_slot(a, pid);
	struct pprof *b, **slot;

	/* A snapshot holds what a process that exited since left behind (its
	 * in-use memory is meaningless now): no profile for it. */
	if (!p && t->type->kind != PROFILER_DELTA && kill(pid, 0) && errno == ESRCH)
		return NULL;
	if (!p)
		p = proc_new(a, pid, pr->sink_comm);
	if (!p)
		return NULL;
	/* One builder for every process of a service: mappings and
	 * locations stay apart where processes differ (a mapping is its
	 * range, offset and file; a location its mapping and address), and
	 * every sample carries its pid and comm labels. */
	slot = p->group ? &p->group->prof[t->pt] : &p->prof[t->pt];
	if (*slot)
		return *slot;
	b = pprof__new();
	if (!b)
		return NULL;
	if (profiler_init_profile(pr, b)) {
		pprof__free(b);
		return NULL;
	}
	/* Best effort: a process already gone has no executable to name. */
	frames__main_mapping(b, a->sym, pid);
	*slot = b;
	return b;
}

/* What a finished profile is of: one process, or (pid 0, comm NULL) one
 * service's processes. */
struct profile_of {
	pid_t pid;
	const char *comm;
	const char *service;
	int64_t start_ns;
};

/* Encode one finished profile, write it and/or queue it for upload. */
static void finish_profile(struct agent *a, const struct profile_of *p, struct pprof *b, int pt,
			   int64_t end_ns)
{
	static int64_t last_log;
	const struct profiler_type *type = profiler_type_at(pt);
	uint8_t *gz = NULL;
	size_t len = 0;
	int err;

	pprof__set_time(b, p->start_ns, end_ns > p->start_ns ? end_ns - p->start_ns : 0);
	err = pprof__encode(b, &gz, &len);
	if (err) {
		int64_t now = agent_now_ns(CLOCK_MONOTONIC);

		a->encode_errors++;
		if (!last_log || now - last_log > LOG_EVERY_NS) {
			if (p->pid)
				log_warn("cannot encode the %s profile of pid %d: %s, dropping it",
					 type->name, p->pid, strerror(-err));
			else
				log_warn("cannot encode the %s profile of service %s: %s, dropping it",
					 type->name, p->service, strerror(-err));
			last_log = now;
		}
		return;
	}
	a->profiles++;
	/* Failures are counted and logged by the store. */
	if (a->disk)
		disk_store__write(a->disk, p->pid ? p->comm : p->service, p->pid, type->name,
				  p->start_ns, gz, len, NULL, 0);
	if (a->sh.up) {
		struct pyroscope_meta m = {
			.type = type,
			.service_name = p->service,
			.host = a->host,
			.pid = p->pid,
			.process = p->comm,
			.start_ns = p->start_ns,
			.end_ns = end_ns,
		};

		upload_worker__enqueue_take(a->sh.up, &m, gz, len);
		gz = NULL;
	}
	free(gz);
}

/* A process's profiles (group_by = process; in a group it has none: its
 * samples stay in the group's until the interval ends). */
static void proc_finish_free(struct agent *a, struct agent_proc *p, int64_t end_ns)
{
	struct profile_of of = { p->pid, p->comm, p->service, p->start_ns };

	for (int pt = 0; pt < (int)profiler_type_count(); pt++) {
		if (!p->prof[pt])
			continue;
		finish_profile(a, &of, p->prof[pt], pt, end_ns);
		pprof__free(p->prof[pt]);
	}
	free(p);
	a->nprocs--;
}

/* Flush the processes seen gone at the previous tick (their last samples
 * came in with this tick's drain) and mark those gone now: by their
 * pidfds (one epoll_wait() for all), else kill(pid, 0), which needs no
 * privilege (EPERM still means alive). Returns how many were flushed. */
size_t agent_flush_exited(struct agent *a)
{
	bool polled = !proccache__poll(&a->ids);
	size_t n = 0;

	for (size_t i = 0; i < AGENT_PROC_BUCKETS; i++) {
		struct agent_proc **pp = &a->buckets[i];

		while (*pp) {
			struct agent_proc *p = *pp;
			int alive;

			if (p->exited) {
				*pp = p->next;
				/* Its mappings' records go now, not at the
				 * interval's end: churn stays cheap. */
				symbolizer__forget_pid(a->sym, p->pid);
				proc_finish_free(a, p, p->exit_ns);
				n++;
				continue;
			}
			/* The time of the check, not the tick's: the drains
			 * before it can take a while on a busy host. */
			alive = polled ? proccache__alive(&a->ids, p->pid) : -1;
			if (!alive || (alive < 0 && kill(p->pid, 0) && errno == ESRCH)) {
				p->exited = true;
				p->exit_ns = agent_now_ns(CLOCK_REALTIME);
			}
			pp = &p->next;
		}
	}
	return n;
}

void agent_flush_all(struct agent *a, int64_t now_ns)
{
	for (size_t i = 0; i < AGENT_PROC_BUCKETS; i++) {
		while (a->buckets[i]) {
			struct agent_proc *p = a->buckets[i];

			a->buckets[i] = p->next;
			proc_finish_free(a, p, p->exited ? p->exit_ns : now_ns);
		}
	}
	while (a->groups) {
		struct agent_group *g = a->groups;
		struct profile_of of = { 0, NULL, g->service, g->start_ns };

		a->groups = g->next;
		for (int pt = 0; pt < (int)profiler_type_count(); pt++) {
			if (!g->prof[pt])
				continue;
			finish_profile(a, &of, g->prof[pt], pt, now_ns);
			pprof__free(g->prof[pt]);
		}
		free(g);
	}
	a->ngroups = 0;
	/* The interval's end: forget the identities of processes that exited
	 * or went unsampled; at shutdown, all of them. */
	if (atomic_load(&a->sh.stopping))
		proccache__done(&a->ids);
	else
		proccache__sweep(&a->ids);
}
