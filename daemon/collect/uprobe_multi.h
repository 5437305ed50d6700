/* SPDX-License-Identifier: Apache-2.0 */
/* uprobe_multi: many uprobes of one file and one process in one BPF link
 * (BPF_TRACE_UPROBE_MULTI, Linux 6.6), optionally as a session
 * (BPF_TRACE_UPROBE_SESSION, 6.13: the return half runs only when the entry
 * program returned 0). libbpf 1.1 (Debian 12) predates both: the link is
 * made by the bpf(2) syscall here, and what the kernel accepts is probed. */
#ifndef PROFD_COLLECT_UPROBE_MULTI_H
#define PROFD_COLLECT_UPROBE_MULTI_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

enum uprobe_multi_kind {
	UPROBE_MULTI_NONE = 0,	/* one perf-event uprobe per offset and direction */
	UPROBE_MULTI_PLAIN,	/* BPF_TRACE_UPROBE_MULTI: entries or returns */
	UPROBE_MULTI_SESSION,	/* BPF_TRACE_UPROBE_SESSION: entry and return paired */
};

/* The expected_attach_type a program must be loaded with for kind. */
int uprobe_multi__attach_type(enum uprobe_multi_kind kind);

/* Whether this kernel makes links of kind (a one-instruction program of
 * its attach type, linked to a file that does not exist: the kernel says
 * "no such file" only where it knows the link kind). 0, or -errno with what
 * refused it in why. */
int uprobe_multi__probe(enum uprobe_multi_kind kind, char *why, size_t whylen);

/* One link of prog_fd (loaded for kind) on offsets[i] (file offsets) of
 * path in process pid, with cookies[i]; retprobe: the returns (PLAIN only).
 * The link's fd, or -errno. */
int uprobe_multi__attach(int prog_fd, enum uprobe_multi_kind kind, int retprobe, const char *path,
			 const uint64_t *offsets, const uint64_t *cookies, uint32_t cnt, pid_t pid);

/* "uprobe session" etc. */
const char *uprobe_multi__name(enum uprobe_multi_kind kind);

#endif
