/* SPDX-License-Identifier: Apache-2.0 */
/* pidwatch: exits of the processes a component keeps state for, told by
 * pidfds (Linux 5.3+) in an epoll set, instead of a /proc read or a
 * kill(pid, 0) per process: a check is one epoll_wait() that costs what
 * exited, not what is watched (a poll() of 200 pidfds a second was 4% of
 * the steady agent: each pidfd's poll takes the tasklist lock). A pidfd names one process, not
 * a pid: once it is readable that process has exited (a zombie counts), so
 * a later process with the same pid is another one. Where pidfd_open fails
 * (older kernels, no capability, the fd budget below) pidwatch__add says
 * so and the caller checks that pid its own way (kill, start time).
 * Not thread-safe: one watch per owner thread. */
#ifndef PROFD_PIDWATCH_H
#define PROFD_PIDWATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct pollfd;

struct pidwatch {
	bool init;	    /* pidwatch__init ran (done on a zeroed watch: nothing) */
	int epfd;	    /* the epoll set (data: the slot); -1: poll() the lot */
	struct pollfd *fds; /* by slot; fd -1: a free slot (poll skips it) */
	void **owner;	    /* by slot: what pidwatch__poll hands back */
	int *free;	    /* free slots, a stack */
	size_t nslots, nfree, cap;
	size_t nopen, max_open;
};

/* An empty watch holding at most max_open pidfds (0: no cap of its own)
 * and a quarter of the soft RLIMIT_NOFILE; pidfds of every watch of the
 * process together stay under half of it: the rest is the sockets', maps'
 * and files' (profd keeps the limit a select() handles). */
void pidwatch__init(struct pidwatch *w, size_t max_open);
/* Close every pidfd and free the watch's arrays (init makes it usable
 * again). A watch never initialized (zeroed) is left alone. */
void pidwatch__done(struct pidwatch *w);

/* Watch pid: its slot (>= 0), or -1 when there is no pidfd for it (gone
 * already: -1 with errno ESRCH; else ENOSYS, EMFILE, ENOMEM, ...). Open the
 * watch before reading what identifies the process: if the process is
 * replaced in between, the pidfd names the one that exited and tells. */
int pidwatch__add(struct pidwatch *w, pid_t pid, void *owner);
/* Stop watching slot (from pidwatch__add; < 0 is ignored). */
void pidwatch__remove(struct pidwatch *w, int slot);

/* Call exited(ctx, owner) for every watched process that exited since it
 * was added; it stays watched (and is told again at the next poll) until
 * removed. The callback may remove any slot, not add one. Returns the
 * number told, or -errno when the check failed: then what was told is
 * true, and the caller checks every other process its own way. Never
 * waits. */
int pidwatch__poll(struct pidwatch *w, void (*exited)(void *ctx, void *owner), void *ctx);

/* Whether the process of slot exited, asked now of its pidfd alone: 1
 * yes, 0 no, -errno when slot is no watch's or the poll failed. */
int pidwatch__exited(const struct pidwatch *w, int slot);

/* pidfds open in w, and in every watch of the process. */
size_t pidwatch__count(const struct pidwatch *w);
size_t pidwatch__count_all(void);

#endif
