/* SPDX-License-Identifier: Apache-2.0 */
/* oneshot: `profd --pid ... --duration ... --output ...`: one profile of one
 * type, written once at the end. */
#ifndef PROFD_ONESHOT_H
#define PROFD_ONESHOT_H

#include <stdint.h>
#include <time.h>

#include "types/profiler.h"

struct oneshot_opts {
	const struct profiler_type *type;
	struct profiler_opts popts;
	uint64_t duration_ns;
	const char *output;
	struct timespec wall_start;
};

/* Profile until the deadline, SIGINT/SIGTERM or the exit of every target,
 * then write the profile atomically. Returns EXIT_SUCCESS/EXIT_FAILURE;
 * errors are logged. */
int oneshot_run(const struct oneshot_opts *o);

#endif
