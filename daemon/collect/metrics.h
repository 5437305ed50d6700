/* SPDX-License-Identifier: Apache-2.0 */
/* metrics: reads the per-CPU `metrics` array every BPF object keeps. */
#ifndef PROFD_COLLECT_METRICS_H
#define PROFD_COLLECT_METRICS_H

#include <stdint.h>

/* Add the sum over CPUs of entries 0..n-1 of the PERCPU_ARRAY at fd to
 * out[0..n-1]. Entries that cannot be read add nothing. */
void metrics__sum(int fd, uint64_t *out, unsigned int n);

#endif
