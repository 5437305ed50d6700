// SPDX-License-Identifier: Apache-2.0
/* perf_events: per-CPU cpu-clock sampling events with a BPF program each. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/perf_event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <bpf/libbpf.h>

#include "collect/perf_events.h"

#define MAX_CPUS 4096

int parse_cpu_list(const char *s, unsigned char *mask, int max)
{
	int n = 0;

	memset(mask, 0, max);
	while (*s && *s != '\n') {
		char *end;
		long a, b;

		if (!isdigit((unsigned char)*s))
			return -EINVAL;
		a = strtol(s, &end, 10);
		b = a;
		if (*end == '-') {
			if (!isdigit((unsigned char)end[1]))
				return -EINVAL;
			b = strtol(end + 1, &end, 10);
		}
		if (a < 0 || b < a || b >= max)
			return -EINVAL;
		for (long i = a; i <= b; i++) {
			n += !mask[i];
			mask[i] = 1;
		}
		if (*end == ',')
			end++;
		else if (*end && *end != '\n')
			return -EINVAL;
		s = end;
	}
	return n;
}

static int online_cpus(unsigned char *mask, int max)
{
	char buf[4096];
	ssize_t n;
	int fd;

	fd = open("/sys/devices/system/cpu/online", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -EIO;
	buf[n] = '\0';
	return parse_cpu_list(buf, mask, max);
}

void perf_events__detach_all(struct perf_events *pe)
{
	for (int i = 0; i < pe->ncpus; i++) {
		if (pe->links)
			bpf_link__destroy(pe->links[i]);
		if (pe->fds && pe->fds[i] >= 0)
			close(pe->fds[i]);
	}
	free(pe->links);
	free(pe->fds);
	pe->links = NULL;
	pe->fds = NULL;
	pe->ncpus = 0;
}

int perf_events__attach_all(struct perf_events *pe, struct bpf_program *prog, uint64_t freq_hz)
{
	static unsigned char mask[MAX_CPUS];
	struct perf_event_attr attr = {
		.size = sizeof(attr),
		.type = PERF_TYPE_SOFTWARE,
		.config = PERF_COUNT_SW_CPU_CLOCK,
		.freq = 1,
		.sample_freq = freq_hz,
	};
	int err, ncpus, last = -1;

	memset(pe, 0, sizeof(*pe));
	err = online_cpus(mask, MAX_CPUS);
	if (err < 0)
		return err;
	for (int i = 0; i < MAX_CPUS; i++)
		if (mask[i])
			last = i;
	ncpus = last + 1;
	pe->fds = malloc(ncpus * sizeof(*pe->fds));
	pe->links = calloc(ncpus, sizeof(*pe->links));
	if (!pe->fds || !pe->links) {
		err = -ENOMEM;
		goto cleanup;
	}
	pe->ncpus = ncpus;
	for (int cpu = 0; cpu < ncpus; cpu++)
		pe->fds[cpu] = -1;
	for (int cpu = 0; cpu < ncpus; cpu++) {
		if (!mask[cpu])
			continue;
		pe->fds[cpu] = syscall(__NR_perf_event_open, &attr, -1, cpu, -1, PERF_FLAG_FD_CLOEXEC);
		if (pe->fds[cpu] < 0) {
			err = -errno;
			goto cleanup;
		}
		pe->links[cpu] = bpf_program__attach_perf_event(prog, pe->fds[cpu]);
		if (!pe->links[cpu]) {
			err = -errno;
			goto cleanup;
		}
	}
	return 0;
cleanup:
	perf_events__detach_all(pe);
	return err;
}
