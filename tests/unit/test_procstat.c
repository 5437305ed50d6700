// SPDX-License-Identifier: Apache-2.0
/* procstat: the start time in /proc/PID/stat text (comms with spaces and
 * parentheses, every truncation, overflow, random garbage), the live read
 * on this process, a child and a reaped pid, and the clock it is counted in. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "util/procstat.h"

void test_procstat_parse_starttime(void)
{
	/* Fields 3..21 then starttime 4242 and more. */
	static const char rest[] = " S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 4242 99 100\n";
	static const char *const comms[] = {
		"(cat)",
		"(a) b)",    /* ")" and a space inside the comm */
		"(x (y) z)",
		"()",
		"( ) ) ) )", /* only spaces and parentheses */
		"(1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22)", /* looks like fields */
	};
	unsigned long long ticks = 0;
	char text[256];

	for (size_t i = 0; i < sizeof(comms) / sizeof(comms[0]); i++) {
		snprintf(text, sizeof(text), "123 %s%s", comms[i], rest);
		ticks = 0;
		ASSERT_OK(procstat__parse_starttime(text, strlen(text), &ticks), comms[i]);
		ASSERT_EQ(ticks, 4242, comms[i]);
	}
	/* A NUL in the comm is just a byte: the length bounds the text. */
	{
		static const char nul[] = "1 (a\0b) S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 77 1";

		ASSERT_OK(procstat__parse_starttime(nul, sizeof(nul) - 1, &ticks), "NUL in comm");
	}
	ASSERT_EQ(ticks, 77, "NUL in comm");
	/* Every truncation before the space after starttime fails. */
	snprintf(text, sizeof(text), "123 (cat)%s", rest);
	for (size_t len = 0; len < strlen(text); len++) {
		char *copy = malloc(len + 1);
		int ret;

		memcpy(copy, text, len);
		ret = procstat__parse_starttime(copy, len, &ticks);
		if (len <= strlen("123 (cat)") + strlen(" S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 4242"))
			ASSERT_EQ(ret, -EINVAL, "truncated");
		else
			ASSERT_OK(ret, "whole starttime");
		free(copy);
	}
	ASSERT_EQ(procstat__parse_starttime("1 (a) S 1 2 x", 13, &ticks), -EINVAL, "short");
	ASSERT_EQ(procstat__parse_starttime("no paren", 8, &ticks), -EINVAL, "no comm");
	ASSERT_EQ(procstat__parse_starttime("", 0, &ticks), -EINVAL, "empty");
	ASSERT_EQ(procstat__parse_starttime("1 (a)  S", 8, &ticks), -EINVAL, "double space");
	snprintf(text, sizeof(text),
		 "1 (a) S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 99999999999999999999999 1");
	ASSERT_EQ(procstat__parse_starttime(text, strlen(text), &ticks), -EINVAL, "overflow");
	snprintf(text, sizeof(text),
		 "1 (a) S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 18446744073709551615 1");
	ASSERT_OK(procstat__parse_starttime(text, strlen(text), &ticks), "largest");
	ASSERT_EQ(ticks, 18446744073709551615ULL, "largest");
	snprintf(text, sizeof(text),
		 "1 (a) S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 18446744073709551616 1");
	ASSERT_EQ(procstat__parse_starttime(text, strlen(text), &ticks), -EINVAL, "largest + 1");
	snprintf(text, sizeof(text), "1 (a) S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 12x 1");
	ASSERT_EQ(procstat__parse_starttime(text, strlen(text), &ticks), -EINVAL, "junk digit");
	snprintf(text, sizeof(text), "1 (a) S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 -5 1");
	ASSERT_EQ(procstat__parse_starttime(text, strlen(text), &ticks), -EINVAL, "negative");
}

/* Random bytes, and random bytes after a valid prefix: never a read past
 * the length (ASan), a result only when field 22 is digits. */
void test_procstat_parse_garbage(void)
{
	static const char prefix[] = "1 (x) S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 ";
	unsigned seed = 12345;
	unsigned long long ticks;

	for (int round = 0; round < 20000; round++) {
		size_t len = (size_t)(rand_r(&seed) % 160), off = 0;
		char *buf = malloc(len ? len : 1);

		if (round & 1 && len > sizeof(prefix)) {
			memcpy(buf, prefix, sizeof(prefix) - 1);
			off = sizeof(prefix) - 1;
		}
		for (size_t i = off; i < len; i++) {
			/* Mostly the bytes a stat line is made of. */
			static const char alpha[] = "0123456789 ()S\n";
			int r = rand_r(&seed);

			buf[i] = r & 1 ? alpha[(r >> 1) % (sizeof(alpha) - 1)] : (char)(r >> 8);
		}
		ticks = 0;
		if (!procstat__parse_starttime(buf, len, &ticks)) {
			/* The parser accepted: what it read is digits after a ')'. */
			ASSERT_TRUE(memchr(buf, ')', len) != NULL, "accepted without a comm");
		}
		free(buf);
	}
}

/* Our own start time: after boot, before now; a child's is no earlier;
 * a reaped pid is gone. */
void test_procstat_live(void)
{
	unsigned long long self = 0, child_st = 0;
	uint64_t now = procstat__boot_ticks();
	pid_t child;
	int status;

	ASSERT_TRUE(procstat__hz() > 0, "hz");
	ASSERT_OK(procstat__starttime(getpid(), &self), "self");
	ASSERT_TRUE(self <= now, "self started before now");
	child = fork();
	if (!child) {
		pause();
		_exit(0);
	}
	ASSERT_OK(procstat__starttime(child, &child_st), "child");
	ASSERT_TRUE(child_st >= self, "child started after us");
	ASSERT_TRUE(child_st <= procstat__boot_ticks(), "child started before now");
	kill(child, SIGKILL);
	waitpid(child, &status, 0);
	ASSERT_EQ(procstat__starttime(child, &child_st), -ESRCH, "reaped");
	ASSERT_EQ(procstat__starttime(0, &child_st), -EINVAL, "pid 0");
}
