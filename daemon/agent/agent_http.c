// SPDX-License-Identifier: Apache-2.0
/* agent_http: what the HTTP server's callbacks answer. An on-demand profile
 * runs its own profiler instance and symbolizer on the request's thread
 * (the continuous ones belong to the main thread), so requests never touch
 * the main loop's state; /metrics reads the snapshot the loop publishes. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "agent/procinfo.h"
#include "agent/shared.h"
#include "http/server.h"
#include "pprof/pprof.h"
#include "run/run.h"
#include "export/upload_worker.h"

/* How quickly a request notices a stop, a reload or its target's exit. */
#define POLL_MS 100

static void reply_msg(struct http_reply *r, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void reply_msg(struct http_reply *r, int status, const char *fmt, ...)
{
	va_list ap;

	r->status = status;
	va_start(ap, fmt);
	vsnprintf(r->message, sizeof(r->message), fmt, ap);
	va_end(ap);
}

/* Claim pid for an on-demand profile of a type with a probe group (heap,
 * allocs: two allocator probes on one process both see nothing), so a
 * process probed continuously or by another request is refused. One table
 * for every group: the registry has one today (a second would only be
 * refused more often). Returns the claimed slot or -1. */
static int probe_claim(struct agent_shared *a, pid_t pid)
{
	int slot = -1;

	pthread_mutex_lock(&a->lock);
	for (size_t i = 0; i < a->snap.nprobed; i++)
		if (a->snap.probed[i] == pid)
			goto out;
	for (int i = 0; i < HTTP_MAX_CONNECTIONS_AGENT; i++) {
		if (a->claims[i] == pid) {
			slot = -1;
			goto out;
		}
		if (!a->claims[i] && slot < 0)
			slot = i;
	}
	if (slot >= 0)
		a->claims[slot] = pid;
out:
	pthread_mutex_unlock(&a->lock);
	return slot;
}

static void probe_release(struct agent_shared *a, int slot)
{
	if (slot < 0)
		return;
	pthread_mutex_lock(&a->lock);
	a->claims[slot] = 0;
	pthread_mutex_unlock(&a->lock);
}

/* For a process a continuous profiler of type's probe group probes (heap,
 * allocs of a [heap] process): its current state, at once, as Go answers
 * /debug/pprof/heap. The main thread builds it (agent/current.c): queue
 * the request, wake it, wait. Returns false when pid is not collected
 * continuously (then the request profiles on demand). */
static bool current_profile(struct agent_shared *a, const struct profiler_type *type, pid_t pid,
			    struct http_reply *rep)
{
	struct agent_now_req req = { .pid = pid, .type = type };
	unsigned gen = atomic_load(&a->gen);
	uint64_t one = 1;
	bool probed = false;

	pthread_mutex_lock(&a->lock);
	for (size_t i = 0; i < a->snap.nprobed && !probed; i++)
		probed = a->snap.probed[i] == pid;
	if (!probed || a->nnow >= HTTP_MAX_CONNECTIONS_AGENT) {
		pthread_mutex_unlock(&a->lock);
		if (probed)
			reply_msg(rep, 503, "too many heap requests at once; try again");
		return probed;
	}
	a->now[a->nnow++] = &req;
	pthread_mutex_unlock(&a->lock);
	/* Fails only when the counter is full: a wake-up is pending then. */
	if (write(a->now_fd, &one, sizeof(one)) < 0)
		one = 0;
	pthread_mutex_lock(&a->lock);
	while (!req.done) {
		struct timespec ts;

		/* The main loop has stopped taking requests, or is stopping
		 * this server (a reload, waiting for us): take ours back (a
		 * taken one is always answered before the loop goes on). */
		if (atomic_load(&a->stopping) || atomic_load(&a->gen) != gen) {
			size_t i;

			for (i = 0; i < a->nnow && a->now[i] != &req; i++)
				;
			if (i < a->nnow) {
				a->now[i] = a->now[--a->nnow];
				pthread_mutex_unlock(&a->lock);
				reply_msg(rep, 503, "profd is stopping or reloading; try again");
				return true;
			}
		}
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += POLL_MS * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&a->now_done, &a->lock, &ts);
	}
	pthread_mutex_unlock(&a->lock);
	if (!req.status)
		return false;   /* its target changed meanwhile */
	if (req.status != 200) {
		reply_msg(rep, req.status, "%s", req.message);
		return true;
	}
	rep->status = 200;
	rep->body = req.body;
	rep->len = req.len;
	return true;
}

