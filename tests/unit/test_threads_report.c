// SPDX-License-Identifier: Apache-2.0
/* threads/report on synthetic snapshots (no BPF): which futex waits become
 * waits-for edges, the deadlock and chain report, the pprof aggregation and
 * labels, and the text forms' structure; garbage mutex words (owners that
 * are nobody, released locks, invalid kinds) never become edges. */
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "pprof/pprof.h"
#include "symbolize/symbolizer.h"
#include "types/profiler.h"
#include "aggregate/threads_report.h"

static void thread(struct thread_info *t, uint32_t tgid, uint32_t tid, const char *name,
		   char state)
{
	memset(t, 0, sizeof(*t));
	t->rec.tgid = tgid;
	t->rec.tid = tid;
	t->rec.flags = PROFD_THR_REGS;
	t->rec.orig_ax = (uint64_t)-1;
	strncpy(t->rec.comm, name, sizeof(t->rec.comm));
	strncpy(t->rec.pcomm, "app", sizeof(t->rec.pcomm));
	t->state = state;
}

static void mutex_wait(struct thread_info *t, uint64_t addr, uint32_t lock, uint32_t owner,
		       uint32_t kind)
{
	t->rec.orig_ax = 202;
	t->rec.args[0] = addr;
	t->rec.args[1] = 0x80;
	t->rec.args[2] = 2;
	t->wait = THREAD_WAIT_MUTEX;
	t->wait_addr = addr;
	t->mutex_read = true;
	t->m_lock = lock;
	t->m_owner = owner;
	t->m_kind = kind;
}

static struct pprof *one_sink(void *ctx, pid_t pid, const char *comm16)
{
	(void)pid;
	(void)comm16;
	return ctx;
}

static char *text_of(struct threads_report *r, int debug)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (!f)
		return NULL;
	if (debug)
		threads_report__text(r, f, debug);
	else
		threads_report__deadlocks(r, f);
	fclose(f);
	return buf;
}

