// SPDX-License-Identifier: Apache-2.0
/* http/peer: the uid behind a loopback connection comes from the kernel
 * (a child connects as nobody), and the ptrace-like check follows the
 * target's uids and dumpable flag. Needs root (setresuid). */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent/procinfo.h"
#include "harness.h"
#include "http/peer.h"

#define NOBODY 65534

void test_peer_uid_of_loopback_client(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sa);
	int l, c, status;
	bool loopback = false;
	uid_t uid = 0;
	pid_t child;

	if (!ASSERT_EQ(geteuid(), 0, "runs as root"))
		return;
	l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (!ASSERT_TRUE(l >= 0, "socket"))
		return;
	ASSERT_OK(bind(l, (struct sockaddr *)&sa, sizeof(sa)), "bind");
	ASSERT_OK(listen(l, 4), "listen");
	ASSERT_OK(getsockname(l, (struct sockaddr *)&sa, &len), "getsockname");
	child = fork();
	if (!child) {
		int s;
		char b;

		if (syscall(SYS_setresgid, NOBODY, NOBODY, NOBODY) ||
		    syscall(SYS_setresuid, NOBODY, NOBODY, NOBODY))
			_exit(2);
		s = socket(AF_INET, SOCK_STREAM, 0);
		if (s < 0 || connect(s, (struct sockaddr *)&sa, sizeof(sa)))
			_exit(3);
		(void)!read(s, &b, 1);       /* until the parent has looked */
		_exit(0);
	}
	c = accept4(l, NULL, NULL, SOCK_CLOEXEC);
	if (ASSERT_TRUE(c >= 0, "accept")) {
		ASSERT_OK(peer__uid(c, &loopback, &uid), "lookup");
		ASSERT_TRUE(loopback, "a loopback client");
		ASSERT_EQ(uid, NOBODY, "the client's uid, not the server's");
		uid = 0;
		ASSERT_OK(peer__uid_from(c, PEER_SOCK_DIAG, &loopback, &uid), "sock_diag lookup");
		ASSERT_EQ(uid, NOBODY, "sock_diag: the client's uid");
		uid = 0;
		ASSERT_OK(peer__uid_from(c, PEER_PROC_NET, &loopback, &uid), "/proc/net lookup");
		ASSERT_EQ(uid, NOBODY, "/proc/net/tcp: the client's uid");
		close(c);
	}
	waitpid(child, &status, 0);
	ASSERT_EQ(WEXITSTATUS(status), 0, "child connected");
	close(l);
}

void test_peer_may_read(void)
{
	int p[2], status;
	pid_t child;
	char b;

	ASSERT_TRUE(peer__may_read(0, getpid()), "root's own dumpable process, for root");
	ASSERT_FALSE(peer__may_read(NOBODY, getpid()), "root's process, for nobody");
	ASSERT_FALSE(peer__may_read(NOBODY, 0), "pid 0");
	ASSERT_FALSE(peer__may_read(NOBODY, 4194304 + 1), "no such pid");
	ASSERT_TRUE(procinfo__is_kthread(2), "kthreadd is a kernel thread");
	ASSERT_FALSE(procinfo__is_kthread(getpid()), "we are not");

	/* A process that switched to nobody is not dumpable (the kernel clears
	 * the flag when credentials change) until it execs. */
	if (!ASSERT_OK(pipe(p), "pipe"))
		return;
	child = fork();
	if (!child) {
		close(p[1]);
		if (syscall(SYS_setresgid, NOBODY, NOBODY, NOBODY) ||
		    syscall(SYS_setresuid, NOBODY, NOBODY, NOBODY))
			_exit(2);
		(void)!read(p[0], &b, 1);
		execl("/bin/sleep", "sleep", "30", (char *)NULL);
		_exit(3);
	}
	close(p[0]);
	for (int i = 0; i < 100; i++) {  /* until the child's setresuid */
		char path[64], line[256];
		FILE *f;
		bool done = false;

		snprintf(path, sizeof(path), "/proc/%d/status", (int)child);
		f = fopen(path, "r");
		while (f && fgets(line, sizeof(line), f))
			if (!strncmp(line, "Uid:", 4))
				done = strstr(line, "65534") != NULL;
		if (f)
			fclose(f);
		if (done)
			break;
		usleep(10000);
	}
	ASSERT_FALSE(peer__may_read(NOBODY, child), "nobody's process after setresuid: not dumpable");
	(void)!write(p[1], "x", 1);
	for (int i = 0; i < 200 && !peer__may_read(NOBODY, child); i++)
		usleep(10000);  /* until the exec */
	ASSERT_TRUE(peer__may_read(NOBODY, child), "after exec: dumpable, nobody may read it");
	ASSERT_FALSE(peer__may_read(12345, child), "nobody's process, for another uid");
	close(p[1]);
	kill(child, SIGKILL);
	waitpid(child, &status, 0);
}
