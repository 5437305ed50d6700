/* SPDX-License-Identifier: Apache-2.0 */
/* perf_events: one sampling perf event per online CPU with a BPF program
 * attached to each. */
#ifndef PROFD_PERF_EVENTS_H
#define PROFD_PERF_EVENTS_H

#include <stdint.h>

struct bpf_program;
struct bpf_link;

struct perf_events {
	int ncpus;              /* entries in fds/links */
	int *fds;               /* -1 where a CPU was skipped */
	struct bpf_link **links;
};

/* Open a software cpu-clock event sampling at freq_hz on every online CPU
 * and attach prog to each. Returns 0 or -errno (the errno of the first
 * failing perf_event_open, e.g. -EACCES/-EPERM without CAP_PERFMON,
 * -ENOENT/-EOPNOTSUPP without the event). Undoes itself on failure. */
int perf_events__attach_all(struct perf_events *pe, struct bpf_program *prog, uint64_t freq_hz);
void perf_events__detach_all(struct perf_events *pe);

/* Parse a CPU list such as "0-3,5,7-8" (sysfs format) into a bitmap of
 * up to max CPUs; returns the number of CPUs set or -EINVAL. */
int parse_cpu_list(const char *s, unsigned char *mask, int max);

#endif
