// SPDX-License-Identifier: Apache-2.0
/* thread_spawn: spawn_threads() creates N threads (default 40) with
 * pthread_create() and joins them, BATCHES times (default 1) 1.5 s apart;
 * nothing else creates threads. Usage: thread_spawn [N [BATCHES]]. Prints
 * "ready", waits for SIGUSR1, spawns, then exits. */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define MAX_THREADS 256

static void *idle(void *arg)
{
	return arg;
}

__attribute__((noinline)) int spawn_threads(int n)
{
	pthread_t *t = calloc(n ? n : 1, sizeof(*t));
	int made = 0;

	if (!t)
		return -1;
	for (int i = 0; i < n; i++)
		made += !pthread_create(&t[made], NULL, idle, NULL);
	for (int i = 0; i < made; i++)
		pthread_join(t[i], NULL);
	free(t);
	return made;
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 40, batches = argc > 2 ? atoi(argv[2]) : 1, sig;
	struct timespec gap = { 1, 500 * 1000 * 1000 };
	sigset_t set;

	if (n < 0 || n > MAX_THREADS || batches < 1)
		return 2;
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	printf("ready\n");
	fflush(stdout);
	sigwait(&set, &sig);
	for (int b = 0; b < batches; b++) {
		if (b)
			nanosleep(&gap, NULL);
		if (spawn_threads(n) != n)
			return 1;
	}
	return 0;
}
