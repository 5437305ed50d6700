// SPDX-License-Identifier: Apache-2.0
/* unwind: CPU spent at the end of known call chains in code built without
 * frame pointers, for the .eh_frame walker's tests. Usage: unwind MODE
 *   qsort    a hot comparator called by glibc's qsort (merge recursion)
 *   recurse  60-deep recursion, hot in the deepest frame
 *   lib      through libunwchain.so (frame pointers) back into cb_spin here
 *   signal   a SIGPROF handler spinning on top of main_spin
 *   threads  two threads spinning in thread_spin
 * Prints "ready" once running, then spins until killed. Calls are kept
 * (noipa, a use after each call) so every frame of the chain is real. */
// cflags: -fomit-frame-pointer -O2
// link: -lunwchain
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#define DEPTH 60

unsigned long unw_lib_outer(unsigned long (*cb)(unsigned long), unsigned long x);

static volatile unsigned long sink;

__attribute__((noipa)) static unsigned long mix(unsigned long x, int n)
{
	for (int i = 0; i < n; i++)
		x = x * 6364136223846793005UL + 1442695040888963407UL;
	return x;
}

/* ---- qsort ---- */
__attribute__((noipa)) static int cmp_spin(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;
	unsigned long h = (unsigned long)x;

	for (int i = 0; i < 300; i++)
		h = h * 6364136223846793005UL + 1;
	sink = h;
	return (x > y) - (x < y);
}

__attribute__((noipa)) static void sort_loop(void)
{
	static int v[2048];

	for (;;) {
		for (int i = 0; i < 2048; i++)
			v[i] = (int)(mix((unsigned long)i + sink, 1) >> 33);
		qsort(v, 2048, sizeof(v[0]), cmp_spin);
		sink += (unsigned long)v[0];
	}
}

/* ---- recurse ---- */
__attribute__((noipa)) static unsigned long deep_leaf(unsigned long x)
{
	for (;;)
		sink = x = mix(x, 1000);
	return x;
}

__attribute__((noipa)) static unsigned long recurse(int n, unsigned long x)
{
	unsigned long r = n ? recurse(n - 1, x + 1) : deep_leaf(x);

	sink += r;
	return r;
}

/* ---- lib ---- */
__attribute__((noipa)) static unsigned long cb_spin(unsigned long x)
{
	return mix(x, 20000);
}

__attribute__((noipa)) static void lib_loop(void)
{
	for (unsigned long i = 0;; i++)
		sink += unw_lib_outer(cb_spin, i);
}

/* ---- signal ---- */
__attribute__((noipa)) static void on_signal(int sig)
{
	sink += mix((unsigned long)sig, 200000);
}

__attribute__((noipa)) static void main_spin(void)
{
	for (;;)
		sink = mix(sink, 100);
}

static void signal_setup(void)
{
	struct itimerval it = { { 0, 2000 }, { 0, 2000 } };
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sa.sa_flags = SA_RESTART;
	sigaction(SIGPROF, &sa, NULL);
	setitimer(ITIMER_PROF, &it, NULL);
}

/* ---- threads ---- */
__attribute__((noipa)) static unsigned long thread_spin(unsigned long x)
{
	for (;;)
		sink = x = mix(x, 1000);
	return x;
}

__attribute__((noipa)) static void *worker(void *arg)
{
	sink += thread_spin((unsigned long)arg);
	return NULL;
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "";
	pthread_t t[2];

	if (!strcmp(mode, "threads")) {
		for (int i = 0; i < 2; i++)
			if (pthread_create(&t[i], NULL, worker, (void *)(unsigned long)i))
				return 1;
	} else if (!strcmp(mode, "signal")) {
		signal_setup();
	} else if (strcmp(mode, "qsort") && strcmp(mode, "recurse") && strcmp(mode, "lib")) {
		fprintf(stderr, "usage: unwind qsort|recurse|lib|signal|threads\n");
		return 2;
	}
	printf("ready\n");
	fflush(stdout);
	if (!strcmp(mode, "qsort"))
		sort_loop();
	else if (!strcmp(mode, "recurse"))
		sink += recurse(DEPTH - 1, 1);
	else if (!strcmp(mode, "lib"))
		lib_loop();
	else if (!strcmp(mode, "signal"))
		main_spin();
	else
		pthread_join(t[0], NULL);
	return 0;
}
