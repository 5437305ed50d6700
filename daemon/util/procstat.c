// SPDX-License-Identifier: Apache-2.0
/* procstat: /proc/PID/stat's start time (see procstat.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "util/procstat.h"

/* The longest stat line is ~350 bytes plus a comm of at most 64 (escaped
 * task names of kernel threads): field 22 comes well before this. */
#define STAT_READ_MAX 1024

int procstat__parse_starttime(const char *text, size_t len, unsigned long long *ticks)
{
	const char *p = NULL, *end = text + len;
	unsigned long long v = 0;
	int field = 2; /* the comm; fields count from 1 */

	/* The comm ends at the last ')': it may itself hold ")" and spaces. */
	for (const char *c = text; c < end; c++)
		if (*c == ')')
			p = c;
	if (!p)
		return -EINVAL;
	for (p++; p < end && field < 22;) {
		if (*p != ' ')
			return -EINVAL;
		p++;
		field++;
		if (field < 22) {
			while (p < end && *p != ' ')
				p++;
		}
	}
	if (field != 22 || p >= end || *p < '0' || *p > '9')
		return -EINVAL;
	for (; p < end && *p >= '0' && *p <= '9'; p++) {
		unsigned d = (unsigned)(*p - '0');

		if (v > (~0ULL - d) / 10)
			return -EINVAL;
		v = v * 10 + d;
	}
	/* Field 23 follows: a number cut by the end of the buffer is no number. */
	if (p >= end || (*p != ' ' && *p != '\n'))
		return -EINVAL;
	*ticks = v;
	return 0;
}

int procstat__starttime(pid_t pid, unsigned long long *ticks)
{
	char path[64], text[STAT_READ_MAX];
	ssize_t n;
	int fd;

	if (pid <= 0)
		return -EINVAL;
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? -ESRCH : -errno;
	/* One read: seq_file hands the whole line to a buffer this size. */
	do
		n = read(fd, text, sizeof(text));
	while (n < 0 && errno == EINTR);
	if (n < 0)
		n = -errno;
	close(fd);
	if (n < 0)
		return (int)n;
	return procstat__parse_starttime(text, (size_t)n, ticks);
}

uint64_t procstat__hz(void)
{
	long hz = sysconf(_SC_CLK_TCK); /* glibc: AT_CLKTCK of the auxv, no system call */

	return hz > 0 ? (uint64_t)hz : 100;
}

uint64_t procstat__boot_ticks(void)
{
	uint64_t hz = procstat__hz();
	struct timespec ts;

	clock_gettime(CLOCK_BOOTTIME, &ts);
	return (uint64_t)ts.tv_sec * hz + (uint64_t)ts.tv_nsec / (1000000000ULL / hz);
}
