/* SPDX-License-Identifier: Apache-2.0 */
/* waitclass: names of the functions that tell what a wait was, for the
 * mutex profile (which futex waits are lock waits, which wait for Python's
 * GIL) and for dropping the
 * tracing glue at the top of kernel stacks taken in a tracepoint. Pure. */
#ifndef PROFD_WAITCLASS_H
#define PROFD_WAITCLASS_H

/* 1 if name is a libc function that waits to acquire a lock: pthread
 * mutex and rwlock lock/timedlock/clocklock (with or without glibc's
 * underscores and __GI_ alias prefix), glibc's internal lll_lock waits,
 * C11 mtx_lock. Unlock and trylock functions, condition variables and the
 * like are not. */
int waitclass_is_lock_function(const char *name);

/* 1 if name is CPython's take_gil() (or a compiler clone of it,
 * take_gil.constprop.0): the function in which a thread waits for the GIL.
 * Where the interpreter has no symbols (Debian's python3.11) the wait is
 * told by its futex address instead (PROFD_WAIT_EV_GIL). */
int waitclass_is_gil_function(const char *name);

/* The frame a mutex-profile sample gets where a thread waited for the GIL
 * (leafward of the interpreter's frames), and its label lock=GIL. */
#define WAITCLASS_GIL_FRAME "Python GIL"
#define WAITCLASS_LOCK_LABEL "lock"
#define WAITCLASS_GIL_LABEL "GIL"
/* block: a thread that released the GIL on request, blocked until the
 * other took it (drop_gil's forced switch), and its label lock=GIL-handoff. */
#define WAITCLASS_GIL_SWITCH_FRAME "Python GIL handoff"
#define WAITCLASS_GIL_SWITCH_LABEL "GIL-handoff"

/* 1 if name is part of the tracing path into a BPF program (the program
 * itself, bpf_trace_run*, __bpf_trace_*, __traceiter_*), not of the code
 * that was traced. */
int waitclass_is_tracing_glue(const char *name);

#endif
