// SPDX-License-Identifier: Apache-2.0
/* metrics: per-CPU counter arrays summed over CPUs. */
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "collect/metrics.h"

void metrics__sum(int fd, uint64_t *out, unsigned int n)
{
	int ncpus = libbpf_num_possible_cpus();

	if (ncpus <= 0)
		return;
	uint64_t vals[ncpus];
	for (__u32 m = 0; m < n; m++) {
		if (bpf_map_lookup_elem(fd, &m, vals))
			continue;
		for (int i = 0; i < ncpus; i++)
			out[m] += vals[i];
	}
}
