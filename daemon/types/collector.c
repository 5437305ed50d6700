// SPDX-License-Identifier: Apache-2.0
/* collector: one start sequence for every type's collector. */
#include <errno.h>

#include "collect/bpf_diag.h"
#include "types/collector.h"
#include "types/profiler.h"
#include "unwind/unwinder.h"
#include "util/log.h"
#include "util/phase.h"

void *collector__open(struct profiler *pr, const char *what, collector_open_fn open, void *arg,
		      struct unwinder **unw, int *err)
{
	const char *who = pr->type->name;
	void *col;

	*err = unwinder__get(&pr->opts, who, unw);
	if (*err)
		return NULL;
	phase_mark("unwinder set up");
	bpf_diag__reset();
	col = open(arg, *unw);
	if (!col && unwinder__give_up(unw, &pr->opts, who, -errno)) {
		bpf_diag__reset();
		col = open(arg, NULL);
	}
	if (!col) {
		*err = -errno;
		log_err("cannot load %s: %s", what, bpf_diag__explain(*err));
		return NULL;
	}
	/* Targets get their tables before their first event; any other
	 * process is picked up by its first events (unknown-mapping events). */
	for (size_t i = 0; *unw && i < pr->opts.npids; i++)
		unwinder__add_pid(*unw, pr->opts.pids[i]);
	phase_mark("first unwind tables (targets)");
	if (*unw)
		log_debug("%s: user stacks by the .eh_frame walker", who);
	return col;
}
