// SPDX-License-Identifier: Apache-2.0
/* libburn.so: CPU burned inside a shared library (for cpu_split). */
#include <time.h>

static double thread_cpu_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Spin until this thread has used `seconds` of CPU. The clock is read
 * every 20000 iterations so the vDSO is a negligible share of the time. */
__attribute__((noinline)) void lib_burn(double seconds)
{
	double until = thread_cpu_s() + seconds;
	volatile unsigned long x = 1;

	do {
		for (int i = 0; i < 20000; i++)
			x = x * 2862933555777941757UL + 3037000493UL;
	} while (thread_cpu_s() < until);
}