void test_threads_report_deadlock_and_chains(void)
{
	struct thread_info t[9];
	struct threads_snapshot s = { .t = t, .n = 9, .walk_ns = 1500000 };
	struct symbolizer *sym = symbolizer__new();
	struct threads_report r;
	struct pprof *p = pprof__new();
	size_t drops = 0;
	char *txt;

	if (!ASSERT_OK_PTR(sym, "symbolizer") || !ASSERT_OK_PTR(p, "pprof"))
		return;
	/* No user stacks: mutex waits are confirmed by a valid __kind and an
	 * owner among the process's threads. */
	thread(&t[0], 100, 101, "a", 'S');
	mutex_wait(&t[0], 0x1000, 2, 102, 0);
	thread(&t[1], 100, 102, "b", 'S');
	mutex_wait(&t[1], 0x2000, 2, 101, 1); /* recursive */
	thread(&t[2], 100, 103, "holder", 'S');
	t[2].rec.orig_ax = 0; /* read */
	thread(&t[3], 100, 104, "w1", 'S');
	mutex_wait(&t[3], 0x3000, 2, 103, 0);
	thread(&t[4], 100, 105, "w2", 'S');
	mutex_wait(&t[4], 0x3000, 2, 103, 0);
	thread(&t[5], 100, 106, "garbage", 'S');
	mutex_wait(&t[5], 0x4000, 2, 0x7fffffff, 0xdead); /* invalid kind: not a mutex */
	thread(&t[6], 100, 107, "released", 'S');
	mutex_wait(&t[6], 0x5000, 0, 103, 0); /* lock word 0: owner not trusted */
	thread(&t[7], 100, 108, "condvar", 'S');
	t[7].rec.orig_ax = 202;
	t[7].wait = THREAD_WAIT_FUTEX;
	t[7].wait_addr = 0x6000;
	thread(&t[8], 100, 109, "spin", 'R');
	t[8].on_cpu = true;

	if (!ASSERT_OK(threads_report__build(&r, &s, sym), "build"))
		return;
	ASSERT_EQ(r.g.ncycles, 1, "one cycle");
	ASSERT_EQ(r.g.cycle[0], 1, "101 in it");
	ASSERT_EQ(r.g.cycle[1], 1, "102 in it");
	ASSERT_FALSE(r.mutex[5], "invalid __kind: not confirmed as a mutex");
	ASSERT_TRUE(r.mutex[6], "a released lock is still a mutex wait");
	txt = text_of(&r, 0);
	ASSERT_OK_PTR(txt, "report");
	if (txt) {
		ASSERT_TRUE(strstr(txt, "deadlock #1 (pid 100): thread 101 \"a\" waits for mutex 0x1000 "
				   "held by thread 102 \"b\", which waits for mutex 0x2000 held by "
				   "thread 101 \"a\": deadlock\n") != NULL, "cycle sentence");
		ASSERT_TRUE(strstr(txt, "2 threads wait for a mutex held by thread 103 \"holder\", "
				   "which sleeps in read\n") != NULL, "chain sentence");
		ASSERT_TRUE(strstr(txt, "thread 106 \"garbage\" waits for a lock at 0x4000 that records "
				   "no owner (not a pthread mutex): owner unknown\n") != NULL,
			    "unconfirmed lock: owner unknown");
		ASSERT_TRUE(strstr(txt, "thread 107 \"released\" waits for mutex 0x5000 whose owner is "
				   "not recorded\n") != NULL, "released lock: owner not trusted");
		ASSERT_TRUE(strstr(txt, "condvar") == NULL, "condvar waits are not lock chains");
		free(txt);
	}
	txt = text_of(&r, 2);
	if (ASSERT_OK_PTR(txt, "dump")) {
		ASSERT_TRUE(strstr(txt, "thread 101 \"a\" [sleeping]: pid 100 \"app\"\nsyscall futex(0x1000, "
				   "0x80, 0x2)\nwaits for mutex 0x1000 held by thread 102 \"b\": "
				   "deadlock #1\n") != NULL, "dump block of 101");
		ASSERT_TRUE(strstr(txt, "waits on futex 0x6000 (condition variable, semaphore or "
				   "similar: no owner recorded)\n") != NULL, "condvar line");
		ASSERT_TRUE(strstr(txt, "thread 109 \"spin\" [running]: pid 100 \"app\"\non a CPU: no "
				   "kernel stack; user stack as of its last kernel entry\n") != NULL,
			    "running thread explained");
		ASSERT_TRUE(strstr(txt, "# snapshot of 9 threads: walk 1.500 ms") != NULL, "timing line");
		free(txt);
	}
	txt = text_of(&r, 1);
	if (ASSERT_OK_PTR(txt, "text")) {
		/* No stacks: threads group by (state, stacks): 8 sleeping, 1 running. */
		ASSERT_TRUE(!strncmp(txt, "threads profile: total 9\n", 25), "text header");
		ASSERT_TRUE(strstr(txt, "\n8 @\n# state sleeping, pid 100 \"app\"\n") != NULL,
			    "8 sleeping threads in one block");
		ASSERT_TRUE(strstr(txt, "\n1 @\n# state running, pid 100 \"app\"\n") != NULL,
			    "the running one");
		free(txt);
	}
	{
		struct profiler pr = { .type = profiler_type_find("threads") };

		ASSERT_TRUE(pr.type != NULL, "threads in the registry");
		ASSERT_OK(pr.type ? profiler_init_profile(&pr, p) : -1, "profile header");
	}
	ASSERT_EQ(threads_report__pprof(&r, one_sink, p, &drops), 9, "one sample per thread");
	/* Merged by (stack, labels): sleeping+deadlock 1, sleeping, running. */
	ASSERT_EQ(pprof__sample_count(p), 3, "distinct (stack, state, deadlock) samples");
	ASSERT_EQ(pprof__value_total(p, 0), 9, "nine threads");
	threads_report__free(&r);
	pprof__free(p);
	symbolizer__free(sym);
}
