// SPDX-License-Identifier: Apache-2.0
/* thread_spawn: spawn_threads() creates N threads (default 40) with
 * pthread_create() and joins them; nothing else creates threads.
 * Usage: thread_spawn [N]. Prints "ready", waits for SIGUSR1, spawns,
 * then exits. */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#define MAX_THREADS 256

static void *idle(void *arg)
{
	return arg;
}

__attribute__((noinline)) int spawn_threads(int n)
{
	pthread_t t[MAX_THREADS];
	int made = 0;

	for (int i = 0; i < n; i++)
		made += !pthread_create(&t[made], NULL, idle, NULL);
	for (int i = 0; i < made; i++)
		pthread_join(t[i], NULL);
	return made;
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 40, sig;
	sigset_t set;

	if (n < 0 || n > MAX_THREADS)
		return 2;
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	printf("ready\n");
	fflush(stdout);
	sigwait(&set, &sig);
	return spawn_threads(n) == n ? 0 : 1;
}
