// SPDX-License-Identifier: Apache-2.0
/* fpdeep: a chain of DEPTH distinct functions (default 11, at most 16)
 * built with frame pointers, hot in the deepest frame, so that the
 * kernel's frame-pointer walk and the .eh_frame walker see the same stack
 * (DEPTH + 1 frames of ours, main, and glibc's start frames for the
 * walker: 16 at the default depth). Distinct functions, not a recursion,
 * so that no two frames share a return address. fpdeep_nofp.c is the same
 * program without frame pointers. tests/bench/bench_unwind.sh compares the
 * walkers' BPF cost per sample and per frame on them.
 * Usage: fpdeep [DEPTH]; prints "ready", spins until killed. */
#include <stdio.h>
#include <stdlib.h>

static volatile unsigned long sink;

__attribute__((noipa)) static unsigned long leaf(unsigned long x)
{
	for (;;)
		sink = x = x * 6364136223846793005UL + 1442695040888963407UL;
	return x;
}

/* dK(n, x): level K of the chain; calls level K + 1 while n > 1. */
#define LEVEL(k, next)                                                         \
	__attribute__((noipa)) static unsigned long d##k(int n, unsigned long x) \
	{                                                                      \
		unsigned long r = n > 1 ? next(n - 1, x + 1) : leaf(x);        \
		sink += r;                                                     \
		return r;                                                      \
	}
#define d17(n, x) leaf(x)
LEVEL(16, d17)
LEVEL(15, d16)
LEVEL(14, d15)
LEVEL(13, d14)
LEVEL(12, d13)
LEVEL(11, d12)
LEVEL(10, d11)
LEVEL(9, d10)
LEVEL(8, d9)
LEVEL(7, d8)
LEVEL(6, d7)
LEVEL(5, d6)
LEVEL(4, d5)
LEVEL(3, d4)
LEVEL(2, d3)
LEVEL(1, d2)

int main(int argc, char **argv)
{
	int depth = argc > 1 ? atoi(argv[1]) : 11;

	if (depth < 1 || depth > 16) {
		fprintf(stderr, "usage: fpdeep [DEPTH 1..16]\n");
		return 2;
	}
	printf("ready\n");
	fflush(stdout);
	sink += d1(depth, 1);
	return 0;
}
