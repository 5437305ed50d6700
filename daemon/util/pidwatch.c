// SPDX-License-Identifier: Apache-2.0
/* pidwatch: pidfds in an epoll set, by slot. See pidwatch.h. */
#include <errno.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "util/pidwatch.h"

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif

/* Every watch's pidfds (watches may live in different threads). */
static atomic_size_t open_total;

static size_t nofile_soft(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) || rl.rlim_cur == RLIM_INFINITY)
		return (size_t)1 << 20;
	return rl.rlim_cur;
}

void pidwatch__init(struct pidwatch *w, size_t max_open)
{
	size_t quarter = nofile_soft() / 4;

	*w = (struct pidwatch){ .init = true,
				.max_open = max_open && max_open < quarter ? max_open : quarter };
	/* Without epoll (never on Linux, but ENOMEM, EMFILE), a poll() of
	 * every pidfd at each check. */
	w->epfd = epoll_create1(EPOLL_CLOEXEC);
}

void pidwatch__done(struct pidwatch *w)
{
	if (!w->init)
		return;
	for (size_t i = 0; i < w->nslots; i++)
		if (w->fds[i].fd >= 0)
			close(w->fds[i].fd);
	atomic_fetch_sub(&open_total, w->nopen);
	if (w->epfd >= 0)
		close(w->epfd);
	free(w->fds);
	free(w->owner);
	free(w->free);
	*w = (struct pidwatch){ .max_open = w->max_open };
}

static int grow(struct pidwatch *w)
{
	size_t cap = w->cap ? w->cap * 2 : 64;
	struct pollfd *fds = realloc(w->fds, cap * sizeof(*fds));
	void **owner;
	int *fr;

	if (!fds)
		return -1;
	w->fds = fds;
	owner = realloc(w->owner, cap * sizeof(*owner));
	if (!owner)
		return -1;
	w->owner = owner;
	fr = realloc(w->free, cap * sizeof(*fr));
	if (!fr)
		return -1;
	w->free = fr;
	w->cap = cap;
	return 0;
}

int pidwatch__add(struct pidwatch *w, pid_t pid, void *owner)
{
	size_t slot;
	int fd;

	if (!w->init || w->nopen >= w->max_open ||
	    atomic_load(&open_total) >= nofile_soft() / 2) {
		errno = EMFILE;
		return -1;
	}
	if (!w->nfree && w->nslots == w->cap && grow(w)) {
		errno = ENOMEM;
		return -1;
	}
	fd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (fd < 0)
		return -1;
	slot = w->nfree ? (size_t)w->free[w->nfree - 1] : w->nslots;
	if (w->epfd >= 0) {
		struct epoll_event ev = { .events = EPOLLIN, .data.u64 = slot };

		if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, fd, &ev)) {
			int err = errno;

			close(fd);
			errno = err;
			return -1;
		}
	}
	if (w->nfree)
		w->nfree--;
	else
		w->nslots++;
	w->fds[slot] = (struct pollfd){ .fd = fd, .events = POLLIN };
	w->owner[slot] = owner;
	w->nopen++;
	atomic_fetch_add(&open_total, 1);
	return (int)slot;
}

void pidwatch__remove(struct pidwatch *w, int slot)
{
	if (slot < 0 || (size_t)slot >= w->nslots || w->fds[slot].fd < 0)
		return;
	close(w->fds[slot].fd); /* leaves the epoll set with it: never dup'd */
	w->fds[slot].fd = -1;
	w->fds[slot].revents = 0;
	w->owner[slot] = NULL;
	w->free[w->nfree++] = slot;
	w->nopen--;
	atomic_fetch_sub(&open_total, 1);
}

/* Ready pidfds, a batch at a time: level-triggered, an exited process's
 * pidfd is ready until removed, so each batch must be handled before the
 * next wait or it comes back: at most as many waits as batches of the
 * processes that exited, bounded by the slots. */
static int poll_epoll(struct pidwatch *w, void (*exited)(void *ctx, void *owner), void *ctx)
{
	struct epoll_event ev[64];
	int told = 0;

	for (size_t waits = 0; waits <= w->nslots / 64; waits++) {
		int n = epoll_wait(w->epfd, ev, 64, 0);

		if (n < 0)
			return errno == EINTR ? told : -errno;
		for (int i = 0; i < n; i++) {
			size_t slot = ev[i].data.u64;

			/* Removed by a callback earlier in this batch. */
			if (slot >= w->nslots || w->fds[slot].fd < 0)
				continue;
			told++;
			exited(ctx, w->owner[slot]);
		}
		if (n < 64)
			break;
	}
	return told;
}

int pidwatch__poll(struct pidwatch *w, void (*exited)(void *ctx, void *owner), void *ctx)
{
	int n, told = 0;

	if (!w->nopen)
		return 0;
	if (w->epfd >= 0)
		return poll_epoll(w, exited, ctx);
	n = poll(w->fds, w->nslots, 0);
	if (n < 0)
		return -errno;
	/* The callback may remove slots (fd -1, revents cleared) as it goes. */
	for (size_t i = 0; n > 0 && i < w->nslots; i++) {
		if (w->fds[i].fd < 0 || !w->fds[i].revents)
			continue;
		n--;
		w->fds[i].revents = 0;
		told++;
		exited(ctx, w->owner[i]);
	}
	return told;
}

int pidwatch__exited(const struct pidwatch *w, int slot)
{
	struct pollfd fd;

	if (slot < 0 || (size_t)slot >= w->nslots || w->fds[slot].fd < 0)
		return -EBADF;
	fd = (struct pollfd){ .fd = w->fds[slot].fd, .events = POLLIN };
	if (poll(&fd, 1, 0) < 0)
		return -errno;
	return fd.revents != 0;
}

size_t pidwatch__count(const struct pidwatch *w)
{
	return w->nopen;
}

size_t pidwatch__count_all(void)
{
	return atomic_load(&open_total);
}
