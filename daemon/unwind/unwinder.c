// SPDX-License-Identifier: Apache-2.0
/* unwinder: one shared, reference-counted unwind loader per process. */
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <bpf/libbpf.h>

#include "collect/bpf_diag.h"
#include "collect/probe.h"
#include "python/python.h"
#include "util/log.h"
#include "types/profiler.h"
#include "unwind/loader.h"
#include "unwind/unwinder.h"

/* Minimum time between two unknown-mapping events of one pid from one CPU:
 * the loader rescans a pid at most once a second anyway; a sample in a
 * file whose table is deferred is news at every poll, and one walk may
 * cross several such files, one event each. */
#define EVENT_INTERVAL_MS 100

struct unwinder {
	struct unwind_loader *l;
	unsigned refs;
	uint64_t cpu_ns; /* thread CPU time in add_pid and poll (lock held) */
	size_t trimmed_builds; /* builds when the heap was last trimmed */
	uint64_t trimmed_ns;   /* CLOCK_MONOTONIC of that trim */
};

/* The heap is trimmed after builds at most this often: with lazy tables a
 * build can come at every poll (5 a second in one-shot runs), and a trim
 * walks the whole heap (the symbol cache's tens of MiB included). */
#define TRIM_INTERVAL_NS 1000000000ULL

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct unwinder shared;
static bool said_why; /* "frame pointers only" logged once per process */

/* Why auto mode fell back to frame pointers, per profile type, for the
 * end-of-run summary ("*": for every type, the walker could not start). */
static struct {
	char who[32];
	char why[400];
} fallbacks[8];

static void remember_fallback(const char *who, const char *why)
{
	for (size_t i = 0; i < sizeof(fallbacks) / sizeof(fallbacks[0]); i++) {
		if (!fallbacks[i].who[0] || !strcmp(fallbacks[i].who, who)) {
			snprintf(fallbacks[i].who, sizeof(fallbacks[i].who), "%s", who);
			snprintf(fallbacks[i].why, sizeof(fallbacks[i].why), "%s", why);
			return;
		}
	}
}

void unwinder__log_fallback(const struct profiler_opts *o, const char *who)
{
	const char *why = NULL;

	if (o->unwind != PROFILER_UNWIND_AUTO)
		return;
	pthread_mutex_lock(&lock);
	for (size_t i = 0; i < sizeof(fallbacks) / sizeof(fallbacks[0]) && fallbacks[i].who[0]; i++)
		if (!strcmp(fallbacks[i].who, who) || (!why && !strcmp(fallbacks[i].who, "*")))
			why = fallbacks[i].why;
	if (why)
		log_warn("unwinding: %s fell back to frame pointers (%s): its user stacks are "
			 "incomplete wherever code has no frame pointers (Debian's glibc, e.g. "
			 "qsort and its callers; -fomit-frame-pointer builds)",
			 who, why);
	pthread_mutex_unlock(&lock);
}

int unwinder__get(const struct profiler_opts *o, const char *who, struct unwinder **out)
{
	struct unwind_loader_opts uo = { .max_table_bytes = o->unwind_max_bytes };
	char why[256];
	int err = 0;

	*out = NULL;
	if (o->unwind == PROFILER_UNWIND_FP)
		return 0;
	pthread_mutex_lock(&lock);
	if (shared.l) {
		shared.refs++;
		*out = &shared;
		goto out;
	}
	err = unwind_loader__probe(why, sizeof(why));
	if (!err) {
		shared.l = unwind_loader__new(&uo);
		if (!shared.l) {
			err = -errno;
			snprintf(why, sizeof(why), "cannot create the unwinder's maps: %s",
				 probe_explain(err));
		}
	}
	if (!err) {
		shared.refs = 1;
		*out = &shared;
		log_debug("unwinder: tables and maps created");
		goto out;
	}
	if (o->unwind == PROFILER_UNWIND_DWARF) {
		log_err("--unwind=dwarf is not possible here (%s): %s", who, why);
		goto out;
	}
	if (!said_why)
		log_info("user stacks by frame pointers only: %s", why);
	said_why = true;
	remember_fallback("*", why);
	err = 0;
out:
	pthread_mutex_unlock(&lock);
	return err;
}

