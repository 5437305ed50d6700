// SPDX-License-Identifier: Apache-2.0
/* sdnotify: one AF_UNIX datagram per notification. */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "util/parse.h"
#include "util/sdnotify.h"

int sdnotify__send(const char *state)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	socklen_t salen;
	size_t len;
	ssize_t n;
	int fd, err = 0;

	if (!path || !*path)
		return 0;
	len = strlen(path);
	if ((path[0] != '/' && path[0] != '@') || len < 2 || len >= sizeof(sa.sun_path))
		return -EINVAL;
	memcpy(sa.sun_path, path, len);
	/* An abstract name starts with NUL and is exactly len bytes long: the
	 * address length must not cover the trailing zeroes of sun_path, or
	 * they become part of the name and nobody is listening there. */
	if (sa.sun_path[0] == '@')
		sa.sun_path[0] = '\0';
	salen = offsetof(struct sockaddr_un, sun_path) + len;

	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	do
		n = sendto(fd, state, strlen(state), MSG_NOSIGNAL, (struct sockaddr *)&sa, salen);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		err = -errno;
	else if ((size_t)n != strlen(state))
		err = -EMSGSIZE;
	close(fd);
	return err;
}

int sdnotify__sendf(const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(buf))
		return -EMSGSIZE;
	return sdnotify__send(buf);
}

int sdnotify__watchdog_usec(uint64_t *usec)
{
	const char *us = getenv("WATCHDOG_USEC"), *pid = getenv("WATCHDOG_PID");
	uint64_t v, p;

	if (!us)
		return 0;
	if (parse_u64(us, 1, UINT64_MAX - 1, &v))
		return -EINVAL;
	if (pid) {
		if (parse_u64(pid, 1, INT32_MAX, &p))
			return -EINVAL;
		if ((pid_t)p != getpid())
			return 0;       /* meant for another process (e.g. our parent) */
	}
	*usec = v;
	return 1;
}
