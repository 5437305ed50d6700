// SPDX-License-Identifier: Apache-2.0
/* unwind_wait_contend: a contended-lock loop in code without frame
 * pointers, for the walker-vs-gap-walk benchmark of the mutex profile:
 * every iteration is one lock wait, and nothing spins (the benchmark host
 * has 2 shared cores). The holder thread takes the mutex, wakes the waiter
 * and sleeps HOLD_US holding it; the waiter, from locked_step(), blocks in
 * pthread_mutex_lock until the holder unlocks, then reports back. Usage:
 * unwind_wait_contend RESULT_FILE ITERS. Prints "ready", waits for
 * SIGUSR1, runs, writes the loop's wall and process CPU seconds to
 * RESULT_FILE. */
// cflags: -fomit-frame-pointer -O2
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

/* Long enough for the woken waiter to reach the futex wait (a wakeup and a
 * few hundred instructions) on a busy host. */
#define HOLD_US 100

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned long iters;
static int go_fd, done_fd;
static volatile unsigned long shared;

static double now_s(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void signal_fd(int fd)
{
	uint64_t one = 1;

	if (write(fd, &one, sizeof(one)) != sizeof(one))
		exit(1);
}

static void wait_fd(int fd)
{
	uint64_t v;

	if (read(fd, &v, sizeof(v)) != sizeof(v))
		exit(1);
}

__attribute__((noipa)) static void locked_step(unsigned long i)
{
	pthread_mutex_lock(&lock);
	shared += i;
	pthread_mutex_unlock(&lock);
	shared += 1;
}

__attribute__((noipa)) static void *waiter(void *arg)
{
	for (unsigned long i = 0; i < iters; i++) {
		wait_fd(go_fd);
		locked_step(i);
		signal_fd(done_fd);
	}
	return arg;
}

__attribute__((noipa)) static void holder(void)
{
	struct timespec hold = { 0, HOLD_US * 1000 };

	for (unsigned long i = 0; i < iters; i++) {
		pthread_mutex_lock(&lock);
		signal_fd(go_fd);
		nanosleep(&hold, NULL);
		pthread_mutex_unlock(&lock);
		wait_fd(done_fd);
	}
}

int main(int argc, char **argv)
{
	double t0, t1, c0, c1;
	pthread_t t;
	sigset_t set;
	FILE *f;
	int sig;

	if (argc < 3) {
		fprintf(stderr, "usage: unwind_wait_contend RESULT_FILE ITERS\n");
		return 2;
	}
	iters = strtoul(argv[2], NULL, 10);
	go_fd = eventfd(0, EFD_CLOEXEC);
	done_fd = eventfd(0, EFD_CLOEXEC);
	if (go_fd < 0 || done_fd < 0)
		return 1;
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	printf("ready\n");
	fflush(stdout);
	sigwait(&set, &sig);
	t0 = now_s(CLOCK_MONOTONIC);
	c0 = now_s(CLOCK_PROCESS_CPUTIME_ID);
	if (pthread_create(&t, NULL, waiter, NULL))
		return 1;
	holder();
	pthread_join(t, NULL);
	t1 = now_s(CLOCK_MONOTONIC);
	c1 = now_s(CLOCK_PROCESS_CPUTIME_ID);
	f = fopen(argv[1], "w");
	if (!f)
		return 1;
	fprintf(f, "%.6f %.6f\n", t1 - t0, c1 - c0);
	return fclose(f) ? 1 : 0;
}
