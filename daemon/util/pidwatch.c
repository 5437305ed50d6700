// SPDX-License-Identifier: Apache-2.0
/* pidwatch: one pollfd array of pidfds per watch. See pidwatch.h. */
#include <errno.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdlib.h>
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

	*w = (struct pidwatch){ .max_open = max_open && max_open < quarter ? max_open : quarter };
}

void pidwatch__done(struct pidwatch *w)
{
	for (size_t i = 0; i < w->nslots; i++)
		if (w->fds[i].fd >= 0)
			close(w->fds[i].fd);
	atomic_fetch_sub(&open_total, w->nopen);
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

	if (w->nopen >= w->max_open ||
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
	slot = w->nfree ? (size_t)w->free[--w->nfree] : w->nslots++;
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
	close(w->fds[slot].fd);
	w->fds[slot].fd = -1;
	w->fds[slot].revents = 0;
	w->owner[slot] = NULL;
	w->free[w->nfree++] = slot;
	w->nopen--;
	atomic_fetch_sub(&open_total, 1);
}

int pidwatch__poll(struct pidwatch *w, void (*exited)(void *ctx, void *owner), void *ctx)
{
	int n, told = 0;

	if (!w->nopen)
		return 0;
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
