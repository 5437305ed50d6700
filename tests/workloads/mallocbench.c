// SPDX-License-Identifier: Apache-2.0
/* mallocbench: ns per malloc(SIZE)+free pair over ITERS pairs, through
 * volatile function pointers (nothing elided). Waits for a line on stdin
 * when GATE is set, so a profiler can attach first.
 * Usage: mallocbench ITERS SIZE [gate]. Prints "ns_per_pair=X". */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static void *(*volatile do_malloc)(size_t) = malloc;
static void (*volatile do_free)(void *) = free;

int main(int argc, char **argv)
{
	long iters = argc > 1 ? atol(argv[1]) : 1000000;
	size_t size = argc > 2 ? atol(argv[2]) : 64;
	struct timespec a, b;
	char line[16];

	if (argc > 3) {
		printf("ready\n");
		fflush(stdout);
		if (!fgets(line, sizeof(line), stdin))
			return 1;
	}
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (long i = 0; i < iters; i++)
		do_free(do_malloc(size));
	clock_gettime(CLOCK_MONOTONIC, &b);
	printf("ns_per_pair=%.1f\n", ((b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec)) / iters);
	return 0;
}
