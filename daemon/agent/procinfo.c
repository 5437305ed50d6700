// SPDX-License-Identifier: Apache-2.0
/* procinfo: /proc/PID/comm and /proc/PID/cgroup; the start time through
 * util/procstat. */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "agent/procinfo.h"
#include "util/procstat.h"

/* A cgroup file is a few lines; deeper hierarchies than this are not worth
 * following for a name. */
#define CGROUP_READ_MAX 8192

/* Read at most size - 1 bytes of /proc/PID/name; ENOENT → ESRCH. */
static ssize_t read_proc(pid_t pid, const char *name, char *buf, size_t size)
{
	char path[64];
	ssize_t n, total = 0;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? -ESRCH : -errno;
	while ((size_t)total < size - 1) {
		n = read(fd, buf + total, size - 1 - total);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			/* A zombie's or exiting task's files answer ESRCH. */
			total = -errno;
			break;
		}
		if (!n)
			break;
		total += n;
	}
	close(fd);
	if (total >= 0)
		buf[total] = '\0';
	return total;
}

int procinfo__comm(pid_t pid, char *buf, size_t size)
{
	char tmp[PROCINFO_COMM_LEN + 8];
	ssize_t n;

	if (!size)
		return -EINVAL;
	n = read_proc(pid, "comm", tmp, sizeof(tmp));
	if (n < 0)
		return (int)n;
	tmp[strcspn(tmp, "\n")] = '\0';
	snprintf(buf, size, "%s", tmp);
	return 0;
}

bool procinfo__is_kthread(pid_t pid)
{
	char text[1024];
	const char *p = NULL;
	unsigned long long flags;
	ssize_t n;
	int field = 2;

	n = read_proc(pid, "stat", text, sizeof(text) - 1);
	if (n <= 0)
		return false;
	text[n] = '\0';
	p = strrchr(text, ')');      /* the comm ends at the last ')' */
	while (p && field < 9) {
		p = strchr(p + 1, ' ');
		field++;
	}
	if (!p || sscanf(p + 1, "%llu", &flags) != 1)
		return false;
	return flags & 0x00200000;  /* PF_KTHREAD */
}

int procinfo__start_boottime(pid_t pid, int64_t *ns)
{
	unsigned long long ticks;
	uint64_t hz = procstat__hz();
	int err;

	err = procstat__starttime(pid, &ticks);
	if (err)
		return err;
	*ns = (int64_t)(ticks / hz) * 1000000000 + (int64_t)(ticks % hz) * (int64_t)(1000000000 / hz);
	return 0;
}

static bool unit_char(unsigned char c)
{
	return c > 0x20 && c < 0x7f;
}

/* The deepest ".service" component of one path (p, n bytes). */
static bool path_unit(const char *p, size_t n, char *buf, size_t size)
{
	bool found = false;
	size_t i = 0;

	while (i < n) {
		size_t start, len;
		bool ok = true;

		while (i < n && p[i] == '/')
			i++;
		start = i;
		while (i < n && p[i] != '/') {
			if (!unit_char((unsigned char)p[i]))
				ok = false;
			i++;
		}
		len = i - start;
		if (!ok || len <= strlen(".service") || len >= size ||
		    memcmp(p + start + len - 8, ".service", 8))
			continue;
		memcpy(buf, p + start, len);
		buf[len] = '\0';
		found = true;
	}
	return found;
}

int procinfo__parse_cgroup_unit(const char *text, size_t len, char *buf, size_t size)
{
	bool v1 = false;
	size_t i = 0;

	if (!text || !buf || size < 2)
		return -EINVAL;
	/* Pass 1: the unified hierarchy; pass 2: systemd's v1 hierarchy. */
	for (int pass = 0; pass < 2; pass++) {
		for (i = 0; i < len;) {
			const char *line = text + i, *nl = memchr(line, '\n', len - i);
			size_t ll = nl ? (size_t)(nl - line) : len - i;
			const char *c1 = memchr(line, ':', ll), *c2;

			i += ll + 1;
			if (!c1)
				continue;
			c2 = memchr(c1 + 1, ':', ll - (c1 + 1 - line));
			if (!c2)
				continue;
			if (pass == 0 && !(c1 - line == 1 && line[0] == '0' && c2 == c1 + 1))
				continue;
			if (pass == 1) {
				v1 = c2 - c1 - 1 == 12 && !memcmp(c1 + 1, "name=systemd", 12);
				if (!v1)
					continue;
			}
			if (path_unit(c2 + 1, ll - (c2 + 1 - line), buf, size))
				return 0;
		}
	}
	buf[0] = '\0';
	return -ENOENT;
}

int procinfo__unit(pid_t pid, char *buf, size_t size)
{
	char text[CGROUP_READ_MAX];
	ssize_t n;

	n = read_proc(pid, "cgroup", text, sizeof(text));
	if (n < 0)
		return (int)n;
	return procinfo__parse_cgroup_unit(text, n, buf, size);
}

const char *procinfo__default_service(const char *unit, const char *comm, char *buf,
				      size_t size)
{
	size_t n = unit ? strlen(unit) : 0;

	if (n > 8 && !strcmp(unit + n - 8, ".service"))
		snprintf(buf, size, "%.*s", (int)(n - 8), unit);
	else if (n)
		snprintf(buf, size, "%s", unit);
	else if (comm && *comm)
		snprintf(buf, size, "%s", comm);
	else
		snprintf(buf, size, "unknown");
	return buf;
}
