// SPDX-License-Identifier: Apache-2.0
/* heap_threads: THREADS threads each allocate N blocks of 1 KiB from
 * thread_alloc() and keep them, all at once. Usage: heap_threads THREADS N
 * (waits for a line on stdin first). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

static int n;

__attribute__((noinline)) void *thread_alloc(void *arg)
{
	void **keep = malloc(n * sizeof(void *));

	(void)arg;
	for (int i = 0; i < n; i++)
		keep[i] = malloc(1024);
	return keep;
}

int main(int argc, char **argv)
{
	int threads = argc > 1 ? atoi(argv[1]) : 4;
	pthread_t t[64];
	char line[16];

	n = argc > 2 ? atoi(argv[2]) : 1000;
	if (threads > 64)
		threads = 64;
	printf("ready\n");
	fflush(stdout);
	if (!fgets(line, sizeof(line), stdin))
		return 1;
	for (int i = 0; i < threads; i++)
		pthread_create(&t[i], NULL, thread_alloc, NULL);
	for (int i = 0; i < threads; i++)
		pthread_join(t[i], NULL);
	return 0;
}
