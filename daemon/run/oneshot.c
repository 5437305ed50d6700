// SPDX-License-Identifier: Apache-2.0
/* oneshot: the loop around a one-shot run (run.h): signals, the 1 s drain
 * tick, the stack walker's events between ticks, target exits (pidfds),
 * the deadline, and the final atomic write. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "util/log.h"
#include "run/oneshot.h"
#include "pprof/pprof.h"
#include "run/run.h"
#include "symbolize/symbolizer.h"
#include "unwind/unwinder.h"
#include "util/fileio.h"

#define MAX_TARGETS 1024
/* Fixed slots of the poll set before the targets' pidfds. */
#define FIXED_FDS 3
/* The walker's events (a new process, a sample in a file whose table is
 * not built yet) are handled this often between drain ticks: a stack
 * through several such files is complete after as many polls. */
#define UNWIND_POLL_NS 200000000L

static int64_t elapsed_ns(const struct timespec *a, const struct timespec *b)
{
	return (b->tv_sec - a->tv_sec) * 1000000000LL + (b->tv_nsec - a->tv_nsec);
}

/* A type's text form (--format), written as a profile is: a temporary
 * (0600: it names processes and functions), then renamed. */
static int write_text(struct profiler *pr, int form, const char *path)
{
	char *txt = NULL, tmp[PATH_MAX];
	const char *slash = strrchr(path, '/');
	size_t len = 0;
	FILE *f = open_memstream(&txt, &len);
	int err;

	if (!f)
		return -ENOMEM;
	err = pr->type->ops->text(pr, f, form);
	if (fclose(f) && !err)
		err = -ENOMEM;
	if (!err && snprintf(tmp, sizeof(tmp), "%.*s.%.200s.XXXXXX", slash ? (int)(slash - path + 1) : 0,
			     path, slash ? slash + 1 : path) >= (int)sizeof(tmp))
		err = -ENAMETOOLONG;
	if (!err)
		err = write_file_atomic(path, tmp, (struct iovec[]){ { txt, len } }, 1, 0, 0);
	free(txt);
	return err;
}

