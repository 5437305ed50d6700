// SPDX-License-Identifier: Apache-2.0
/* lock_kinds: futex waits that are lock waits and one that is not.
 * rw_contend(): three threads take one pthread rwlock for writing, each
 * holding it ~1 ms per turn. pi_contend(): two threads do the same with a
 * priority-inheritance mutex (FUTEX_LOCK_PI). cond_waiter(): one thread waits on a condition
 * variable that cond_signaller() signals every 10 ms, after unlocking its
 * mutex (so the waiter never contends for the mutex). Usage: lock_kinds
 * SECONDS. Prints "ready", waits for SIGUSR1, runs SECONDS, exits. */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static pthread_rwlock_t rw = PTHREAD_RWLOCK_INITIALIZER;
static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t pi;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static unsigned long long end_ns;
static int ticks, done;

static unsigned long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

__attribute__((noinline)) void rw_contend(void)
{
	unsigned long long until;

	pthread_rwlock_wrlock(&rw);
	until = now_ns() + 1000000;
	while (now_ns() < until)
		;
	pthread_rwlock_unlock(&rw);
}

__attribute__((noinline)) void pi_contend(void)
{
	unsigned long long until;

	pthread_mutex_lock(&pi);
	until = now_ns() + 1000000;
	while (now_ns() < until)
		;
	pthread_mutex_unlock(&pi);
}

static void *pi_worker(void *arg)
{
	(void)arg;
	while (now_ns() < end_ns)
		pi_contend();
	return NULL;
}

static void *rw_worker(void *arg)
{
	(void)arg;
	while (now_ns() < end_ns)
		rw_contend();
	return NULL;
}

__attribute__((noinline)) void cond_waiter(void)
{
	int seen = 0;

	pthread_mutex_lock(&m);
	while (!done) {
		while (ticks == seen && !done)
			pthread_cond_wait(&cv, &m);
		seen = ticks;
	}
	pthread_mutex_unlock(&m);
}

static void *cond_thread(void *arg)
{
	(void)arg;
	cond_waiter();
	return NULL;
}

__attribute__((noinline)) void cond_signaller(void)
{
	struct timespec period = { 0, 10 * 1000 * 1000 };

	while (now_ns() < end_ns) {
		nanosleep(&period, NULL);
		pthread_mutex_lock(&m);
		ticks++;
		pthread_mutex_unlock(&m);
		pthread_cond_signal(&cv);
	}
	pthread_mutex_lock(&m);
	done = 1;
	pthread_mutex_unlock(&m);
	pthread_cond_signal(&cv);
}

int main(int argc, char **argv)
{
	pthread_t rwt[3], pit[2], ct;
	pthread_mutexattr_t attr;
	sigset_t set;
	int sig;

	if (argc < 2) {
		fprintf(stderr, "usage: lock_kinds SECONDS\n");
		return 2;
	}
	pthread_mutexattr_init(&attr);
	if (pthread_mutexattr_setprotocol(&attr, PTHREAD_PRIO_INHERIT) ||
	    pthread_mutex_init(&pi, &attr))
		return 1;
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	printf("ready\n");
	fflush(stdout);
	sigwait(&set, &sig);
	end_ns = now_ns() + (unsigned long long)(atof(argv[1]) * 1e9);
	pthread_create(&ct, NULL, cond_thread, NULL);
	for (int i = 0; i < 3; i++)
		pthread_create(&rwt[i], NULL, rw_worker, NULL);
	for (int i = 0; i < 2; i++)
		pthread_create(&pit[i], NULL, pi_worker, NULL);
	cond_signaller();
	for (int i = 0; i < 3; i++)
		pthread_join(rwt[i], NULL);
	for (int i = 0; i < 2; i++)
		pthread_join(pit[i], NULL);
	pthread_join(ct, NULL);
	return 0;
}
