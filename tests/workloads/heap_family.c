// SPDX-License-Identifier: Apache-2.0
/* heap_family: each allocation function from its own caller, N times, with
 * known sizes, the blocks kept live (so inuse is known too):
 *   use_calloc        calloc(16, 256)             4096 B each
 *   use_realloc_grow  realloc(malloc... ) 1024 → 8192 (the malloc in
 *                     alloc_for_realloc, the realloc in use_realloc_grow)
 *   use_realloc_shrink realloc(p 8192 → 2048)
 *   use_posix_memalign posix_memalign(64, 3072)
 *   use_aligned_alloc aligned_alloc(256, 5120)
 * Usage: heap_family N (waits for a line on stdin first). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void *volatile keep[6][4096];

__attribute__((noinline)) void *use_calloc(void)
{
	return calloc(16, 256);
}

__attribute__((noinline)) void *alloc_for_realloc(size_t n)
{
	return malloc(n);
}

__attribute__((noinline)) void *use_realloc_grow(void *p)
{
	return realloc(p, 8192);
}

__attribute__((noinline)) void *use_realloc_shrink(void *p)
{
	return realloc(p, 2048);
}

__attribute__((noinline)) void *use_posix_memalign(void)
{
	void *p = NULL;

	return posix_memalign(&p, 64, 3072) ? NULL : p;
}

__attribute__((noinline)) void *use_aligned_alloc(void)
{
	return aligned_alloc(256, 5120);
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 100;
	char line[16];

	if (n > 4096)
		n = 4096;
	printf("ready\n");
	fflush(stdout);
	if (!fgets(line, sizeof(line), stdin))
		return 1;
	for (int i = 0; i < n; i++) {
		keep[0][i] = use_calloc();
		keep[1][i] = use_realloc_grow(alloc_for_realloc(1024));
		keep[2][i] = use_realloc_shrink(alloc_for_realloc(8192));
		keep[3][i] = use_posix_memalign();
		keep[4][i] = use_aligned_alloc();
	}
	sleep(1);
	return 0;
}
