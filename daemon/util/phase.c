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

static void line(const char *what, double wall, double cpu, double at)
{
	log_debug("start-up: %-34s %8.1f ms wall %8.1f ms cpu  (at %8.1f ms)", what, wall, cpu, at);
}

void phase_mark(const char *what)
{
	phase_mark_split(what, NULL, 0);
}

void phase_mark_split(const char *rest, const char *part, double part_ms)
{
	double w, c, pw, pc;

	if (log_get_level() < LOG_LVL_DEBUG)
		return;
	if (t0 == 0)
		phase_begin();
	w = now(CLOCK_MONOTONIC);
	c = now(CLOCK_PROCESS_CPUTIME_ID);
	/* The part ran inside the phase, in the kernel, on this thread: it
	 * counts as wall and CPU time (capped by what the phase took). */
	pw = part_ms < w - last_wall ? part_ms : w - last_wall;
	pc = part_ms < c - last_cpu ? part_ms : c - last_cpu;
	if (part)
		line(part, pw, pc, w - t0);
	else
		pw = pc = 0;
	line(rest, w - last_wall - pw, c - last_cpu - pc, w - t0);
	last_wall = w;
	last_cpu = c;
}
