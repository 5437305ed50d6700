// SPDX-License-Identifier: Apache-2.0
/* threads_mix: threads with known stacks and states for the `threads`
 * profile. Usage: threads_mix N M K C [SPIN [PI]]
 *   N threads sleep in nanosleep() under sleep_here()
 *   M threads block in read() on a pipe under read_here()
 *   K threads wait on a condition variable under cond_here()
 *   2 threads deadlock on two mutexes (ABBA): lock_ab() and lock_ba()
 *   1 thread (holder) takes mutex H and then sleeps in read() under
 *     hold_and_read(); C threads wait for H under wait_for_held()
 *   SPIN (default 1) threads spin in spin_here(), counting in `spins`
 *   PI (default 0): a thread takes a priority-inheritance mutex and pauses
 *     in pi_hold(); PI threads wait for it in pi_wait() (FUTEX_LOCK_PI)
 * Prints "ready" then "ab=<tid> ba=<tid> holder=<tid> spin=<tid>" once every
 * thread is where it should be (the waiters a little after: they are
 * started and then given 200 ms), and waits forever. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static pthread_mutex_t m_a = PTHREAD_MUTEX_INITIALIZER, m_b = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t m_held = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t cm = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t m_pi;
static volatile int pi_held;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static pthread_barrier_t ab_barrier;
static int pipe_fds[2], hold_fds[2];
static volatile int tid_ab, tid_ba, tid_holder, tid_spin, held;
volatile unsigned long long spins;

static int gettid_(void)
{
	return (int)syscall(SYS_gettid);
}

__attribute__((noinline)) void sleep_here(void)
{
	for (;;) {
		struct timespec ts = { 3600, 0 };

		nanosleep(&ts, NULL);
	}
}

__attribute__((noinline)) void read_here(void)
{
	char c;

	for (;;)
		if (read(pipe_fds[0], &c, 1) <= 0)
			pause();
}

__attribute__((noinline)) void cond_here(void)
{
	pthread_mutex_lock(&cm);
	for (;;)
		pthread_cond_wait(&cv, &cm);
}

__attribute__((noinline)) void lock_ab(void)
{
	tid_ab = gettid_();
	pthread_mutex_lock(&m_a);
	pthread_barrier_wait(&ab_barrier);
	pthread_mutex_lock(&m_b); /* never returns */
}

__attribute__((noinline)) void lock_ba(void)
{
	tid_ba = gettid_();
	pthread_mutex_lock(&m_b);
	pthread_barrier_wait(&ab_barrier);
	pthread_mutex_lock(&m_a); /* never returns */
}

__attribute__((noinline)) void hold_and_read(void)
{
	char c;

	tid_holder = gettid_();
	pthread_mutex_lock(&m_held);
	held = 1;
	for (;;)
		if (read(hold_fds[0], &c, 1) <= 0)
			pause();
}

__attribute__((noinline)) void wait_for_held(void)
{
	pthread_mutex_lock(&m_held); /* never returns: the holder never unlocks */
	pthread_mutex_unlock(&m_held);
}

__attribute__((noinline)) void pi_hold(void)
{
	pthread_mutex_lock(&m_pi);
	pi_held = 1;
	for (;;)
		pause();
}

__attribute__((noinline)) void pi_wait(void)
{
	pthread_mutex_lock(&m_pi); /* never returns */
}

__attribute__((noinline)) void spin_here(void)
{
	tid_spin = gettid_();
	for (;;)
		spins++;
}

static void *run(void *arg)
{
	const char *what = arg;

	pthread_setname_np(pthread_self(), what);
	if (!strcmp(what, "sleeper"))
		sleep_here();
	else if (!strcmp(what, "reader"))
		read_here();
	else if (!strcmp(what, "condwait"))
		cond_here();
	else if (!strcmp(what, "lock-ab"))
		lock_ab();
	else if (!strcmp(what, "lock-ba"))
		lock_ba();
	else if (!strcmp(what, "holder"))
		hold_and_read();
	else if (!strcmp(what, "waiter"))
		wait_for_held();
	else if (!strcmp(what, "spinner"))
		spin_here();
	else if (!strcmp(what, "pi-holder"))
		pi_hold();
	else if (!strcmp(what, "pi-waiter"))
		pi_wait();
	return NULL;
}

static void start(const char *what, int n)
{
	for (int i = 0; i < n; i++) {
		pthread_t t;
		pthread_attr_t a;

		pthread_attr_init(&a);
		pthread_attr_setstacksize(&a, 64 * 1024);
		if (pthread_create(&t, &a, run, (void *)what)) {
			perror("pthread_create");
			exit(1);
		}
		pthread_attr_destroy(&a);
	}
}

int main(int argc, char **argv)
{
	int n, m, k, c, spin = 1, pi = 0;
	pthread_mutexattr_t ma;
	struct timespec ms10 = { 0, 10 * 1000 * 1000 }, ms200 = { 0, 200 * 1000 * 1000 };

	if (argc < 5) {
		fprintf(stderr, "usage: threads_mix N M K C [SPIN]\n");
		return 2;
	}
	n = atoi(argv[1]);
	m = atoi(argv[2]);
	k = atoi(argv[3]);
	c = atoi(argv[4]);
	if (argc > 5)
		spin = atoi(argv[5]);
	if (argc > 6)
		pi = atoi(argv[6]);
	pthread_mutexattr_init(&ma);
	pthread_mutexattr_setprotocol(&ma, PTHREAD_PRIO_INHERIT);
	pthread_mutex_init(&m_pi, &ma);
	if (pipe(pipe_fds) || pipe(hold_fds) || pthread_barrier_init(&ab_barrier, NULL, 2))
		return 1;
	start("sleeper", n);
	start("reader", m);
	start("condwait", k);
	start("lock-ab", 1);
	start("lock-ba", 1);
	start("holder", 1);
	while (!held)
		nanosleep(&ms10, NULL);
	start("waiter", c);
	if (pi) {
		start("pi-holder", 1);
		while (!pi_held)
			nanosleep(&ms10, NULL);
		start("pi-waiter", pi);
	}
	start("spinner", spin);
	while (!tid_ab || !tid_ba || (spin && !tid_spin))
		nanosleep(&ms10, NULL);
	nanosleep(&ms200, NULL);
	printf("ready\nab=%d ba=%d holder=%d spin=%d\n", tid_ab, tid_ba, tid_holder, tid_spin);
	fflush(stdout);
	for (;;)
		pause();
}
