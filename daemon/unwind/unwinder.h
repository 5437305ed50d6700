/* SPDX-License-Identifier: Apache-2.0 */
/* unwinder: the one .eh_frame walker loader of a profd process, shared by
 * every profile type that walks user stacks in BPF (cpu, heap, mutex, block,
 * threadcreate) and by every thread that runs one (the agent's loop, its
 * HTTP handlers): libc's table is loaded once however many profiles run.
 * Reference counted; calls are serialized by a mutex. */
#ifndef PROFD_UNWINDER_H
#define PROFD_UNWINDER_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "profd/walker.h"

struct bpf_object;
struct profiler_opts;
struct unwinder;

/* A reference to the process's walker for a run with options o, or *out =
 * NULL for frame-pointer stacks (--unwind=fp, or a kernel without what the
 * walker needs: logged once with the reason). -errno only when
 * --unwind=dwarf was asked for and is impossible (logged). who names the
 * profile type in messages. */
int unwinder__get(const struct profiler_opts *o, const char *who, struct unwinder **out);
/* A collector with the walker failed to load (err, e.g. a verifier that
 * rejects it): in auto mode log it, drop *u (set to NULL) and return true
 * so the caller loads the collector again without the walker; false when
 * that is not allowed (--unwind=dwarf) or there was no walker. */
bool unwinder__give_up(struct unwinder **u, const struct profiler_opts *o, const char *who,
		       int err);
/* Drop a reference; the last one frees the loader and its maps. NULL-safe. */
void unwinder__put(struct unwinder *u);

/* Another reference to the process's walker if one exists (NULL if not):
 * keeps its tables across a restart of every profiler (a reload). */
struct unwinder *unwinder__hold(void);

/* Point obj's walker maps (opened, not loaded; it includes bpf/unwind.bpf.h)
 * at the shared ones and fill the walker's .rodata config cfg. 0 or -errno. */
int unwinder__prepare(struct unwinder *u, struct bpf_object *obj, struct profd_unw_config *cfg);
/* For an object that includes bpf/unwind.bpf.h but runs without the walker:
 * shrink its walker maps to nothing. */
void unwinder__disable(struct bpf_object *obj);

/* Load pid's tables now (targets, before their first event); failures are
 * logged as warnings, the walker retries on the pid's events. */
void unwinder__add_pid(struct unwinder *u, pid_t pid);
/* New processes and libraries reported by any walker, exits: call from each
 * profile type's drain (cheap when nothing happened). */
void unwinder__poll(struct unwinder *u);
/* The process's walker, if one exists: a descriptor readable when a walker
 * reported something (-1: none), and unwinder__poll on it. For a loop that
 * wakes on events (the agent's) rather than waiting for the next drain. The
 * descriptor changes when every profiler restarts (a reload): ask again. */
int unwinder__events_fd(void);
void unwinder__poll_events(void);
/* Up to max pids the walker started tracking since the last call (a
 * process it saw for the first time), each with the executable mappings
 * the walker read (unwind/loader.h: the caller releases them), into out;
 * how many. A caller that symbolizes later takes their maps now, read
 * while they lived. */
struct unwind_new_proc;
size_t unwinder__take_new_pids(struct unwind_new_proc *out, size_t max);

struct unwind_loader_stats;
/* The shared loader's counters, with the CPU time its scans, table builds
 * and event handling took in cpu_ns; false when no walker exists. */
bool unwinder__stats(struct unwind_loader_stats *st);

/* Log a collector's walker counters (its own unw_metrics, summed over CPUs)
 * and the shared tables' state. */
void unwinder__log_summary(struct unwinder *u, const uint64_t unw[PROFD_UNW_M_MAX]);
/* For the end-of-run summary of a profile type without the walker: in auto
 * mode, say that it fell back to frame pointers, why, and which stacks are
 * incomplete for it (nothing when the walker was not wanted). */
void unwinder__log_fallback(const struct profiler_opts *o, const char *who);

#endif