bool unwinder__give_up(struct unwinder **u, const struct profiler_opts *o, const char *who,
		       int err)
{
	const char *why;

	if (!*u || o->unwind != PROFILER_UNWIND_AUTO)
		return false;
	why = bpf_diag__explain(err);
	log_warn("the .eh_frame stack walker did not load for %s (%s): profiling %s without it",
		 who, why, who);
	pthread_mutex_lock(&lock);
	remember_fallback(who, why);
	pthread_mutex_unlock(&lock);
	unwinder__put(*u);
	*u = NULL;
	return true;
}

void unwinder__put(struct unwinder *u)
{
	if (!u)
		return;
	pthread_mutex_lock(&lock);
	if (!--u->refs) {
		struct unwind_loader_stats st;

		unwind_loader__stats(u->l, &st);
		log_debug("unwinder: freed (%zu tables, %zu built since created)", st.tables,
			  st.builds);
		unwind_loader__free(u->l);
		u->l = NULL;
		u->cpu_ns = 0;
	}
	pthread_mutex_unlock(&lock);
}

struct unwinder *unwinder__hold(void)
{
	struct unwinder *u = NULL;

	pthread_mutex_lock(&lock);
	if (shared.l) {
		shared.refs++;
		u = &shared;
	}
	pthread_mutex_unlock(&lock);
	return u;
}

int unwinder__prepare(struct unwinder *u, struct bpf_object *obj, struct profd_unw_config *cfg)
{
	int err;

	/* No lock: the shared maps' fds are fixed while u is referenced, and
	 * a thread loading the targets' tables (collector.c) holds the lock
	 * for as long as that takes. */
	err = unwind_loader__reuse_maps(u->l, obj);
	cfg->enabled = 1;
	cfg->event_interval_ms = EVENT_INTERVAL_MS;
	return err;
}

void unwinder__disable(struct bpf_object *obj)
{
	/* Only the walker's own programs, not loaded now, use these: leave
	 * them uncreated (no memory, and no BPF_F_INNER_MAP template that
	 * kernels before 5.10 would refuse). */
	static const char *const shared_maps[] = { "unw_mappings", "unw_tables", "unw_rules",
						   "unw_events" };

	for (size_t i = 0; i < sizeof(shared_maps) / sizeof(shared_maps[0]); i++) {
		struct bpf_map *m = bpf_object__find_map_by_name(obj, shared_maps[i]);

		if (m)
			bpf_map__set_autocreate(m, false);
	}
}

static uint64_t thread_cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

void unwinder__add_pid(struct unwinder *u, pid_t pid)
{
	uint64_t t0;
	int err;

	pthread_mutex_lock(&lock);
	t0 = thread_cpu_ns();
	err = unwind_loader__add_pid(u->l, pid);
	u->cpu_ns += thread_cpu_ns() - t0;
	pthread_mutex_unlock(&lock);
	if (err)
		log_warn("cannot read the mappings of pid %d for unwinding: %s, retrying on its "
			 "samples", pid, strerror(-err));
}

