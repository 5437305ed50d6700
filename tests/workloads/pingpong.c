// SPDX-License-Identifier: Apache-2.0
/* pingpong: two threads pass a byte back and forth over two pipes ROUNDS
 * times: every round is two blocking reads, two wakeups and (at least) two
 * context switches. Usage: pingpong RESULT_FILE ROUNDS. Prints "ready",
 * waits for SIGUSR1, runs, writes the wall and process CPU seconds
 * to RESULT_FILE. */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static int ping[2], pong[2];
static unsigned long rounds;

static double now_s(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

__attribute__((noinline)) static void *ponger(void *arg)
{
	char c;

	for (unsigned long i = 0; i < rounds; i++)
		if (read(ping[0], &c, 1) != 1 || write(pong[1], &c, 1) != 1)
			exit(1);
	return arg;
}

__attribute__((noinline)) void pinger(void)
{
	char c = 'x';

	for (unsigned long i = 0; i < rounds; i++)
		if (write(ping[1], &c, 1) != 1 || read(pong[0], &c, 1) != 1)
			exit(1);
}

int main(int argc, char **argv)
{
	pthread_t t;
	sigset_t set;
	double t0, t1, c0, c1;
	FILE *f;
	int sig;

	if (argc < 3 || pipe(ping) || pipe(pong)) {
		fprintf(stderr, "usage: pingpong RESULT_FILE ROUNDS\n");
		return 2;
	}
	rounds = strtoul(argv[2], NULL, 10);
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	printf("ready\n");
	fflush(stdout);
	sigwait(&set, &sig);
	t0 = now_s(CLOCK_MONOTONIC);
	c0 = now_s(CLOCK_PROCESS_CPUTIME_ID);
	pthread_create(&t, NULL, ponger, NULL);
	pinger();
	pthread_join(t, NULL);
	t1 = now_s(CLOCK_MONOTONIC);
	c1 = now_s(CLOCK_PROCESS_CPUTIME_ID);
	f = fopen(argv[1], "w");
	if (!f)
		return 1;
	fprintf(f, "%.6f %.6f\n", t1 - t0, c1 - c0);
	return fclose(f) ? 1 : 0;
}
