// SPDX-License-Identifier: Apache-2.0
/* lock_contend: threads (default four) take turns on one pthread mutex
 * from contend(), each holding it ~1 ms per turn, and measure their own
 * truth: the time spent inside pthread_mutex_lock(), summed over threads.
 * Usage: lock_contend TRUTH_FILE SECONDS [THREADS]. Prints "ready", waits
 * for SIGUSR1 (so a profiler can attach first), runs SECONDS, then writes
 * "<lock_wait_ns> <acquisitions>" to TRUTH_FILE and exits. */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define MAX_THREADS 64

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned long long end_ns;
static unsigned long long wait_ns[MAX_THREADS], turns[MAX_THREADS];

static unsigned long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

/* Hold the lock ~1 ms without sleeping: the holder stays on CPU. */
__attribute__((noinline)) void hold(void)
{
	unsigned long long until = now_ns() + 1000000;

	while (now_ns() < until)
		;
}

/* The contending function: every lock wait must be attributed here. */
__attribute__((noinline)) void contend(int id)
{
	unsigned long long t0 = now_ns();

	pthread_mutex_lock(&lock);
	wait_ns[id] += now_ns() - t0;
	turns[id]++;
	hold();
	pthread_mutex_unlock(&lock);
}

static void *worker(void *arg)
{
	int id = (int)(long)arg;

	while (now_ns() < end_ns)
		contend(id);
	return NULL;
}

int main(int argc, char **argv)
{
	int nthreads = argc > 3 ? atoi(argv[3]) : 4, sig;
	unsigned long long total = 0, nturns = 0;
	pthread_t t[MAX_THREADS];
	sigset_t set;
	FILE *f;

	if (argc < 3 || nthreads < 1 || nthreads > MAX_THREADS) {
		fprintf(stderr, "usage: lock_contend TRUTH_FILE SECONDS [THREADS]\n");
		return 2;
	}
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	printf("ready\n");
	fflush(stdout);
	sigwait(&set, &sig);
	end_ns = now_ns() + (unsigned long long)(atof(argv[2]) * 1e9);
	for (int i = 0; i < nthreads; i++)
		pthread_create(&t[i], NULL, worker, (void *)(long)i);
	for (int i = 0; i < nthreads; i++) {
		pthread_join(t[i], NULL);
		total += wait_ns[i];
		nturns += turns[i];
	}
	f = fopen(argv[1], "w");
	if (!f)
		return 1;
	fprintf(f, "%llu %llu\n", total, nturns);
	return fclose(f) ? 1 : 0;
}
