// SPDX-License-Identifier: Apache-2.0
/* cpu_split: burns CPU in a known ratio between burn_main() in this
 * executable and lib_burn() in libburn.so, by thread CPU time, so the truth
 * is exact whatever the machine's speed. Usage: cpu_split SECONDS [MAIN_PCT]
 * (default 70: 70% in burn_main, 30% in lib_burn). Prints "ready" once
 * running, then runs for SECONDS of wall time. CPU_SPLIT_SLICE_SCALE=N
 * makes every slice N times longer: under an emulator (tests/kernels) one
 * pass of the inner loop takes milliseconds, and its overshoot at the end of
 * each short slice would tilt the split towards the shorter share. */
// link: -lburn
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

void lib_burn(double seconds);

static double thread_cpu_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static double wall_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

__attribute__((noinline)) void burn_main(double seconds)
{
	double until = thread_cpu_s() + seconds;
	volatile unsigned long x = 1;

	do {
		for (int i = 0; i < 20000; i++)
			x = x * 6364136223846793005UL + 1442695040888963407UL;
	} while (thread_cpu_s() < until);
}

int main(int argc, char **argv)
{
	double secs = argc > 1 ? atof(argv[1]) : 10;
	double pct = argc > 2 ? atof(argv[2]) : 70;
	double end = wall_s() + secs;
	unsigned seed = 12345;
	double scale = getenv("CPU_SPLIT_SLICE_SCALE") ? atof(getenv("CPU_SPLIT_SLICE_SCALE")) : 1;

	printf("ready\n");
	fflush(stdout);
	while (wall_s() < end) {
		/* Slices of 2..8 ms, varied so that no sampling frequency can
		 * alias with the alternation; the split holds in every slice. */
		double slice = scale * (0.002 + 0.006 * (rand_r(&seed) % 1000) / 1000.0);

		burn_main(slice * pct / 100);
		lib_burn(slice * (100 - pct) / 100);
	}
	return 0;
}