static void on_profile(void *ctx, const struct http_profile_req *req, struct http_reply *rep)
{
	struct agent_shared *a = ctx;
	const struct profiler_type *type = req->type;
	struct run_profile rp = { 0 };
	struct profiler_opts opts;
	struct pprof *p;
	pid_t pid = req->pid;
	/* An instant type answers at once: no duration. */
	uint64_t secs = type->kind == PROFILER_INSTANT ? 0
			: req->seconds ? req->seconds : AGENT_HTTP_DEFAULT_SECONDS;
	int64_t start, now, next_drain;
	bool aborted = false, gone = false;
	unsigned gen;
	int pidfd = -1, slot = -1, err;

	if (!pid && !type->http.host_wide) {
		reply_msg(rep, 400, "bad pid: ?pid=N is required for %s profiles", type->name);
		return;
	}
	if (pid && kill(pid, 0) && errno == ESRCH) {
		reply_msg(rep, 404, "no process with pid %d", pid);
		return;
	}
	if (atomic_load(&a->stopping)) {
		reply_msg(rep, 503, "profd is stopping");
		return;
	}
	/* A cumulative type collected continuously: its state now. */
	if (type->probe_group && type->kind == PROFILER_CUMULATIVE && pid && !req->debug &&
	    current_profile(a, type, pid, rep))
		return;
	if (type->probe_group) {
		slot = probe_claim(a, pid);
		if (slot < 0) {
			reply_msg(rep, 409, "pid %d has an %s probe already (a continuous "
				  "profile, see output_dir, or another request): one per process",
				  pid, type->probe_group);
			return;
		}
	}
	gen = atomic_load(&a->gen);
	pthread_mutex_lock(&a->lock);
	opts = a->snap.popts;
	pthread_mutex_unlock(&a->lock);
	opts.pids = pid ? &pid : NULL;
	opts.npids = pid ? 1 : 0;
	/* Readable when the target exits: the profile ends there. */
	if (pid)
		pidfd = syscall(SYS_pidfd_open, pid, 0);
	switch (run_profile__start(&rp, type, &opts, false, &err)) {
	case RUN_PROFILE_OK:
		break;
	case RUN_PROFILE_NOMEM:
		reply_msg(rep, 500, "out of memory");
		goto out;
	case RUN_PROFILE_HEADER:
		reply_msg(rep, 500, "cannot create the profile: %s", strerror(-err));
		goto out;
	case RUN_PROFILE_START:
		reply_msg(rep, 503, "cannot start the %s profiler (see profd's log)", type->name);
		goto out;
	}
	start = rp.start_mono;
	next_drain = start + RUN_TICK_NS;
	for (now = start; now - start < (int64_t)secs * 1000000000;
	     now = run_now_ns(CLOCK_MONOTONIC)) {
		/* The target's exit ends the profile; the client hanging up
		 * ends it too, and frees its slot at once (as Go's does). */
		struct pollfd pfd[2] = { { .fd = pidfd, .events = POLLIN },
					 { .fd = req->client_fd, .events = POLLRDHUP } };

		if (atomic_load(&a->stopping) || atomic_load(&a->gen) != gen) {
			aborted = true;
			break;
		}
		if (poll(pfd, 2, POLL_MS) > 0) {
			if (pfd[0].revents & POLLIN)
				break;
			if (pfd[1].revents & (POLLRDHUP | POLLHUP | POLLERR)) {
				gone = true;
				break;
			}
		}
		if (run_now_ns(CLOCK_MONOTONIC) >= next_drain) {
			run_profile__tick(&rp);
			next_drain += RUN_TICK_NS;
		}
	}
	p = run_profile__finish(&rp);
	if (gone) {
		reply_msg(rep, 503, "the client closed the connection");
		goto out;
	}
	if (aborted) {
		reply_msg(rep, 503, "profd is stopping or reloading; try again");
		goto out;
	}
	/* ?debug=1|2: the type's text form of what it collected. */
	if (req->debug && type->ops->text) {
		FILE *f = open_memstream((char **)&rep->body, &rep->len);

		err = f ? type->ops->text(&rp.run.pr, f, req->debug) : -ENOMEM;
		if (f && fclose(f) && !err)
			err = -ENOMEM;
		if (err) {
			free(rep->body);
			rep->body = NULL;
			reply_msg(rep, 500, "cannot render the %s text: %s", type->name, strerror(-err));
			goto out;
		}
		rep->status = 200;
		goto out;
	}
	/* go tool pprof asks /debug/pprof/symbol about every mapping of a
	 * fetched profile not marked symbolized, and gives up on the whole
	 * profile when that does not answer 200. Nothing could answer better
	 * than profd already did (the request would not even say which pid):
	 * mark them all, so what profd could not name stays an address. */
	for (uint64_t id = 1; !pprof__mapping_mark(p, id, PPROF_HAS_FUNCTIONS); id++)
		;
	err = pprof__encode(p, &rep->body, &rep->len);
	if (err) {
		reply_msg(rep, 500, "cannot encode the profile: %s", strerror(-err));
		goto out;
	}
	rep->status = 200;
out:
	probe_release(a, slot);
	if (pidfd >= 0)
		close(pidfd);
	run_profile__free(&rp);
}

