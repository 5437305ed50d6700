// SPDX-License-Identifier: Apache-2.0
/* heap_realloc_null: realloc(NULL, 4096) in realloc_new(), the blocks kept
 * live. glibc's realloc(NULL, n) tail-jumps to malloc, whose probe must
 * skip that call (internal) whether or not the realloc was sampled. The
 * NULL is read from a volatile: gcc turns a literal realloc(NULL, n) into
 * malloc(n). Usage: heap_realloc_null MIB (reads one line from stdin first). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void *volatile keep[1 << 20];
static void *volatile nothing;

__attribute__((noinline)) void realloc_new(size_t n, size_t size)
{
	for (size_t i = 0; i < n; i++) {
		keep[i] = realloc(nothing, size);
		memset(keep[i], 1, 16);
	}
}

int main(int argc, char **argv)
{
	size_t mib = argc > 1 ? strtoul(argv[1], NULL, 10) : 64;
	char line[16];

	if (mib > 4096)
		mib = 4096;
	printf("ready\n");
	fflush(stdout);
	if (!fgets(line, sizeof(line), stdin))
		return 1;
	realloc_new(mib * 256, 4096);
	fprintf(stderr, "truth realloc_new=%zu bytes=%zu\n", mib * 256, mib * 256 * 4096);
	return 0;
}
