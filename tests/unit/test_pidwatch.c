// SPDX-License-Identifier: Apache-2.0
/* pidwatch: a child's exit told by its pidfd (and only then), slots reused,
 * the per-watch cap, a pid that does not exist. */
#include <errno.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "util/pidwatch.h"

static int told[4];

static void on_exit_told(void *ctx, void *owner)
{
	(void)ctx;
	told[(long)owner]++;
}

static pid_t spawn(void)
{
	pid_t c = fork();

	if (!c) {
		pause();
		_exit(0);
	}
	return c;
}

void test_pidwatch(void)
{
	struct pidwatch w;
	pid_t a = spawn(), b = spawn();
	int sa, sb, sc;
	size_t all;

	if (!ASSERT_TRUE(a > 0 && b > 0, "fork"))
		goto out;
	pidwatch__init(&w, 2);
	all = pidwatch__count_all();
	sa = pidwatch__add(&w, a, (void *)1L);
	if (sa < 0 && errno == ENOSYS) {
		kill(a, SIGKILL);
		kill(b, SIGKILL);
		waitpid(a, NULL, 0);
		waitpid(b, NULL, 0);
		SKIP("no pidfd_open on this kernel (before 5.3)");
	}
	ASSERT_TRUE(sa >= 0, "watch a");
	sb = pidwatch__add(&w, b, (void *)2L);
	ASSERT_TRUE(sb >= 0 && sb != sa, "watch b, another slot");
	ASSERT_EQ(pidwatch__count(&w), 2, "two open");
	ASSERT_EQ(pidwatch__count_all(), all + 2, "counted process-wide");
	sc = pidwatch__add(&w, getpid(), (void *)3L);
	ASSERT_TRUE(sc < 0 && errno == EMFILE, "over the watch's cap: no pidfd, EMFILE");

	ASSERT_EQ(pidwatch__poll(&w, on_exit_told, NULL), 0, "both alive: nothing told");
	ASSERT_EQ(pidwatch__exited(&w, sa), 0, "a alive");
	/* A zombie has exited: told before it is reaped. */
	kill(a, SIGKILL);
	for (int i = 0; i < 500 && pidwatch__exited(&w, sa) != 1; i++)
		usleep(2000);
	ASSERT_EQ(pidwatch__exited(&w, sa), 1, "a exited (a zombie still)");
	ASSERT_EQ(pidwatch__poll(&w, on_exit_told, NULL), 1, "one told");
	ASSERT_EQ(told[1], 1, "a told");
	ASSERT_EQ(told[2], 0, "b not");
	waitpid(a, NULL, 0);
	a = -1;
	ASSERT_EQ(pidwatch__poll(&w, on_exit_told, NULL), 1, "told again until removed");
	pidwatch__remove(&w, sa);
	pidwatch__remove(&w, sa); /* twice: ignored */
	ASSERT_EQ(pidwatch__count(&w), 1, "one open");
	ASSERT_EQ(pidwatch__exited(&w, sa), -EBADF, "a removed slot is no watch");
	ASSERT_EQ(pidwatch__poll(&w, on_exit_told, NULL), 0, "nothing more");
	ASSERT_EQ(told[1], 2, "a told twice in all");
	sc = pidwatch__add(&w, getpid(), (void *)3L);
	ASSERT_EQ(sc, sa, "the free slot reused");
	ASSERT_TRUE(pidwatch__add(&w, 0x3fffffff, NULL) < 0, "no such pid: no slot");
	pidwatch__remove(&w, sc);
	ASSERT_TRUE(pidwatch__add(&w, 0x3fffffff, NULL) < 0 && errno == ESRCH, "ESRCH");
	pidwatch__done(&w);
	ASSERT_EQ(pidwatch__count_all(), all, "every pidfd closed");
out:
	if (b > 0) {
		kill(b, SIGKILL);
		waitpid(b, NULL, 0);
	}
	if (a > 0) {
		kill(a, SIGKILL);
		waitpid(a, NULL, 0);
	}
}

struct many {
	struct pidwatch *w;
	int *slot;
	int told;
};

static void remove_told(void *ctx, void *owner)
{
	struct many *m = ctx;
	long i = (long)owner;

	m->told++;
	pidwatch__remove(m->w, m->slot[i]);
}

/* More exits than one epoll batch, each told once when the callback
 * removes it; and the same through poll() when there is no epoll set. */
void test_pidwatch_many(void)
{
	enum { N = 150 };
	pid_t kids[N];
	int slot[N];
	struct pidwatch w;
	struct many m = { .w = &w, .slot = slot };
	int n = 0;

	for (int pass = 0; pass < 2; pass++) {
		pidwatch__init(&w, N);
		if (pass == 1) {
			close(w.epfd);
			w.epfd = -1;
		}
		m.told = 0;
		for (n = 0; n < N; n++) {
			kids[n] = spawn();
			if (kids[n] <= 0)
				break;
			slot[n] = pidwatch__add(&w, kids[n], (void *)(long)n);
			if (slot[n] < 0) {
				n++; /* forked: killed at out */
				break;
			}
		}
		if (!ASSERT_TRUE(n == N && slot[N - 1] >= 0, "children forked and watched"))
			goto out;
		ASSERT_EQ(pidwatch__poll(&w, remove_told, &m), 0, "all alive");
		for (int i = 0; i < N; i++)
			kill(kids[i], SIGKILL);
		for (int i = 0; i < N; i++)
			waitpid(kids[i], NULL, 0);
		n = 0;
		ASSERT_EQ(pidwatch__poll(&w, remove_told, &m), N, pass ? "poll(): all told" :
									   "epoll: all told");
		ASSERT_EQ(m.told, N, "each once");
		ASSERT_EQ(pidwatch__count(&w), 0, "all removed");
		ASSERT_EQ(pidwatch__poll(&w, remove_told, &m), 0, "nothing left");
		pidwatch__done(&w);
	}
	return;
out:
	for (int i = 0; i < n; i++) {
		kill(kids[i], SIGKILL);
		waitpid(kids[i], NULL, 0);
	}
	pidwatch__done(&w);
}
