// SPDX-License-Identifier: Apache-2.0
/* pipe_block: read_pipe() blocks in read() on a pipe that feed_pipe()
 * writes a byte to every 50 ms, and measures its own truth: the time spent
 * inside read(), summed. Usage: pipe_block TRUTH_FILE SECONDS. Prints
 * "ready", waits for SIGUSR1, runs SECONDS, writes "<read_ns> <reads>" to
 * TRUTH_FILE and exits. */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static int fds[2];
static double secs;
static unsigned long long read_ns, reads;

static unsigned long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

/* The reading function: its blocked time must be attributed here. */
__attribute__((noinline)) int read_pipe(void)
{
	unsigned long long t0 = now_ns();
	char c;
	ssize_t n = read(fds[0], &c, 1);

	read_ns += now_ns() - t0;
	reads++;
	return n == 1;
}

static void *reader(void *arg)
{
	(void)arg;
	while (read_pipe())
		;
	return NULL;
}

__attribute__((noinline)) void feed_pipe(void)
{
	struct timespec period = { 0, 50 * 1000 * 1000 };
	unsigned long long end = now_ns() + (unsigned long long)(secs * 1e9);

	while (now_ns() < end) {
		nanosleep(&period, NULL);
		if (write(fds[1], "x", 1) != 1)
			exit(1);
	}
	close(fds[1]);
}

int main(int argc, char **argv)
{
	pthread_t t;
	sigset_t set;
	FILE *f;
	int sig;

	if (argc < 3 || pipe(fds)) {
		fprintf(stderr, "usage: pipe_block TRUTH_FILE SECONDS\n");
		return 2;
	}
	secs = atof(argv[2]);
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	printf("ready\n");
	fflush(stdout);
	sigwait(&set, &sig);
	pthread_create(&t, NULL, reader, NULL);
	feed_pipe();
	pthread_join(t, NULL);
	f = fopen(argv[1], "w");
	if (!f)
		return 1;
	fprintf(f, "%llu %llu\n", read_ns, reads);
	return fclose(f) ? 1 : 0;
}