static size_t on_processes(void *ctx, struct http_proc *out, size_t max)
{
	struct dirent *de;
	size_t n = 0;
	DIR *d;

	(void)ctx;
	d = opendir("/proc");
	if (!d)
		return 0;
	while (n < max && (de = readdir(d))) {
		char comm[PROCINFO_COMM_LEN];
		long pid;

		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		pid = strtol(de->d_name, NULL, 10);
		if (pid <= 0 || procinfo__comm((pid_t)pid, comm, sizeof(comm)))
			continue;
		out[n].pid = (int)pid;
		out[n].kernel = procinfo__is_kthread((pid_t)pid);
		snprintf(out[n].name, sizeof(out[n].name), "%s", comm);
		n++;
	}
	closedir(d);
	return n;
}

/* Resident set size from /proc/self/statm (pages). */
static uint64_t own_rss_bytes(void)
{
	unsigned long size = 0, resident = 0;
	FILE *f = fopen("/proc/self/statm", "re");

	if (!f)
		return 0;
	if (fscanf(f, "%lu %lu", &size, &resident) != 2)
		resident = 0;
	fclose(f);
	return (uint64_t)resident * (uint64_t)sysconf(_SC_PAGESIZE);
}

static void metric(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* One line per profile-type counter of this kind: series{type="T"} or, with
 * label, series{type="T",label="<counter name>"}; the value, or the
 * capacity with max. */
static void type_stats(FILE *f, const struct agent_snapshot *s, const char *series,
		       enum profiler_stat_kind kind, const char *label, bool max)
{
	for (size_t i = 0; i < s->ntypes; i++)
		for (size_t j = 0; j < s->types[i].n; j++) {
			const struct profiler_stat *st = &s->types[i].st[j];

			if (st->kind != kind)
				continue;
			fprintf(f, "%s{type=\"%s\"", series, s->types[i].name);
			if (label)
				fprintf(f, ",%s=\"%s\"", label, st->name);
			fprintf(f, "} %llu\n", (unsigned long long)(max ? st->max : st->value));
		}
}

static void value(FILE *f, const char *name, uint64_t v)
{
	fprintf(f, "%s %llu\n", name, (unsigned long long)v);
}

static int on_metrics(void *ctx, char **text, size_t *len)
{
	struct agent_shared *a = ctx;
	struct upload_worker_stats us = { 0 };
	struct http_stats hs = { 0 };
	struct agent_snapshot s;
	bool up_on, http_on;
	struct rusage ru;
	FILE *f;

	pthread_mutex_lock(&a->lock);
	s = a->snap;
	up_on = a->up != NULL;
	if (a->up)
		upload_worker__stats(a->up, &us);
	http_on = a->http != NULL;
	if (a->http)
		http_server__stats(a->http, &hs);
	pthread_mutex_unlock(&a->lock);

	f = open_memstream(text, len);
	if (!f)
		return -ENOMEM;

	metric(f, "profd_samples_total", "counter", "Samples collected, by profile type.");
	type_stats(f, &s, "profd_samples_total", PROFILER_STAT_SAMPLES, NULL, false);
	metric(f, "profd_samples_dropped_total", "counter",
	       "Samples lost, by profile type and reason (no_profile: process limit or out of memory).");
	for (size_t i = 0; i < s.ntypes; i++)
		fprintf(f, "profd_samples_dropped_total{type=\"%s\",reason=\"no_profile\"} %llu\n",
			s.types[i].name, (unsigned long long)s.types[i].no_builder);
	type_stats(f, &s, "profd_samples_dropped_total", PROFILER_STAT_DROPPED, "reason", false);
	metric(f, "profd_bpf_map_entries", "gauge", "Entries of a BPF map at the last drain.");
	type_stats(f, &s, "profd_bpf_map_entries", PROFILER_STAT_MAP, "map", false);
	metric(f, "profd_bpf_map_capacity", "gauge", "Entries a BPF map can hold.");
	type_stats(f, &s, "profd_bpf_map_capacity", PROFILER_STAT_MAP, "map", true);

	/* The types' own gauges and counters: profd_<type>_<name>. */
	for (size_t i = 0; i < s.ntypes; i++)
		for (size_t j = 0; j < s.types[i].n; j++) {
			const struct profiler_stat *st = &s.types[i].st[j];
			char name[128];

			if (st->kind != PROFILER_STAT_GAUGE && st->kind != PROFILER_STAT_COUNTER)
				continue;
			snprintf(name, sizeof(name), "profd_%s_%s", s.types[i].name, st->name);
			metric(f, name, st->kind == PROFILER_STAT_GAUGE ? "gauge" : "counter",
			       st->help ? st->help : st->name);
			value(f, name, st->value);
		}
	metric(f, "profd_processes_tracked", "gauge", "Processes with a profile in progress.");
	value(f, "profd_processes_tracked", s.procs);
	metric(f, "profd_intervals_total", "counter", "Profiling intervals completed.");
	value(f, "profd_intervals_total", s.intervals);
	metric(f, "profd_profiles_total", "counter",
	       "Profiles finished (one per service or process, type and interval).");
	value(f, "profd_profiles_total", s.profiles);
	metric(f, "profd_profiles_failed_total", "counter", "Profiles lost, by stage.");
	fprintf(f, "profd_profiles_failed_total{stage=\"encode\"} %llu\n",
		(unsigned long long)s.encode_errors);
	fprintf(f, "profd_profiles_failed_total{stage=\"write\"} %llu\n",
		(unsigned long long)s.disk.errors);
	fprintf(f, "profd_profiles_failed_total{stage=\"upload_rejected\"} %llu\n",
		(unsigned long long)us.up.rejected);
	fprintf(f, "profd_profiles_failed_total{stage=\"upload_dropped\"} %llu\n",
		(unsigned long long)(us.up.dropped + us.queue_dropped + us.errors));

	metric(f, "profd_profiles_written_total", "counter", "Profiles written under output_dir.");
	value(f, "profd_profiles_written_total", s.disk.written);
	metric(f, "profd_disk_full_total", "counter",
	       "Profile writes that failed on a full disk or quota.");
	value(f, "profd_disk_full_total", s.disk.enospc);
	metric(f, "profd_disk_removed_total", "counter", "Profiles removed by retention.");
	value(f, "profd_disk_removed_total", s.disk.removed);
	metric(f, "profd_disk_bytes", "gauge", "Bytes of profiles under output_dir.");
	value(f, "profd_disk_bytes", s.disk.bytes_used);
	metric(f, "profd_disk_files", "gauge", "Profiles under output_dir.");
	value(f, "profd_disk_files", s.disk.files);

	metric(f, "profd_upload_enabled", "gauge", "1 when profiles are uploaded.");
	value(f, "profd_upload_enabled", up_on);
	metric(f, "profd_profiles_uploaded_total", "counter",
	       "Profiles the store accepted, replayed ones included.");
	value(f, "profd_profiles_uploaded_total", us.up.delivered);
	metric(f, "profd_profiles_replayed_total", "counter",
	       "Of those, profiles sent from the spool.");
	value(f, "profd_profiles_replayed_total", us.up.replayed);
	metric(f, "profd_upload_bytes_total", "counter", "Bytes the store accepted.");
	value(f, "profd_upload_bytes_total", us.up.delivered_bytes);
	metric(f, "profd_upload_attempts_total", "counter", "HTTP requests to the store.");
	value(f, "profd_upload_attempts_total", us.up.attempts);
	metric(f, "profd_upload_failures_total", "counter",
	       "Requests that failed retryably (no connection, timeout, 5xx, 429).");
	value(f, "profd_upload_failures_total", us.up.failures);
	metric(f, "profd_profiles_spooled_total", "counter", "Profiles put in the spool.");
	value(f, "profd_profiles_spooled_total", us.up.spooled);
	metric(f, "profd_upload_queue_length", "gauge", "Profiles waiting in memory for the uploader.");
	value(f, "profd_upload_queue_length", us.queued);
	metric(f, "profd_upload_last_status", "gauge",
	       "HTTP status of the store's last answer (0: none).");
	value(f, "profd_upload_last_status", (uint64_t)(us.up.last_status > 0 ? us.up.last_status : 0));
	metric(f, "profd_spool_bytes", "gauge", "Bytes waiting in the spool.");
	value(f, "profd_spool_bytes", us.spool.bytes);
	metric(f, "profd_spool_items", "gauge", "Profiles waiting in the spool.");
	value(f, "profd_spool_items", us.spool.items);
	metric(f, "profd_spool_dropped_total", "counter", "Profiles the spool had no room for.");
	value(f, "profd_spool_dropped_total", us.spool.dropped);
	metric(f, "profd_spool_corrupt_total", "counter", "Unreadable spool files removed.");
	value(f, "profd_spool_corrupt_total", us.spool.corrupt);

	metric(f, "profd_symbol_cache_bytes", "gauge", "Approximate memory of the symbol cache.");
	value(f, "profd_symbol_cache_bytes", s.sym.bytes);
	metric(f, "profd_symbol_cache_files", "gauge", "ELF files parsed and cached.");
	value(f, "profd_symbol_cache_files", s.sym.files);
	metric(f, "profd_symbol_cache_symbols", "gauge", "Symbols held by the cached files.");
	value(f, "profd_symbol_cache_symbols", s.sym.symbols);
	metric(f, "profd_symbol_cache_processes", "gauge", "Processes whose mappings are held.");
	value(f, "profd_symbol_cache_processes", s.sym.pids);
	metric(f, "profd_symbol_cache_mappings", "gauge", "Mapping records held.");
	value(f, "profd_symbol_cache_mappings", s.sym.mappings);
	metric(f, "profd_symbol_file_parses_total", "counter", "ELF files opened and parsed.");
	value(f, "profd_symbol_file_parses_total", s.sym.file_parses);
	metric(f, "profd_symbol_cache_dwarf_bytes", "gauge", "Of the symbol cache, open DWARF indexes.");
	value(f, "profd_symbol_cache_dwarf_bytes", s.sym.dwarf_bytes);
	metric(f, "profd_symbol_cache_evictions_total", "counter",
	       "Binaries dropped for [symbolize] cache_max_memory (read again when sampled).");
	value(f, "profd_symbol_cache_evictions_total", s.sym.cache_evictions);
	metric(f, "profd_symbol_dwarf_opens_total", "counter",
	       "DWARF files opened (again after an eviction for the budget).");
	value(f, "profd_symbol_dwarf_opens_total", s.sym.dwarf_opens);
	metric(f, "profd_symbol_frame_cache_hits_total", "counter",
	       "Lookups of file-backed code answered from the cached results.");
	value(f, "profd_symbol_frame_cache_hits_total", s.sym.frame_cache_hits);
	metric(f, "profd_symbol_frame_cache_misses_total", "counter",
	       "Lookups of file-backed code resolved from the binary's symbols and DWARF.");
	value(f, "profd_symbol_frame_cache_misses_total", s.sym.frame_cache_misses);

	if (s.unw_on) {
		metric(f, "profd_unwind_processes", "gauge",
		       "Processes whose mappings the stack walker mirrors.");
		value(f, "profd_unwind_processes", s.unw.pids);
		metric(f, "profd_unwind_tables", "gauge", "Unwind tables loaded in the kernel.");
		value(f, "profd_unwind_tables", s.unw.tables);
		metric(f, "profd_unwind_table_bytes", "gauge", "Kernel memory of the unwind tables.");
		value(f, "profd_unwind_table_bytes", s.unw.table_bytes);
		metric(f, "profd_unwind_builds_total", "counter", "Unwind tables built.");
		value(f, "profd_unwind_builds_total", s.unw.builds);
		metric(f, "profd_unwind_scans_total", "counter", "Reads of a process's mappings.");
		value(f, "profd_unwind_scans_total", s.unw.scans);
		metric(f, "profd_unwind_events_total", "counter",
		       "Samples in mappings the walker did not know, reported to the agent.");
		value(f, "profd_unwind_events_total", s.unw.events);
		metric(f, "profd_unwind_events_stale_total", "counter",
		       "Of those, events that needed no rescan (no new executable mapping there).");
		value(f, "profd_unwind_events_stale_total", s.unw.events_stale);
		metric(f, "profd_unwind_cpu_seconds_total", "counter",
		       "CPU time of scans, table builds and uploads, and event handling.");
		fprintf(f, "profd_unwind_cpu_seconds_total %.6f\n", s.unw.cpu_ns / 1e9);
	}

	metric(f, "profd_config_reloads_total", "counter", "SIGHUP reloads, by result.");
	fprintf(f, "profd_config_reloads_total{result=\"ok\"} %llu\n",
		(unsigned long long)s.reloads);
	fprintf(f, "profd_config_reloads_total{result=\"error\"} %llu\n",
		(unsigned long long)s.reload_errors);

	if (http_on) {
		metric(f, "profd_http_requests_total", "counter", "HTTP requests, by outcome.");
		fprintf(f, "profd_http_requests_total{outcome=\"all\"} %llu\n",
			(unsigned long long)hs.requests);
		fprintf(f, "profd_http_requests_total{outcome=\"profile\"} %llu\n",
			(unsigned long long)hs.profiles);
		fprintf(f, "profd_http_requests_total{outcome=\"busy\"} %llu\n",
			(unsigned long long)hs.busy);
		fprintf(f, "profd_http_requests_total{outcome=\"bad\"} %llu\n",
			(unsigned long long)hs.bad);
		fprintf(f, "profd_http_requests_total{outcome=\"unauthorized\"} %llu\n",
			(unsigned long long)hs.unauthorized);
		fprintf(f, "profd_http_requests_total{outcome=\"forbidden\"} %llu\n",
			(unsigned long long)hs.forbidden);
		metric(f, "profd_http_connections_cut_total", "counter",
		       "Connections closed for sending a request too slowly or holding "
		       "more than a user's share.");
		value(f, "profd_http_connections_cut_total", hs.cut);
	}

	getrusage(RUSAGE_SELF, &ru);
	metric(f, "process_cpu_seconds_total", "counter", "CPU time profd used (user + system).");
	fprintf(f, "process_cpu_seconds_total %.6f\n",
		ru.ru_utime.tv_sec + ru.ru_stime.tv_sec +
			(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6);
	metric(f, "process_resident_memory_bytes", "gauge", "profd's resident set size.");
	value(f, "process_resident_memory_bytes", own_rss_bytes());
	metric(f, "process_max_resident_memory_bytes", "gauge", "profd's peak resident set size.");
	value(f, "process_max_resident_memory_bytes", (uint64_t)ru.ru_maxrss * 1024);

	if (fclose(f)) {
		free(*text);
		*text = NULL;
		return -ENOMEM;
	}
	return 0;
}

void agent_http__callbacks(struct agent_shared *a, struct http_callbacks *cb)
{
	*cb = (struct http_callbacks){
		.profile = on_profile,
		.processes = on_processes,
		.metrics = on_metrics,
		.ctx = a,
	};
}