int oneshot_run(const struct oneshot_opts *o)
{
	struct itimerspec tick = { .it_interval = { 1, 0 }, .it_value = { 1, 0 } };
	struct itimerspec utick = { .it_interval = { 0, UNWIND_POLL_NS },
				    .it_value = { 0, UNWIND_POLL_NS } };
	struct pollfd pfds[FIXED_FDS + MAX_TARGETS];
	struct unwinder *unw = NULL;
	const char *stop_reason = "duration elapsed";
	struct timespec mono_start, now;
	int sfd = -1, tfd = -1, ufd = -1, npfds = 0, alive, err, ret = EXIT_FAILURE;
	struct run_profile rp = { 0 };
	struct pprof *p;
	sigset_t mask;

	if (o->popts.npids > MAX_TARGETS) {
		log_err("too many target processes (at most %d)", MAX_TARGETS);
		return EXIT_FAILURE;
	}
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	sfd = signalfd(-1, &mask, SFD_CLOEXEC);
	tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
	if (sfd < 0 || tfd < 0 || timerfd_settime(tfd, 0, &tick, NULL)) {
		log_err("cannot set up signal/timer fds: %s", strerror(errno));
		goto cleanup;
	}
	pfds[npfds++] = (struct pollfd){ .fd = sfd, .events = POLLIN };
	pfds[npfds++] = (struct pollfd){ .fd = tfd, .events = POLLIN };
	pfds[npfds++] = (struct pollfd){ .fd = -1, .events = POLLIN }; /* ufd, below */
	/* A pidfd becomes readable when its process exits. A target already
	 * gone keeps its place with fd -1. */
	for (size_t i = 0; i < o->popts.npids; i++)
		pfds[npfds++] = (struct pollfd){
			.fd = syscall(SYS_pidfd_open, o->popts.pids[i], 0),
			.events = POLLIN,
		};

	switch (run_profile__start(&rp, o->type, &o->popts, true, &err)) {
	case RUN_PROFILE_OK:
		break;
	case RUN_PROFILE_NOMEM:
		log_err("out of memory");
		goto cleanup;
	case RUN_PROFILE_HEADER:
		log_err("cannot create profile: %s", strerror(-err));
		goto cleanup;
	case RUN_PROFILE_START:
		goto cleanup;
	}
	/* Kernel frames are named, and user frames get their lines, at the
	 * end, as perf report does: reading kallsyms and libc's DWARF at the
	 * first drain took tens of ms each from the workload being profiled.
	 * Not for a type whose drains name frames (the wait types skip the
	 * tracing glue by name), nor for text output. */
	if (o->type->names_late && o->popts.format == PROFILER_FORMAT_PPROF) {
		symbolizer__kernel_defer(rp.sym);
		symbolizer__user_defer(rp.sym);
	}
	/* A type that walks stacks with the .eh_frame walker shares it. */
	unw = unwinder__hold();
	if (unw) {
		ufd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
		if (ufd >= 0 && timerfd_settime(ufd, 0, &utick, NULL)) {
			close(ufd);
			ufd = -1;
		}
		pfds[2].fd = ufd; /* none: the drain tick alone polls it */
	}
	/* The profile's time is when the command started. */
	rp.start_wall = (int64_t)o->wall_start.tv_sec * 1000000000LL + o->wall_start.tv_nsec;
	clock_gettime(CLOCK_MONOTONIC, &mono_start);
	if (o->type->kind == PROFILER_INSTANT)
		stop_reason = "a snapshot";
	else if (o->popts.npids)
		log_info("profiling %s of %zu process(es) for %.3gs, writing %s", o->type->name,
			 o->popts.npids, o->duration_ns / 1e9, o->output);
	else
		log_info("profiling %s of every process for %.3gs, writing %s", o->type->name,
			 o->duration_ns / 1e9, o->output);

	/* An instant type is read at once: no duration. */
	while (o->type->kind != PROFILER_INSTANT) {
		int64_t left;

		clock_gettime(CLOCK_MONOTONIC, &now);
		left = (int64_t)o->duration_ns - elapsed_ns(&mono_start, &now);
		if (left <= 0)
			break;
		if (poll(pfds, npfds, left / 1000000 + 1) < 0 && errno != EINTR) {
			log_err("poll: %s", strerror(errno));
			goto cleanup;
		}
		if (pfds[0].revents & POLLIN) {
			struct signalfd_siginfo si;

			if (read(sfd, &si, sizeof(si)) == sizeof(si))
				log_info("%s: stopping early", strsignal(si.ssi_signo));
			stop_reason = "signal";
			break;
		}
		if (pfds[1].revents & POLLIN) {
			uint64_t ticks;

			if (read(tfd, &ticks, sizeof(ticks)) < 0 && errno != EAGAIN)
				log_warn("timerfd read: %s", strerror(errno));
			run_profile__tick(&rp);
		}
		if (pfds[2].revents & POLLIN) {
			uint64_t ticks;

			if (read(ufd, &ticks, sizeof(ticks)) < 0 && errno != EAGAIN)
				log_warn("timerfd read: %s", strerror(errno));
			unwinder__poll(unw);
			if (!o->popts.npids)
				run__symbolize_new_pids(rp.sym);
		}
		alive = 0;
		for (int i = FIXED_FDS; i < npfds; i++) {
			if (pfds[i].fd >= 0 && (pfds[i].revents & POLLIN)) {
				close(pfds[i].fd);
				pfds[i].fd = -1;
			}
			alive += pfds[i].fd >= 0;
		}
		if (o->popts.npids && !alive) {
			stop_reason = "every target process exited";
			log_info("every target process exited: stopping");
			break;
		}
	}
	p = run_profile__finish(&rp);
	clock_gettime(CLOCK_MONOTONIC, &now);
	if (o->popts.format != PROFILER_FORMAT_PPROF && o->type->ops->text)
		err = write_text(&rp.run.pr, (int)o->popts.format, o->output);
	else
		err = pprof__write_file(p, o->output);
	if (err) {
		log_err("cannot write profile '%s': %s", o->output, strerror(-err));
		goto cleanup;
	}
	log_info("wrote %s after %.1fs (%s)", o->output, elapsed_ns(&mono_start, &now) / 1e9,
		 stop_reason);
	o->type->ops->summary(&rp.run.pr);
	ret = EXIT_SUCCESS;
cleanup:
	for (int i = FIXED_FDS; i < npfds; i++)
		if (pfds[i].fd >= 0)
			close(pfds[i].fd);
	if (sfd >= 0)
		close(sfd);
	if (tfd >= 0)
		close(tfd);
	if (ufd >= 0)
		close(ufd);
	run_profile__free(&rp);
	unwinder__put(unw);
	return ret;
}
