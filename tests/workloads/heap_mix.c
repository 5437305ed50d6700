// SPDX-License-Identifier: Apache-2.0
/* heap_mix: known heap behaviour for the heap profile tests.
 * keep_live() allocates LIVE_MB MiB in 4 KiB blocks and keeps them;
 * churn() allocates and frees CHURN_MB MiB in 8 KiB blocks; both run after
 * "ready" so profd (attached by then) sees all of it. Exact counts are
 * printed to stderr at exit: "truth keep_live=N bytes=B churn=N bytes=B".
 * Usage: heap_mix LIVE_MB CHURN_MB [SECONDS_TO_LINGER]. Reads one line from
 * stdin before allocating, so the test can attach first. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void *volatile keep[1 << 20];

__attribute__((noinline)) void keep_live(size_t n, size_t size)
{
	for (size_t i = 0; i < n; i++) {
		keep[i] = malloc(size);
		memset(keep[i], 1, 16);
	}
}

__attribute__((noinline)) void churn(size_t n, size_t size)
{
	for (size_t i = 0; i < n; i++) {
		char *volatile p = malloc(size);

		p[0] = 1;
		free(p);
	}
}

int main(int argc, char **argv)
{
	size_t live_mb = argc > 1 ? atol(argv[1]) : 64;
	size_t churn_mb = argc > 2 ? atol(argv[2]) : 256;
	int linger = argc > 3 ? atoi(argv[3]) : 2;
	size_t nlive = live_mb * 256, nchurn = churn_mb * 128;
	char line[16];

	printf("ready\n");
	fflush(stdout);
	if (!fgets(line, sizeof(line), stdin))
		return 1;
	keep_live(nlive, 4096);
	churn(nchurn, 8192);
	fprintf(stderr, "truth keep_live=%zu bytes=%zu churn=%zu bytes=%zu\n", nlive, nlive * 4096,
		nchurn, nchurn * 8192);
	sleep(linger);
	return 0;
}
