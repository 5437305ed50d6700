// SPDX-License-Identifier: Apache-2.0
/* unwind_wait: wait events reached through code without frame pointers,
 * for the walker tests of the mutex, block and threadcreate profiles. The
 * main thread sorts with glibc's qsort (no frame pointers either) from
 * sort_loop, and the comparator waits. Usage: unwind_wait MODE
 *   mutex         the comparator locks a mutex that a helper holds ~90% of
 *                 the time (a lock wait about every millisecond)
 *   block         the comparator reads a byte from a pipe that a helper
 *                 writes every millisecond (a blocking read each time)
 *   threadcreate  the comparator creates a thread (which naps 1 ms) and
 *                 joins it
 * The helper is a child process (killed when this one dies), so that a
 * profile of this pid holds the main thread's events only: the mutex is
 * process-shared. Prints "ready", waits for SIGUSR1 (so the profiler is
 * attached first), then sorts until killed. Calls are kept (noipa, a use
 * after each call) so every frame of the chain is real. */
// cflags: -fomit-frame-pointer -O2
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#define NSORT 64

struct shared {
	pthread_mutex_t m;
	unsigned long n;
};

static struct shared *shm;
static int pfd[2];
static volatile unsigned long sink;

static void nap_ns(long ns)
{
	struct timespec ts = { 0, ns };

	while (nanosleep(&ts, &ts))
		;
}

__attribute__((noipa)) static unsigned long mix(unsigned long x)
{
	return x * 6364136223846793005UL + 1442695040888963407UL;
}

static int order(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;

	return (x > y) - (x < y);
}

/* ---- mutex ---- */
__attribute__((noipa)) static int cmp_lock(const void *a, const void *b)
{
	if (pthread_mutex_lock(&shm->m))
		abort();
	shm->n++;
	pthread_mutex_unlock(&shm->m);
	return order(a, b);
}

static void hold_loop(void)
{
	for (;;) {
		pthread_mutex_lock(&shm->m);
		nap_ns(900000);
		pthread_mutex_unlock(&shm->m);
		nap_ns(100000);
	}
}

/* ---- block ---- */
__attribute__((noipa)) static int cmp_read(const void *a, const void *b)
{
	char c;

	if (read(pfd[0], &c, 1) != 1)
		abort();
	sink += (unsigned long)c;
	return order(a, b);
}

static void feed_loop(void)
{
	for (;;) {
		nap_ns(1000000);
		if (write(pfd[1], "x", 1) != 1)
			exit(1);
	}
}

/* ---- threadcreate ---- */
static void *nap_thread(void *arg)
{
	nap_ns(1000000);
	return arg;
}

__attribute__((noipa)) static int cmp_spawn(const void *a, const void *b)
{
	pthread_t t;

	if (pthread_create(&t, NULL, nap_thread, NULL))
		abort();
	pthread_join(t, NULL);
	return order(a, b);
}

__attribute__((noipa)) static void sort_loop(int (*cmp)(const void *, const void *))
{
	static int v[NSORT];

	for (;;) {
		for (int i = 0; i < NSORT; i++)
			v[i] = (int)(mix((unsigned long)i + sink) >> 33);
		qsort(v, NSORT, sizeof(v[0]), cmp);
		sink += (unsigned long)v[0];
	}
}

/* Start the helper process running fn; it dies with this process. */
static int helper(void (*fn)(void))
{
	pid_t parent = getpid(), pid = fork();

	if (pid < 0)
		return -1;
	if (pid)
		return 0;
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(0);
	fn();
	_exit(0);
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "";
	int (*cmp)(const void *, const void *);
	pthread_mutexattr_t ma;
	sigset_t set;
	int sig;

	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigprocmask(SIG_BLOCK, &set, NULL);
	if (!strcmp(mode, "mutex")) {
		shm = mmap(NULL, sizeof(*shm), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
			   -1, 0);
		if (shm == MAP_FAILED)
			return 1;
		pthread_mutexattr_init(&ma);
		pthread_mutexattr_setpshared(&ma, PTHREAD_PROCESS_SHARED);
		pthread_mutex_init(&shm->m, &ma);
		cmp = cmp_lock;
	} else if (!strcmp(mode, "block")) {
		if (pipe(pfd))
			return 1;
		cmp = cmp_read;
	} else if (!strcmp(mode, "threadcreate")) {
		cmp = cmp_spawn;
	} else {
		fprintf(stderr, "usage: unwind_wait mutex|block|threadcreate\n");
		return 2;
	}
	printf("ready\n");
	fflush(stdout);
	sigwait(&set, &sig);
	if ((cmp == cmp_lock && helper(hold_loop)) || (cmp == cmp_read && helper(feed_loop)))
		return 1;
	sort_loop(cmp);
	return 0;
}
