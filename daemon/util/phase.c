// SPDX-License-Identifier: Apache-2.0
/* phase: start-up timing lines (phase.h). */
#include <time.h>

#include "util/log.h"
#include "util/phase.h"

static double t0, last_wall, last_cpu;

static double now(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

void phase_begin(void)
{
	t0 = last_wall = now(CLOCK_MONOTONIC);
	last_cpu = now(CLOCK_PROCESS_CPUTIME_ID);
}

void phase_mark(const char *what)
{
	double w, c;

	if (log_get_level() < LOG_LVL_DEBUG)
		return;
	if (t0 == 0)
		phase_begin();
	w = now(CLOCK_MONOTONIC);
	c = now(CLOCK_PROCESS_CPUTIME_ID);
	log_debug("start-up: %-34s %8.1f ms wall %8.1f ms cpu  (at %8.1f ms)", what, w - last_wall,
		  c - last_cpu, w - t0);
	last_wall = w;
	last_cpu = c;
}
