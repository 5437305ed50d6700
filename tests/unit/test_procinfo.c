// SPDX-License-Identifier: Apache-2.0
/* procinfo: the systemd unit from /proc/PID/cgroup text (v2, v1, user
 * services, garbage and truncation), the default service name, and the
 * live reads on this process and a child that exits. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "agent/procinfo.h"

static const struct {
	const char *text;
	int ret;
	const char *unit;
} cgroup_cases[] = {
	{ "0::/system.slice/nginx.service\n", 0, "nginx.service" },
	/* A delegated sub-cgroup below the unit. */
	{ "0::/system.slice/postgresql@15-main.service/sub\n", 0, "postgresql@15-main.service" },
	/* A user service: the deepest .service wins over user@1000.service. */
	{ "0::/user.slice/user-1000.slice/user@1000.service/app.slice/foo.service\n", 0,
	  "foo.service" },
	{ "0::/user.slice/user-1000.slice/user@1000.service/init.scope\n", 0,
	  "user@1000.service" },
	/* Sessions, containers, the root and kernel threads have no service. */
	{ "0::/user.slice/user-1000.slice/session-3.scope\n", -ENOENT, "" },
	{ "0::/system.slice/docker-0123abcd.scope\n", -ENOENT, "" },
	{ "0::/\n", -ENOENT, "" },
	{ "", -ENOENT, "" },
	/* cgroup v1: the name=systemd hierarchy, not the controllers'. */
	{ "12:cpu,cpuacct:/batch.service\n1:name=systemd:/system.slice/sshd.service\n", 0,
	  "sshd.service" },
	/* Hybrid: the unified line first. */
	{ "1:name=systemd:/system.slice/a.service\n0::/system.slice/b.service\n", 0,
	  "b.service" },
	/* No newline at the end, CRLF-free but truncated lines. */
	{ "0::/system.slice/cron.service", 0, "cron.service" },
	{ "0::/system.slice/cron.serv", -ENOENT, "" },
	{ "0:", -ENOENT, "" },
	{ "0::", -ENOENT, "" },
	{ ":::::\n\n\n", -ENOENT, "" },
	/* ".service" alone is not a name; control bytes and spaces are not units. */
	{ "0::/system.slice/.service\n", -ENOENT, "" },
	{ "0::/system.slice/a\x01.service\n", -ENOENT, "" },
	{ "0::/system.slice/a b.service\n", -ENOENT, "" },
	{ "0::/system.slice/\xc3\xa9.service\n", -ENOENT, "" },
	/* "1::" is not the unified hierarchy; "0:x:" neither. */
	{ "1::/system.slice/x.service\n", -ENOENT, "" },
	{ "0:x:/system.slice/x.service\n", -ENOENT, "" },
};

void test_procinfo_cgroup_unit(void)
{
	char buf[PROCINFO_UNIT_LEN], name[64];

	for (size_t i = 0; i < sizeof(cgroup_cases) / sizeof(cgroup_cases[0]); i++) {
		const char *t = cgroup_cases[i].text;
		int ret;

		snprintf(name, sizeof(name), "case %zu", i);
		memset(buf, 'x', sizeof(buf));
		ret = procinfo__parse_cgroup_unit(t, strlen(t), buf, sizeof(buf));
		ASSERT_EQ(ret, cgroup_cases[i].ret, name);
		ASSERT_STREQ(buf, cgroup_cases[i].unit, name);
	}
}

/* The length bounds what is read: a unit past len is not seen, and no byte
 * past len is touched (ASan checks the heap copy). */
void test_procinfo_cgroup_truncated(void)
{
	const char *full = "0::/system.slice/nginx.service\n";
	char buf[PROCINFO_UNIT_LEN];
	size_t n = strlen(full);

	for (size_t len = 0; len <= n; len++) {
		char *copy = malloc(len ? len : 1);
		int ret;

		memcpy(copy, full, len);
		ret = procinfo__parse_cgroup_unit(copy, len, buf, sizeof(buf));
		if (len >= n - 1)
			ASSERT_OK(ret, "whole unit");
		else
			ASSERT_EQ(ret, -ENOENT, "truncated unit");
		free(copy);
	}
	/* A unit longer than the buffer is not cut into a wrong name. */
	ASSERT_EQ(procinfo__parse_cgroup_unit(full, n, buf, 8), -ENOENT, "small buffer");
	ASSERT_EQ(procinfo__parse_cgroup_unit(full, n, buf, 1), -EINVAL, "tiny buffer");
}

