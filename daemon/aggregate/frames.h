/* SPDX-License-Identifier: Apache-2.0 */
/* frames: raw stacks (kernel and user instruction pointers) → pprof
 * Location ids, through the symbolizer. The one place that knows both the
 * symbolizer's and the pprof builder's types. */
#ifndef PROFD_FRAMES_H
#define PROFD_FRAMES_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "pprof/pprof.h"

struct pprof;
struct symbolizer;

/* How the first user frame was captured. */
enum frames_user_leaf {
	FRAMES_LEAF_EXACT,   /* the interrupted PC: look it up as is */
	FRAMES_LEAF_RETURN,  /* a return address (syscall entry, probe caller): use -1 */
};

struct frames_stats {
	uint64_t frames;        /* frames converted */
	uint64_t unsymbolized;  /* frames left as bare addresses */
	uint64_t deferred;      /* frames whose lines come at the end (not in unsymbolized) */
};

/* Append the locations of one sample to locs (capacity cap), leaf first:
 * kernel frames, then user frames. Returns the number written or -errno. */
int frames__locations(struct pprof *p, struct symbolizer *s, pid_t pid,
		      const uint64_t *kstack, size_t nk, const uint64_t *ustack, size_t nu,
		      enum frames_user_leaf leaf, uint64_t *locs, size_t cap,
		      struct frames_stats *st);

/* The labels every profd sample carries: pid and tid (numbers), comm
 * (process name) and thread (thread name). comm/thread are copied from
 * fixed 16-byte kernel buffers that may lack a NUL. */
struct task_labels {
	char comm[17];
	char thread[17];
	struct pprof_label l[4];
};

void task_labels__fill(struct task_labels *tl, uint32_t pid, uint32_t tid,
		       const char *comm16, const char *thread16);

/* Name the kernel frames added while s deferred kallsyms
 * (symbolizer__kernel_defer), and give their mapping its range; nothing if
 * none was deferred. Stops deferring. 0 or -errno. */
int frames__kernel_resolve(struct pprof *p, struct symbolizer *s);

/* Give their lines to the user frames added while s deferred them
 * (symbolizer__user_defer): the locations of each pinned mapping get what
 * symbolizer__user() would have given them at the time, and their
 * mappings the flags. Stops deferring. st (may be NULL) gets the number of
 * locations looked up (frames) and of those left without lines
 * (unsymbolized). 0 or -errno. */
int frames__user_resolve(struct pprof *p, struct symbolizer *s, struct frames_stats *st);

/* Put pid's executable mapping into p now, so that it becomes mapping 1:
 * pprof shows mapping[0] as the profiled program (File:, Build ID:). */
int frames__main_mapping(struct pprof *p, struct symbolizer *s, pid_t pid);

#endif
