/* SPDX-License-Identifier: Apache-2.0 */
/* collector: the start sequence every type with a BPF collector shares:
 * take the process's .eh_frame walker (or none), open the collector with
 * it, open it again without it when the walker made it fail to load (auto
 * mode), and load the targets' unwind tables before their first event. */
#ifndef PROFD_TYPES_COLLECTOR_H
#define PROFD_TYPES_COLLECTOR_H

struct profiler;
struct unwinder;

/* Open the collector with walker unw (NULL: frame-pointer stacks); NULL
 * with errno set on failure. arg: the type's own collector options. */
typedef void *(*collector_open_fn)(void *arg, struct unwinder *unw);

/* Returns the collector, *unw the walker it uses (or NULL), or NULL with
 * -errno in *err (logged: "cannot load <what>: <why>"). */
void *collector__open(struct profiler *pr, const char *what, collector_open_fn open, void *arg,
		      struct unwinder **unw, int *err);

#endif
