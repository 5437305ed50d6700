/* SPDX-License-Identifier: Apache-2.0 */
/* collect/threads: a snapshot of every thread of some processes (or of the
 * host) without stopping them: bpf/threads.bpf.c's task iterator gives each
 * thread's state, scheduler times, kernel stack and saved user registers;
 * the user stack is then walked here with the .eh_frame tables
 * (daemon/unwind/ through gapwalk's per-PC rules) over the target's memory
 * read with process_vm_readv() — no ptrace, no signal. For a thread blocked
 * in futex() the mutex it waits for is read too (glibc's owner tid).
 *
 * A thread running on another CPU at the visit has no kernel stack, and
 * its user registers (and so its user stack) are those of its last kernel
 * entry: flagged THREAD_USER_APPROX. */
#ifndef PROFD_COLLECT_THREADS_H
#define PROFD_COLLECT_THREADS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "profd/abi.h"
#include "profd/threads.h"

struct symbolizer;
struct threads_collector;

/* What a thread blocked in futex() waits for. */
enum thread_wait {
	THREAD_WAIT_NONE = 0,     /* not in futex() */
	THREAD_WAIT_MUTEX,        /* lll_lock protocol (FUTEX_WAIT* on a word == 2)
				   * or FUTEX_LOCK_PI: a glibc mutex; owner read */
	THREAD_WAIT_FUTEX,        /* another futex wait (condvar, semaphore,
				   * barrier...): no owner recorded anywhere */
};

struct thread_info {
	struct profd_thread_rec rec;
	char state;               /* R S D T t X Z P I, like /proc */
	bool on_cpu;              /* R and on a CPU at the visit */
	bool user_approx;         /* registers from the last kernel entry of a
				   * thread running in user mode */
	uint64_t in_state_ns;     /* how long in this state, 0 when unknown */
	size_t nu;                /* user frames, leaf first (ustack[0] exact) */
	uint64_t ustack[PROFD_MAX_STACK_DEPTH];
	/* futex waits */
	enum thread_wait wait;
	uint64_t wait_addr;       /* futex word (the mutex's address) */
	bool pi;                  /* FUTEX_LOCK_PI(2) */
	bool mutex_read;          /* the words below were read */
	uint32_t m_lock, m_owner, m_kind; /* __lock, __owner, __kind */
};

struct threads_snapshot {
	struct thread_info *t;    /* sorted by (tgid, tid) */
	size_t n;
	uint64_t walk_ns;         /* the BPF iterator's walk (all threads) */
	uint64_t unwind_ns;       /* user stacks and mutex words read after it */
	uint64_t spread_ns;       /* last visit - first visit (not atomic!) */
	int64_t wall_ns;          /* CLOCK_REALTIME at the start */
	size_t overflow;          /* records the iterator could not write */
	size_t unreadable;        /* user stacks whose memory could not be read */
};

/* Load the iterator. NULL + errno (message in err). */
struct threads_collector *threads_collector__new(char *err, size_t len);
void threads_collector__free(struct threads_collector *c);

/* Snapshot the threads of pids (npids 0: every thread on the host, kernel
 * threads included). sym (with the pids added or not) finds the mappings
 * for the user-stack walk. 0 or -errno. */
int threads_collector__snapshot(struct threads_collector *c, struct symbolizer *sym,
				const pid_t *pids, size_t npids, struct threads_snapshot *out);
void threads_snapshot__free(struct threads_snapshot *s);

/* "running", "sleeping", ... for a state letter. */
const char *thread_state_name(char state);
/* "read", "futex", ... for an x86-64 syscall number; NULL when unknown. */
const char *thread_syscall_name(uint64_t nr);

#endif
