// SPDX-License-Identifier: Apache-2.0
/* lock_loop: the uncontended fast path, timed. lock_unlock() takes and
 * releases a pthread mutex ITERS times; an idle second thread exists so
 * glibc uses its multi-threaded (atomic) path. With MODE "syscall" the loop
 * calls getppid() instead (the cost a syscall tracepoint adds). Usage:
 * lock_loop RESULT_FILE ITERS [lock|syscall]. Prints "ready", waits for
 * SIGUSR1, runs, writes the loop's wall and process CPU
 * seconds to RESULT_FILE. */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static volatile unsigned long counter;

static double now_s(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

__attribute__((noinline)) void lock_unlock(unsigned long iters)
{
	for (unsigned long i = 0; i < iters; i++) {
		pthread_mutex_lock(&lock);
		counter++;
		pthread_mutex_unlock(&lock);
	}
}

__attribute__((noinline)) void syscalls(unsigned long iters)
{
	for (unsigned long i = 0; i < iters; i++)
		syscall(SYS_getppid);
}

static void *idle(void *arg)
{
	pause();
	return arg;
}

int main(int argc, char **argv)
{
	int use_syscall = argc > 3 && !strcmp(argv[3], "syscall"), sig;
	unsigned long iters;
	pthread_t t;
	sigset_t set;
	double t0, t1, c0, c1;
	FILE *f;

	if (argc < 3) {
		fprintf(stderr, "usage: lock_loop RESULT_FILE ITERS [lock|syscall]\n");
		return 2;
	}
	iters = strtoul(argv[2], NULL, 10);
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	pthread_create(&t, NULL, idle, NULL);
	printf("ready\n");
	fflush(stdout);
	sigwait(&set, &sig);
	t0 = now_s(CLOCK_MONOTONIC);
	c0 = now_s(CLOCK_PROCESS_CPUTIME_ID);
	if (use_syscall)
		syscalls(iters);
	else
		lock_unlock(iters);
	t1 = now_s(CLOCK_MONOTONIC);
	c1 = now_s(CLOCK_PROCESS_CPUTIME_ID);
	f = fopen(argv[1], "w");
	if (!f)
		return 1;
	fprintf(f, "%.6f %.6f\n", t1 - t0, c1 - c0);
	return fclose(f) ? 1 : 0;
}
