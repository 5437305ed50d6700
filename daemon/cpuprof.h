/* SPDX-License-Identifier: Apache-2.0 */
/* cpuprof: builds a CPU profile (Go's conventions: samples/count,
 * cpu/nanoseconds) from drained cpu collector aggregates. */
#ifndef PROFD_CPUPROF_H
#define PROFD_CPUPROF_H

#include <stdint.h>

#include "frames.h"

struct pprof;
struct symbolizer;
struct cpu_sample;

struct cpuprof {
	struct pprof *p;
	struct symbolizer *sym;
	int64_t period_ns;
	uint64_t samples;        /* samples added */
	uint64_t errors;         /* aggregates that could not be added (ENOMEM) */
	struct frames_stats fst;
};

/* Start a profile: sample types, period. Returns 0 or -errno. */
int cpuprof__init(struct cpuprof *cp, struct symbolizer *sym, uint64_t frequency);
/* cpu_sample_fn: symbolize one aggregate and add it with its labels. */
void cpuprof__add(const struct cpu_sample *s, void *cp);
void cpuprof__done(struct cpuprof *cp);

#endif
