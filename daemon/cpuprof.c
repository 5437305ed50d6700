// SPDX-License-Identifier: Apache-2.0
/* cpuprof: CPU samples → pprof, labelled by process and thread. */
#include <errno.h>
#include <string.h>

#include "collect/cpu.h"
#include "cpuprof.h"
#include "pprof/pprof.h"

int cpuprof__init(struct cpuprof *cp, struct symbolizer *sym, uint64_t frequency)
{
	int err;

	memset(cp, 0, sizeof(*cp));
	cp->sym = sym;
	cp->period_ns = 1000000000LL / (int64_t)frequency;
	cp->p = pprof__new();
	if (!cp->p)
		return -errno;
	err = pprof__add_sample_type(cp->p, "samples", "count");
	if (!err)
		err = pprof__add_sample_type(cp->p, "cpu", "nanoseconds");
	if (!err)
		err = pprof__set_period(cp->p, "cpu", "nanoseconds", cp->period_ns);
	if (err) {
		pprof__free(cp->p);
		cp->p = NULL;
	}
	return err;
}

void cpuprof__add(const struct cpu_sample *s, void *ctx)
{
	struct cpuprof *cp = ctx;
	uint64_t locs[2 * PROFD_MAX_STACK_DEPTH];
	char comm[PROFD_COMM_LEN + 1], thread[PROFD_COMM_LEN + 1];
	int64_t values[2] = { (int64_t)s->count, (int64_t)s->count * cp->period_ns };
	int n;

	memcpy(comm, s->key->pcomm, PROFD_COMM_LEN);
	comm[PROFD_COMM_LEN] = '\0';
	memcpy(thread, s->key->comm, PROFD_COMM_LEN);
	thread[PROFD_COMM_LEN] = '\0';
	struct pprof_label labels[] = {
		{ .key = "pid", .num = s->key->pid },
		{ .key = "tid", .num = s->key->tid },
		{ .key = "comm", .str = comm[0] ? comm : "?" },
		{ .key = "thread", .str = thread[0] ? thread : "?" },
	};

	n = frames__locations(cp->p, cp->sym, s->key->pid, s->kstack, s->nkstack, s->ustack,
			      s->nustack, FRAMES_LEAF_EXACT, locs, sizeof(locs) / sizeof(locs[0]),
			      &cp->fst);
	if (n < 0 || pprof__add_sample(cp->p, locs, n, values, labels, 4)) {
		cp->errors++;
		return;
	}
	cp->samples += s->count;
}

void cpuprof__done(struct cpuprof *cp)
{
	pprof__free(cp->p);
	cp->p = NULL;
}
