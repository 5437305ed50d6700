/* SPDX-License-Identifier: Apache-2.0 */
/* waitgraph: who waits for whom among a snapshot's threads, from the owner
 * tid each waiter read in the mutex it waits for. Each thread waits for at
 * most one mutex, so the graph is a set of chains that end at a thread
 * doing something else (the holder that everyone behind it waits for), at
 * an owner the snapshot does not hold (exited, another process), at a
 * mutex whose owner is unknown — or in a cycle: a deadlock. Pure, no I/O;
 * input may be garbage (owners that are nobody, self-owned, duplicates). */
#ifndef PROFD_THREADS_WAITGRAPH_H
#define PROFD_THREADS_WAITGRAPH_H

#include <stddef.h>
#include <stdint.h>

#define WG_NOT_WAITING 0   /* owner: the thread waits for no mutex */
#define WG_OWNER_UNKNOWN -1 /* owner: waits for a mutex that records none */

struct wg_node {
	int32_t tid;
	int32_t owner; /* tid of the mutex's owner, or WG_NOT_WAITING / WG_OWNER_UNKNOWN */
};

/* How a chain of waiters ends. */
enum wg_end {
	WG_END_NONE = 0,   /* not waiting (node[i].owner == WG_NOT_WAITING) */
	WG_END_HOLDER,     /* at thread `end`, which waits for no mutex */
	WG_END_CYCLE,      /* in, or behind, cycle `cycle` */
	WG_END_MISSING,    /* at an owner tid the snapshot does not hold (`missing`) */
	WG_END_UNKNOWN,    /* at a mutex whose owner is not recorded (waiter `end`) */
};

struct wg_result {
	size_t n;
	int *next;         /* index of the owner's node, -1 if none / not in the snapshot */
	int *cycle;        /* 1-based cycle number of a node IN a cycle, else 0 */
	enum wg_end *end;  /* per node */
	int *end_node;     /* HOLDER: the holder; UNKNOWN: the last waiter; CYCLE: the
			    * first cycle node reached; MISSING: the last waiter */
	int32_t *missing;  /* MISSING: the absent owner's tid */
	size_t ncycles;
	/* cycles[c] (c from 0) lists the nodes of cycle c + 1 in wait order,
	 * starting at its smallest tid: cycle_nodes[cycle_start[c] ..
	 * cycle_start[c + 1]). */
	size_t *cycle_start;
	int *cycle_nodes;
};

/* 0 or -ENOMEM. Duplicated tids: the first one counts, later ones are
 * treated as not waiting and waited for by nobody. Cycles are numbered in
 * order of their smallest tid. */
int waitgraph__build(const struct wg_node *nodes, size_t n, struct wg_result *out);
void waitgraph__free(struct wg_result *r);

#endif
