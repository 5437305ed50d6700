// SPDX-License-Identifier: Apache-2.0
/* unwind_heap: heap allocations reached only through code without frame
 * pointers, for the heap profile's .eh_frame walker tests. Usage:
 * unwind_heap MODE
 *   qsort  glibc's qsort (no frame pointers) calls cmp_alloc, which mallocs
 *          and frees a block on every comparison
 *   new    the same through C++ operator new, new[] and new(nothrow) (one,
 *          one and two forwarder frames above malloc in libstdc++), and
 *          the matching deletes, from cmp_new
 *   bench ITERS DEPTH
 *          for bench_heap.sh: after "ready", waits for a line on stdin (so
 *          a profiler can attach first), then times ITERS malloc(64)+free
 *          pairs DEPTH frames (bench_depth) below main and prints
 *          "ns_per_pair=X"
 * qsort and new print "ready" once running, then sort until killed; the
 * process does not grow. Essentially all its time is under sort_loop →
 * qsort, so a debugger stopping it anywhere sees the chain sort_loop →
 * main → _start. Calls are kept (noipa, a use after each call) so every
 * frame is real. */
// cflags: -fomit-frame-pointer -O2
// link: -lstdc++
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* 128 ints: qsort's merge buffer (512 bytes) is on its stack, not malloc'ed,
 * so every allocation comes from a comparator. */
#define N 128

/* libstdc++'s operators, called from C by their mangled names. */
void *_Znwm(unsigned long size);                        /* new */
void *_Znam(unsigned long size);                        /* new[] */
void *_ZnwmRKSt9nothrow_t(unsigned long size, const void *nt); /* new(nothrow) */
void _ZdlPv(void *p);                                   /* delete */
void _ZdaPv(void *p);                                   /* delete[] */
extern const char _ZSt7nothrow;                         /* std::nothrow */

static volatile unsigned long sink;
static void *volatile last; /* the block escapes: malloc/free stay calls */

__attribute__((noipa)) static unsigned long mix(unsigned long x, int n)
{
	for (int i = 0; i < n; i++)
		x = x * 6364136223846793005UL + 1442695040888963407UL;
	return x;
}

__attribute__((noipa)) static int cmp_alloc(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;
	char *p = malloc(32 + (x & 63));

	if (!p)
		abort();
	p[0] = (char)x;
	last = p;
	sink += (unsigned long)p[0];
	free(p);
	sink += 1;
	return (x > y) - (x < y);
}

__attribute__((noipa)) static int cmp_new(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;
	char *p;

	switch (sink % 3) {
	case 0:
		p = _Znwm(32);
		p[0] = (char)x;
		last = p;
		sink += (unsigned long)p[0];
		_ZdlPv(p);
		break;
	case 1:
		p = _Znam(48);
		p[0] = (char)x;
		last = p;
		sink += (unsigned long)p[0];
		_ZdaPv(p);
		break;
	default:
		p = _ZnwmRKSt9nothrow_t(64, &_ZSt7nothrow);
		if (!p)
			abort();
		p[0] = (char)x;
		last = p;
		sink += (unsigned long)p[0];
		_ZdlPv(p);
		break;
	}
	sink += 1;
	return (x > y) - (x < y);
}

__attribute__((noipa)) static void sort_loop(int (*cmp)(const void *, const void *))
{
	static int v[N];

	for (;;) {
		for (int i = 0; i < N; i++)
			v[i] = (int)(mix((unsigned long)i + sink, 1) >> 33);
		qsort(v, N, sizeof(v[0]), cmp);
		sink += (unsigned long)v[0];
	}
}

/* ---- bench ---- */
__attribute__((noipa)) static double bench_pairs(long iters)
{
	struct timespec a, b;

	clock_gettime(CLOCK_MONOTONIC, &a);
	for (long i = 0; i < iters; i++) {
		char *p = malloc(64);

		if (!p)
			abort();
		last = p;
		free(p);
		sink += 1;
	}
	clock_gettime(CLOCK_MONOTONIC, &b);
	return ((b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec)) / (double)iters;
}

__attribute__((noipa)) static double bench_depth(int depth, long iters)
{
	double r = depth > 0 ? bench_depth(depth - 1, iters) : bench_pairs(iters);

	sink += 1;
	return r;
}

static int bench(int argc, char **argv)
{
	long iters = argc > 2 ? atol(argv[2]) : 0;
	int depth = argc > 3 ? atoi(argv[3]) : -1;
	char line[16];

	if (iters <= 0 || depth < 0) {
		fprintf(stderr, "usage: unwind_heap bench ITERS DEPTH\n");
		return 2;
	}
	printf("ready\n");
	fflush(stdout);
	if (!fgets(line, sizeof(line), stdin))
		return 1;
	printf("ns_per_pair=%.1f\n", bench_depth(depth, iters));
	return 0;
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "";
	int (*cmp)(const void *, const void *);

	if (!strcmp(mode, "bench")) {
		return bench(argc, argv);
	} else if (!strcmp(mode, "qsort")) {
		cmp = cmp_alloc;
	} else if (!strcmp(mode, "new")) {
		cmp = cmp_new;
	} else {
		fprintf(stderr, "usage: unwind_heap qsort|new|bench ITERS DEPTH\n");
		return 2;
	}
	printf("ready\n");
	fflush(stdout);
	sort_loop(cmp);
	return 0;
}