/* Random bytes never crash the parser and a result is always a unit. */
void test_procinfo_cgroup_garbage(void)
{
	/* Mostly structure tokens, so lines parse that far and some are
	 * accepted (the checks below must run, not only "it did not crash"). */
	static const char *const pick[] = { "0", ":", "/", ".service", "\n", "\x01", "\xff",
					    " ", "ab", "name=systemd", "1" };
	char text[512], buf[64];
	unsigned seed = 12345;
	int accepted = 0;

	for (int round = 0; round < 20000; round++) {
		size_t len = rand_r(&seed) % sizeof(text), n = 0;

		while (n < len) {
			const char *t = pick[rand_r(&seed) % (sizeof(pick) / sizeof(pick[0]))];
			size_t tl = strlen(t);

			if (rand_r(&seed) % 8 == 0) /* a raw byte now and then */
				text[n++] = (char)rand_r(&seed);
			else if (n + tl <= len)
				memcpy(text + n, t, tl), n += tl;
			else
				text[n++] = t[0];
		}
		if (!procinfo__parse_cgroup_unit(text, len, buf, sizeof(buf))) {
			size_t bl = strlen(buf);

			accepted++;
			if (!ASSERT_TRUE(bl > 8 && !strcmp(buf + bl - 8, ".service"), "unit shape"))
				return;
			for (size_t i = 0; i < bl; i++)
				if (!ASSERT_TRUE(buf[i] > 0x20 && buf[i] < 0x7f && buf[i] != '/',
						 "unit bytes"))
					return;
		}
	}
	ASSERT_TRUE(accepted > 0, "some garbage parses as a unit (the checks ran)");
}

void test_procinfo_default_service(void)
{
	char buf[128];

	ASSERT_STREQ(procinfo__default_service("nginx.service", "nginx", buf, sizeof(buf)), "nginx",
		     "unit without suffix");
	ASSERT_STREQ(procinfo__default_service("getty@tty1.service", "agetty", buf, sizeof(buf)),
		     "getty@tty1", "template instance");
	ASSERT_STREQ(procinfo__default_service(NULL, "cpu_split", buf, sizeof(buf)), "cpu_split",
		     "no unit: comm");
	ASSERT_STREQ(procinfo__default_service("", "", buf, sizeof(buf)), "unknown", "nothing");
	ASSERT_STREQ(procinfo__default_service(NULL, NULL, buf, sizeof(buf)), "unknown", "NULLs");
}

void test_procinfo_live(void)
{
	char comm[PROCINFO_COMM_LEN], unit[PROCINFO_UNIT_LEN], own[PROCINFO_UNIT_LEN];
	int status, ret;
	pid_t child;

	/* A name of exactly 15 characters comes back whole. */
	child = fork();
	if (!ASSERT_TRUE(child >= 0, "fork"))
		return;
	if (!child) {
		prctl(PR_SET_NAME, "procinfo-test15");
		pause();
		_exit(0);
	}
	for (int i = 0; i < 200; i++) {
		if (!procinfo__comm(child, comm, sizeof(comm)) && !strcmp(comm, "procinfo-test15"))
			break;
		usleep(5000);
	}
	ASSERT_STREQ(comm, "procinfo-test15", "child comm");
	/* Same cgroup as ours: both answer alike. */
	ret = procinfo__unit(child, unit, sizeof(unit));
	ASSERT_TRUE(ret == 0 || ret == -ENOENT, "unit read");
	ASSERT_EQ(procinfo__unit(getpid(), own, sizeof(own)), ret, "our unit read");
	if (!ret)
		ASSERT_STREQ(unit, own, "unit like ours");
	kill(child, SIGKILL);
	waitpid(child, &status, 0);
	/* Reaped: the pid is gone. */
	ASSERT_EQ(procinfo__comm(child, comm, sizeof(comm)), -ESRCH, "gone comm");
	ASSERT_EQ(procinfo__unit(child, unit, sizeof(unit)), -ESRCH, "gone unit");
}

/* Our own start time is in the past and after boot. */
void test_procinfo_start_boottime(void)
{
	struct timespec ts;
	int64_t ns = 0, now;

	clock_gettime(CLOCK_BOOTTIME, &ts);
	now = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
	ASSERT_OK(procinfo__start_boottime(getpid(), &ns), "read");
	ASSERT_TRUE(ns > 0 && ns <= now, "in the past");
	ASSERT_EQ(procinfo__start_boottime(4194304 + 1, &ns), -ESRCH, "no such pid");
}
