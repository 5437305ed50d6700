// SPDX-License-Identifier: Apache-2.0
/* churn: many short-lived processes, for the agent's bounded-memory test.
 * Usage: churn COUNT SPIN_MS PARALLEL [LINGER_MS]. Forks COUNT children in
 * total, at most PARALLEL at a time; each burns SPIN_MS of CPU in
 * child_work(), sleeps LINGER_MS (so that it is still alive when a profiler
 * looks it up) and exits. Prints "ready" first and "done N" when every
 * child was reaped. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static volatile unsigned long sink;

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

__attribute__((noinline)) void child_work(double ms)
{
	double end = now_ms() + ms;
	unsigned long x = 1;

	while (now_ms() < end)
		for (int i = 0; i < 10000; i++)
			x = x * 6364136223846793005UL + 1442695040888963407UL;
	sink = x;
}

int main(int argc, char **argv)
{
	long count = argc > 1 ? atol(argv[1]) : 1000;
	double ms = argc > 2 ? atof(argv[2]) : 5;
	long par = argc > 3 ? atol(argv[3]) : 2, running = 0, done = 0;
	long linger_ms = argc > 4 ? atol(argv[4]) : 0;

	printf("ready\n");
	fflush(stdout);
	for (long i = 0; i < count || running;) {
		if (i < count && running < par) {
			pid_t pid = fork();

			if (pid == 0) {
				struct timespec ts = { linger_ms / 1000, linger_ms % 1000 * 1000000 };

				child_work(ms);
				nanosleep(&ts, NULL);
				_exit(0);
			}
			if (pid > 0) {
				running++;
				i++;
				continue;
			}
			if (!running)
				break;  /* cannot fork and nothing to wait for */
		}
		if (wait(NULL) > 0) {
			running--;
			done++;
		}
	}
	printf("done %ld\n", done);
	return 0;
}
