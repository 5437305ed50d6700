// SPDX-License-Identifier: Apache-2.0
/* agent: the continuous run loop. One run per configured type samples
 * every process; each second the loop drains them into one pprof builder
 * per process per type (the sink), flushes processes that exited, and at
 * the end of each interval writes and/or queues for upload every profile,
 * prunes the symbolizer and applies disk retention. Signals come through a
 * signalfd, so the loop is the only place that blocks. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>

#include "agent/agent_internal.h"
#include "unwind/unwinder.h"
#include "util/log.h"
#include "util/sdnotify.h"

/* The least time between two wakes for the walkers' reports. */
#define WALKER_EVENTS_MS 100

int64_t agent_now_ns(int clock)
{
	return run_now_ns(clock);
}

static void shutdown_all(struct agent *a)
{
	atomic_store(&a->sh.stopping, true);
	/* Stopping drains what the collectors still hold into the builders. */
	agent_drain_snapshots(a);
	agent_profilers_stop(a);
	agent_flush_all(a, agent_now_ns(CLOCK_REALTIME));
	agent_http_stop(a);
	agent_upload_stop(a, AGENT_UPLOAD_FLUSH_NS);
	agent_disk_stop(a);
}

int agent_run(const struct agent_opts *o)
{
	char err[CONFIG_ERR_LEN] = "";
	uint64_t wd_usec = 0;
	int64_t wd_last = 0, walker_last = 0;
	int sfd = -1, tfd = -1, ret = EXIT_FAILURE;
	struct agent *a;
	sigset_t mask;
	struct symbolizer_opts so;

	_Static_assert(AGENT_TICK_NS == 1000000000LL, "the timerfd ticks once a second");
	a = calloc(1, sizeof(*a));
	if (!a) {
		log_err("out of memory");
		return EXIT_FAILURE;
	}
	a->o = o;
	a->tfd = -1;
	pthread_mutex_init(&a->sh.lock, NULL);
	pthread_cond_init(&a->sh.now_done, NULL);
	a->sh.now_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (a->sh.now_fd < 0) {
		log_err("cannot create an eventfd: %s", strerror(errno));
		goto out_free;
	}
	if (config__load(&a->cfg, o->config_path, o->overrides, o->n_overrides, err,
			 sizeof(err)) ||
	    agent_check_config(&a->cfg, err, sizeof(err))) {
		log_err("%s", err);
		goto out_free;
	}
	if (gethostname(a->host, sizeof(a->host)))
		a->host[0] = '\0';
	if (sdnotify__watchdog_usec(&wd_usec) <= 0)
		wd_usec = 0;

	/* Before any thread exists, so that every thread inherits the mask
	 * and the signals reach only the signalfd. */
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	sfd = signalfd(-1, &mask, SFD_CLOEXEC);
	tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
	a->tfd = tfd;
	if (sfd < 0 || tfd < 0) {
		log_err("cannot set up signal/timer fds: %s", strerror(errno));
		goto out;
	}
	symbolizer__default_opts(&so);
	so.max_cache_bytes = a->cfg.symbolize_cache_bytes;
	a->sym = symbolizer__new_opts(&so);
	if (!a->sym) {
		log_err("out of memory");
		goto out;
	}
	if (agent_disk_start(a, &a->cfg, err, sizeof(err)) || agent_upload_start(a, &a->cfg, err, sizeof(err)) ||
	    agent_http_start(a, &a->cfg, err, sizeof(err)) ||
	    agent_profilers_start(a, &a->cfg, err, sizeof(err))) {
		log_err("%s", err);
		goto out;
	}
	/* After the profilers attached (per-process probes take a while). */
	agent_interval_begin(a, 0);
	if (!agent_continuous(&a->cfg))
		log_info("no output_dir and no upload url: continuous profiling off, serving "
			 "on-demand profiles only");
	else
		log_info("profiling continuously: %zu type(s), one profile per %s every %.3gs",
			 a->ntypes, a->cfg.group_by == GROUP_BY_SERVICE ? "service" : "process",
			 a->cfg.interval_ns / 1e9);
	agent_snapshot_update(a);
	sdnotify__send("READY=1");
	agent_notify_status(a);

	for (;;) {
		/* The walkers' reports (a new process, a library opened) are
		 * handled when they come, at most every WALKER_EVENTS_MS, so that
		 * a new process's stacks are whole within a fraction of a second;
		 * the drains at each tick handle them too. */
		int64_t mono = agent_now_ns(CLOCK_MONOTONIC);
		bool walker_wait = mono - walker_last < WALKER_EVENTS_MS * 1000000LL;
		struct pollfd pfd[4] = {
			{ .fd = sfd, .events = POLLIN },
			{ .fd = tfd, .events = POLLIN },
			{ .fd = a->sh.now_fd, .events = POLLIN },
			{ .fd = walker_wait ? -1 : unwinder__events_fd(), .events = POLLIN },
		};
		int timeout = -1;

		if (wd_usec) {
			int64_t now = agent_now_ns(CLOCK_MONOTONIC) / 1000;

			if (now - wd_last >= (int64_t)wd_usec / 2) {
				sdnotify__send("WATCHDOG=1");
				wd_last = now;
			}
			timeout = (int)((wd_last + (int64_t)wd_usec / 2 - now) / 1000) + 1;
		}
		if (walker_wait) {
			int left = (int)((walker_last + WALKER_EVENTS_MS * 1000000LL - mono) / 1000000) + 1;

			if (timeout < 0 || left < timeout)
				timeout = left;
		}
		if (poll(pfd, 4, timeout) < 0 && errno != EINTR) {
			log_err("poll: %s", strerror(errno));
			break;
		}
		if (pfd[0].revents & POLLIN) {
			struct signalfd_siginfo si;

			if (read(sfd, &si, sizeof(si)) != sizeof(si))
				continue;
			if (si.ssi_signo == SIGHUP) {
				agent_reload(a);
				continue;
			}
			log_info("%s: flushing the current interval and stopping",
				 strsignal(si.ssi_signo));
			ret = EXIT_SUCCESS;
			break;
		}
		/* Before the tick: a request waits no longer than it must. */
		if (pfd[2].revents & POLLIN)
			agent_now_serve(a);
		if (pfd[3].revents) {
			walker_last = agent_now_ns(CLOCK_MONOTONIC);
			if (pfd[3].revents & POLLIN)
				unwinder__poll_events();
			run__symbolize_new_pids(a->sym);
		}
		if (pfd[1].revents & POLLIN) {
			uint64_t ticks;

			if (read(tfd, &ticks, sizeof(ticks)) < 0 && errno != EAGAIN)
				log_warn("timerfd read: %s", strerror(errno));
			agent_tick(a);
			run__symbolize_new_pids(a->sym);
		}
	}
	sdnotify__send("STOPPING=1");
out:
	shutdown_all(a);
	if (ret == EXIT_SUCCESS)
		log_info("stopped: %llu profiles in %llu interval(s)",
			 (unsigned long long)a->profiles, (unsigned long long)a->intervals + 1);
	symbolizer__free(a->sym);
	if (sfd >= 0)
		close(sfd);
	if (tfd >= 0)
		close(tfd);
out_free:
	config__done(&a->cfg);
	if (a->sh.now_fd >= 0)
		close(a->sh.now_fd);
	pthread_cond_destroy(&a->sh.now_done);
	pthread_mutex_destroy(&a->sh.lock);
	free(a);
	return ret;
}
