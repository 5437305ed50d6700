// SPDX-License-Identifier: Apache-2.0
/* spin: a fixed amount of CPU work through a few call levels, for
 * overhead benchmarks. Usage: spin ITERATIONS_MILLIONS. Prints the wall
 * time it took in seconds. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static volatile unsigned long sink;

__attribute__((noinline)) unsigned long leaf(unsigned long x)
{
	for (int i = 0; i < 1000; i++)
		x = x * 6364136223846793005UL + 1442695040888963407UL;
	return x;
}

__attribute__((noinline)) unsigned long middle(unsigned long x)
{
	return leaf(x) ^ leaf(x + 1);
}

int main(int argc, char **argv)
{
	long millions = argc > 1 ? atol(argv[1]) : 1000;
	struct timespec a, b;
	unsigned long x = 1;

	clock_gettime(CLOCK_MONOTONIC, &a);
	for (long i = 0; i < millions * 500; i++)
		x = middle(x);
	sink = x;
	clock_gettime(CLOCK_MONOTONIC, &b);
	printf("%.6f\n", b.tv_sec - a.tv_sec + (b.tv_nsec - a.tv_nsec) / 1e9);
	return 0;
}
