// SPDX-License-Identifier: Apache-2.0
/* sdnotify: datagrams reach a socket the test binds, by path and by abstract
 * name; watchdog environment parsing. */
#include <errno.h>
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "harness.h"
#include "util/sdnotify.h"

/* Bind a datagram socket at name ("@x" abstract, "/x" path) with the exact
 * address length systemd uses. */
static int bind_notify(const char *name)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	size_t len = strlen(name);
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	memcpy(sa.sun_path, name, len);
	if (name[0] == '@')
		sa.sun_path[0] = '\0';
	if (bind(fd, (struct sockaddr *)&sa, offsetof(struct sockaddr_un, sun_path) + len)) {
		close(fd);
		return -1;
	}
	return fd;
}

static int recv_msg(int fd, char *buf, size_t sz)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	ssize_t n;

	if (poll(&p, 1, 1000) != 1)
		return -1;
	n = recv(fd, buf, sz - 1, 0);
	if (n < 0)
		return -1;
	buf[n] = '\0';
	return 0;
}

void test_sdnotify_abstract_and_path(void)
{
	char name[64], path[64], buf[256];
	int fd;

	snprintf(name, sizeof(name), "@profd-test-notify-%d", getpid());
	fd = bind_notify(name);
	if (!ASSERT_TRUE(fd >= 0, "bind abstract"))
		return;
	setenv("NOTIFY_SOCKET", name, 1);
	ASSERT_OK(sdnotify__send("READY=1\nSTATUS=collecting"), "send abstract");
	if (ASSERT_OK(recv_msg(fd, buf, sizeof(buf)), "recv abstract"))
		ASSERT_STREQ(buf, "READY=1\nSTATUS=collecting", "abstract payload");
	ASSERT_OK(sdnotify__sendf("STATUS=%d processes", 42), "sendf");
	if (ASSERT_OK(recv_msg(fd, buf, sizeof(buf)), "recv sendf"))
		ASSERT_STREQ(buf, "STATUS=42 processes", "sendf payload");
	close(fd);

	snprintf(path, sizeof(path), "/tmp/profd-test-notify-%d", getpid());
	unlink(path);
	fd = bind_notify(path);
	if (!ASSERT_TRUE(fd >= 0, "bind path"))
		goto out;
	setenv("NOTIFY_SOCKET", path, 1);
	ASSERT_OK(sdnotify__send("STOPPING=1"), "send path");
	if (ASSERT_OK(recv_msg(fd, buf, sizeof(buf)), "recv path"))
		ASSERT_STREQ(buf, "STOPPING=1", "path payload");
	close(fd);
	unlink(path);
	/* Nobody listening any more: an error, not a hang or a crash. */
	ASSERT_ERR(sdnotify__send("WATCHDOG=1"), "no listener");
out:
	unsetenv("NOTIFY_SOCKET");
}

void test_sdnotify_env(void)
{
	char pid[32];
	uint64_t us = 0;

	unsetenv("NOTIFY_SOCKET");
	ASSERT_OK(sdnotify__send("READY=1"), "unset: no-op");
	setenv("NOTIFY_SOCKET", "", 1);
	ASSERT_OK(sdnotify__send("READY=1"), "empty: no-op");
	setenv("NOTIFY_SOCKET", "relative/sock", 1);
	ASSERT_EQ(sdnotify__send("READY=1"), -EINVAL, "relative");
	setenv("NOTIFY_SOCKET", "vsock:2:1234", 1);
	ASSERT_EQ(sdnotify__send("READY=1"), -EINVAL, "vsock unsupported");
	setenv("NOTIFY_SOCKET", "/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 1);
	ASSERT_EQ(sdnotify__send("READY=1"), -EINVAL, "too long for sun_path");
	unsetenv("NOTIFY_SOCKET");

	unsetenv("WATCHDOG_USEC");
	unsetenv("WATCHDOG_PID");
	ASSERT_EQ(sdnotify__watchdog_usec(&us), 0, "no watchdog");
	setenv("WATCHDOG_USEC", "30000000", 1);
	ASSERT_EQ(sdnotify__watchdog_usec(&us), 1, "watchdog without pid");
	ASSERT_EQ(us, 30000000, "usec");
	snprintf(pid, sizeof(pid), "%d", getpid());
	setenv("WATCHDOG_PID", pid, 1);
	ASSERT_EQ(sdnotify__watchdog_usec(&us), 1, "watchdog for us");
	snprintf(pid, sizeof(pid), "%d", getpid() + 1);
	setenv("WATCHDOG_PID", pid, 1);
	ASSERT_EQ(sdnotify__watchdog_usec(&us), 0, "watchdog for another pid");
	setenv("WATCHDOG_PID", "abc", 1);
	ASSERT_EQ(sdnotify__watchdog_usec(&us), -EINVAL, "bad pid");
	unsetenv("WATCHDOG_PID");
	setenv("WATCHDOG_USEC", "0", 1);
	ASSERT_EQ(sdnotify__watchdog_usec(&us), -EINVAL, "zero");
	setenv("WATCHDOG_USEC", "30s", 1);
	ASSERT_EQ(sdnotify__watchdog_usec(&us), -EINVAL, "garbage");
	unsetenv("WATCHDOG_USEC");
}
