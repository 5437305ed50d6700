// SPDX-License-Identifier: Apache-2.0
/* interval: the agent's clock: the 1 s tick (drain), interval ends
 * (flush, retention, retargeting) and the snapshot published to /metrics. */
#include <malloc.h>
#include <sys/timerfd.h>

#include "agent/agent_internal.h"
#include "export/disk.h"
#include "util/log.h"
#include "unwind/unwinder.h"
#include "util/sdnotify.h"

/* Start an interval at CLOCK_MONOTONIC time `at` (the previous one's end,
 * so intervals keep a fixed cadence whatever a flush costs), or now when
 * `at` is 0 or long past. Ticks are counted from that start, so that the
 * interval's last tick falls on its end rather than up to a tick later. */
void agent_interval_begin(struct agent *a, int64_t at)
{
	int64_t now = agent_now_ns(CLOCK_MONOTONIC);
	struct itimerspec its = { .it_interval = { 1, 0 } };

	if (!at || now - at >= AGENT_TICK_NS)
		at = now;
	its.it_value.tv_sec = (at + AGENT_TICK_NS) / 1000000000;
	its.it_value.tv_nsec = (at + AGENT_TICK_NS) % 1000000000;
	if (a->tfd >= 0)
		timerfd_settime(a->tfd, TFD_TIMER_ABSTIME, &its, NULL);
	a->interval_start_ns = agent_now_ns(CLOCK_REALTIME) - (now - at);
	a->last_drain_ns = a->interval_start_ns;
	a->interval_end_mono = at + (int64_t)a->cfg.interval_ns;
}

void agent_snapshot_update(struct agent *a)
{
	struct agent_snapshot s = { 0 };

	for (size_t i = 0; i < a->ntypes; i++) {
		struct agent_ptype *t = &a->types[i];
		struct agent_type_stats *ts = &s.types[s.ntypes++];

		ts->name = t->type->name;
		/* Instances of one type report the same list: add them up. */
		for (size_t j = 0; j < t->ninst; j++) {
			struct profiler_stat st[PROFILER_MAX_STATS];
			size_t n;

			ts->no_builder += t->inst[j]->run.pr.sink_drops;
			if (!t->type->ops->stats)
				continue;
			n = t->type->ops->stats(&t->inst[j]->run.pr, st, PROFILER_MAX_STATS);
			if (!j)
				ts->n = n;
			for (size_t k = 0; k < n && k < ts->n; k++) {
				if (!j)
					ts->st[k] = st[k];
				else if (st[k].kind == ts->st[k].kind) {
					ts->st[k].value += st[k].value;
					ts->st[k].max += st[k].max;
				}
			}
		}
	}
	s.procs = a->nprocs;
	s.intervals = a->intervals;
	s.profiles = a->profiles;
	s.encode_errors = a->encode_errors;
	s.reloads = a->reloads;
	s.reload_errors = a->reload_errors;
	if (a->disk) {
		const struct disk_stats *d = disk_store__stats(a->disk);

		s.disk_on = true;
		s.disk.written = d->written;
		s.disk.errors = d->errors;
		s.disk.enospc = d->enospc;
		s.disk.removed = d->removed;
		s.disk.bytes_used = d->bytes_used;
		s.disk.files = d->files;
	}
	symbolizer__stats(a->sym, &s.sym);
	s.unw_on = unwinder__stats(&s.unw);
	for (size_t i = 0; i < a->ntypes; i++) {
		const struct agent_ptype *t = &a->types[i];

		for (size_t j = 0; t->type->probe_group && j < t->ninst &&
				   s.nprobed < AGENT_MAX_TARGETS; j++)
			s.probed[s.nprobed++] = t->inst[j]->pid ? t->inst[j]->pid : -1;
	}
	s.popts = a->cfg.popts;
	pthread_mutex_lock(&a->sh.lock);
	a->sh.snap = s;
	pthread_mutex_unlock(&a->sh.lock);
}

void agent_notify_status(struct agent *a)
{
	size_t running = 0;

	for (size_t i = 0; i < a->ntypes; i++)
		running += a->types[i].ninst;
	sdnotify__sendf("STATUS=%zu profiler(s) running, %zu process(es) this interval, "
			"%llu profiles so far", running, a->nprocs,
			(unsigned long long)a->profiles);
}

/* End the interval at now (CLOCK_REALTIME, taken before the last drain). */
void agent_interval_end(struct agent *a, int64_t now)
{
	int64_t t0 = agent_now_ns(CLOCK_MONOTONIC), c0 = agent_now_ns(CLOCK_THREAD_CPUTIME_ID);
	uint64_t before = a->profiles;

	agent_drain_snapshots(a);
	agent_flush_all(a, now);
	log_debug("interval %llu: %llu profiles finished in %.1f ms (%.1f ms of CPU)",
		  (unsigned long long)a->intervals, (unsigned long long)(a->profiles - before),
		  (agent_now_ns(CLOCK_MONOTONIC) - t0) / 1e6,
		  (agent_now_ns(CLOCK_THREAD_CPUTIME_ID) - c0) / 1e6);
	symbolizer__prune(a->sym);
	/* The interval's builders are freed, spread over the heap between
	 * what stays: give their pages back, so that RSS between intervals is
	 * what is held (the symbol cache), not the last interval's peak. */
	t0 = agent_now_ns(CLOCK_THREAD_CPUTIME_ID);
	malloc_trim(0);
	log_debug("heap trimmed in %.2f ms of CPU", (agent_now_ns(CLOCK_THREAD_CPUTIME_ID) - t0) / 1e6);
	if (a->disk && disk_store__retain_due(a->disk, now))
		disk_store__retain(a->disk, now);
	a->intervals++;
	agent_interval_begin(a, a->interval_end_mono);
	/* This interval ended at now, its last drain: the next one starts no
	 * earlier (backdated to its ideal start after a late tick it would
	 * overlap, and a process starting in between would get one start, one
	 * file name, in both). */
	if (a->interval_start_ns < now)
		a->interval_start_ns = a->last_drain_ns = now;
	agent_profilers_retarget(a);
	agent_notify_status(a);
}

void agent_tick(struct agent *a)
{
	/* Before the drains: their generation switch is where this tick cuts. */
	int64_t now = agent_now_ns(CLOCK_REALTIME), mono = agent_now_ns(CLOCK_MONOTONIC);

	/* The profiles this tick writes (exited processes', the interval's)
	 * are staged, and synced and named together at its end. */
	disk_store__begin(a->disk);
	for (size_t i = 0; i < a->ntypes; i++)
		agent_type_drain(&a->types[i], true);
	a->last_drain_ns = now;
	/* Exited processes are flushed and forgotten by the symbolizer one by
	 * one (a prune each tick read /proc/PID/stat of every known process
	 * and dropped the cached results of all: a tenth of the steady state
	 * with the host's churn); the prune is the interval's end's. */
	agent_flush_exited(a);
	if (mono >= a->interval_end_mono)
		agent_interval_end(a, now);
	/* fdatasync of each (their writeback under way since their write),
	 * rename, then one fsync per directory: was fsync, rename and a
	 * directory fsync per file, one after the other. */
	disk_store__commit(a->disk);
	agent_snapshot_update(a);
}
