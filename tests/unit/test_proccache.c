// SPDX-License-Identifier: Apache-2.0
/* proccache: a live child read once in its life (no /proc read per lookup,
 * per sweep), read again when a sample names it otherwise (a rename), its
 * unit on the slow refresh, forgotten when it exits or goes unsampled. */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "agent/proccache.h"

/* A child named "pc-one" that renames itself "pc-two" on a byte from
 * the pipe, then waits to be killed. */
static pid_t spawn(int go)
{
	pid_t c = fork();

	if (!c) {
		char b;

		prctl(PR_SET_NAME, "pc-one");
		if (read(go, &b, 1) == 1)
			prctl(PR_SET_NAME, "pc-two");
		for (;;)
			pause();
	}
	return c;
}

static void named(pid_t pid, const char *want)
{
	char comm[PROCINFO_COMM_LEN];

	for (int i = 0; i < 500; i++) {
		if (!procinfo__comm(pid, comm, sizeof(comm)) && !strcmp(comm, want))
			return;
		usleep(2000);
	}
}

void test_proccache(void)
{
	static struct proccache c; /* 8 KiB of buckets */
	const struct proc_ident *id;
	int64_t now = 1000000000;
	uint64_t reads;
	int go[2];
	pid_t child;

	if (!ASSERT_OK(pipe(go), "pipe"))
		return;
	child = spawn(go[0]);
	if (!ASSERT_TRUE(child > 0, "fork"))
		goto out;
	named(child, "pc-one");
	proccache__init(&c);
	id = proccache__get(&c, child, "pc-one", now);
	if (!ASSERT_OK_PTR(id, "first lookup"))
		goto out;
	if (id->watch < 0) {
		kill(child, SIGKILL);
		waitpid(child, NULL, 0);
		proccache__done(&c);
		SKIP("no pidfd here (pidfd_open: pre-5.3 kernel or no fds): nothing is cached");
	}
	ASSERT_EQ(c.st.reads, 3, "stat, comm, cgroup read once");
	ASSERT_TRUE(id->has_start && id->start_boot_ns > 0, "start time");
	ASSERT_TRUE(id->has_comm, "name read");
	ASSERT_STREQ(id->comm, "pc-one", "name");
	ASSERT_EQ(proccache__alive(&c, child), 1, "alive");

	/* Unchanged: ten intervals of lookups read nothing. */
	for (int i = 0; i < 10; i++) {
		now += 10000000000LL / 2;
		ASSERT_OK(proccache__poll(&c), "poll");
		id = proccache__get(&c, child, "pc-one", now);
		proccache__sweep(&c);
	}
	ASSERT_EQ(c.st.reads, 3, "no /proc read while the name is the same and the unit fresh");
	ASSERT_EQ(c.n, 1, "kept across sweeps");

	/* The unit on the slow refresh. */
	now += PROCCACHE_UNIT_REFRESH_NS;
	id = proccache__get(&c, child, "pc-one", now);
	ASSERT_EQ(c.st.reads, 4, "the cgroup read again after a minute");

	/* A sample with another name: the name (and unit) read again. */
	ASSERT_EQ(write(go[1], "x", 1), 1, "rename");
	named(child, "pc-two");
	reads = c.st.reads;
	id = proccache__get(&c, child, "pc-two\0garbage!!", now);
	ASSERT_STREQ(id->comm, "pc-two", "the new name");
	ASSERT_EQ(c.st.reads, reads + 2, "comm and cgroup read, not stat");
	ASSERT_EQ(c.st.renames, 1, "counted");
	/* A 16-byte name without a NUL compares on its 16 bytes. */
	id = proccache__get(&c, child, "pc-two", now);
	ASSERT_EQ(c.st.reads, reads + 2, "the same name: nothing read");
	/* A lookup without the sample's name reads the name. */
	id = proccache__get(&c, child, NULL, now);
	ASSERT_EQ(c.st.reads, reads + 4, "no name to compare: comm and cgroup read");

	/* Exit: the pidfd tells; a lookup then reads anew (a reused pid is
	 * another process), and the sweep forgets it. */
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
	ASSERT_OK(proccache__poll(&c), "poll");
	ASSERT_EQ(proccache__alive(&c, child), 0, "exited");
	ASSERT_EQ(proccache__alive(&c, 0x3fffffff), -1, "unknown pid: ask kill");
	proccache__sweep(&c);
	ASSERT_EQ(c.n, 0, "forgotten at the sweep");
	child = -1;

	/* Unsampled for PROCCACHE_KEEP_SWEEPS intervals: forgotten. */
	id = proccache__get(&c, getpid(), NULL, now);
	ASSERT_EQ(c.n, 1, "this process");
	/* The sweep ending its interval and KEEP_SWEEPS - 1 more keep it;
	 * the next, KEEP_SWEEPS intervals without a lookup, drops it. */
	for (int i = 0; i < PROCCACHE_KEEP_SWEEPS; i++)
		proccache__sweep(&c);
	ASSERT_EQ(c.n, 1, "kept while recently sampled");
	proccache__sweep(&c);
	ASSERT_EQ(c.n, 0, "forgotten when unsampled");
	ASSERT_TRUE(pidwatch__count(&c.watch) == 0, "its pidfd closed");
out:
	if (child > 0) {
		kill(child, SIGKILL);
		waitpid(child, NULL, 0);
	}
	close(go[0]);
	close(go[1]);
	proccache__done(&c);
}

/* Without a pidfd (the fd budget spent, a kernel before 5.3) nothing is
 * trusted: every lookup reads all three, as the agent did before, and
 * liveness is left to kill(pid, 0). */
void test_proccache_no_pidfd(void)
{
	static struct proccache c;
	const struct proc_ident *id;
	char name[PROCINFO_COMM_LEN];

	proccache__init(&c);
	c.watch.max_open = 0; /* no pidfd for anyone */
	id = proccache__get(&c, getpid(), NULL, 1);
	if (!ASSERT_OK_PTR(id, "lookup"))
		goto out;
	ASSERT_EQ(id->watch, -1, "no pidfd");
	ASSERT_TRUE(id->has_start && id->has_comm, "read");
	ASSERT_EQ(c.st.reads, 3, "three reads");
	memcpy(name, id->comm, sizeof(name));
	id = proccache__get(&c, getpid(), name, 2);
	ASSERT_EQ(c.st.reads, 6, "read again: not trusted");
	ASSERT_EQ(proccache__alive(&c, getpid()), -1, "liveness unknown: kill decides");
	proccache__sweep(&c);
	ASSERT_EQ(c.n, 0, "not kept past the interval");
out:
	proccache__done(&c);
}