/* unwinder__poll with the lock held. */
static void poll_locked(struct unwinder *u)
{
	struct unwind_loader_stats st;
	uint64_t t0 = thread_cpu_ns();

	unwind_loader__poll(u->l);
	/* A table build's scratch (MiBs for a large file) is freed into the
	 * heap, where it stays resident: give it back after builds. */
	unwind_loader__stats(u->l, &st);
	if (st.builds != u->trimmed_builds) {
		struct timespec ts;
		uint64_t now;

		clock_gettime(CLOCK_MONOTONIC, &ts);
		now = (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
		if (now - u->trimmed_ns >= TRIM_INTERVAL_NS) {
			u->trimmed_builds = st.builds;
			u->trimmed_ns = now;
			malloc_trim(0);
		}
	}
	u->cpu_ns += thread_cpu_ns() - t0;
}

void unwinder__poll(struct unwinder *u)
{
	pthread_mutex_lock(&lock);
	poll_locked(u);
	pthread_mutex_unlock(&lock);
}

int unwinder__events_fd(void)
{
	int fd;

	pthread_mutex_lock(&lock);
	fd = shared.l ? unwind_loader__events_fd(shared.l) : -1;
	pthread_mutex_unlock(&lock);
	return fd;
}

void unwinder__poll_events(void)
{
	pthread_mutex_lock(&lock);
	if (shared.l)
		poll_locked(&shared);
	pthread_mutex_unlock(&lock);
}

size_t unwinder__take_new_pids(struct unwind_new_proc *out, size_t max)
{
	size_t n = 0;

	pthread_mutex_lock(&lock);
	if (shared.l)
		n = unwind_loader__take_new(shared.l, out, max);
	pthread_mutex_unlock(&lock);
	return n;
}

bool unwinder__stats(struct unwind_loader_stats *st)
{
	bool on;

	pthread_mutex_lock(&lock);
	on = shared.l != NULL;
	if (on) {
		unwind_loader__stats(shared.l, st);
		st->cpu_ns = shared.cpu_ns;
	}
	pthread_mutex_unlock(&lock);
	return on;
}

void unwinder__log_summary(struct unwinder *u, const uint64_t unw[PROFD_UNW_M_MAX])
{
	struct unwind_loader_stats us;
	uint64_t cpu_ns;

	pthread_mutex_lock(&lock);
	unwind_loader__stats(u->l, &us);
	cpu_ns = u->cpu_ns;
	pthread_mutex_unlock(&lock);
	log_info("unwinding: %llu walks, %llu reached the stack root; stopped early: %llu "
		 "unsupported CFI, %llu unreadable stack, %llu bad CFA, %llu bad PC, %llu "
		 "frame-pointer dead ends, %llu frame-0-only rules, %llu too deep; %llu frames "
		 "(%llu CFI, %llu frame-pointer, %llu signal), %llu in unknown mappings",
		 (unsigned long long)unw[PROFD_UNW_M_WALKS],
		 (unsigned long long)unw[PROFD_UNW_M_COMPLETE],
		 (unsigned long long)unw[PROFD_UNW_M_STOP_INVALID],
		 (unsigned long long)unw[PROFD_UNW_M_STOP_READ],
		 (unsigned long long)unw[PROFD_UNW_M_STOP_BAD_CFA],
		 (unsigned long long)unw[PROFD_UNW_M_STOP_BAD_PC],
		 (unsigned long long)unw[PROFD_UNW_M_STOP_FP],
		 (unsigned long long)unw[PROFD_UNW_M_STOP_FRAME0],
		 (unsigned long long)unw[PROFD_UNW_M_STOP_DEPTH],
		 (unsigned long long)unw[PROFD_UNW_M_FRAMES],
		 (unsigned long long)unw[PROFD_UNW_M_TABLE_STEPS],
		 (unsigned long long)unw[PROFD_UNW_M_FP_STEPS],
		 (unsigned long long)unw[PROFD_UNW_M_SIGNAL_STEPS],
		 (unsigned long long)unw[PROFD_UNW_M_UNKNOWN_MAP]);
	log_info("unwind tables: %zu loaded (%zu rows, %zu KiB kernel memory), %zu files "
		 "without CFI, %zu refused by the memory cap, %zu by the rule limit, %zu "
		 "failed to load; %zu processes, %zu scans, built %zu in %.3fs (%zu when a "
		 "sample first fell in the file), %zu files mapped but never sampled (not built); "
		 "%zu unknown-mapping events, %zu of them nothing new; %.3fs of CPU in all",
		 us.tables, us.rows, us.table_bytes >> 10, us.no_cfi, us.refused_cap,
		 us.refused_rules, us.load_errors, us.pids, us.scans, us.builds, us.build_ns / 1e9,
		 us.lazy_builds, us.deferred, us.events, us.events_stale, cpu_ns / 1e9);
	python__log_summary();
}
