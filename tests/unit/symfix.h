/* SPDX-License-Identifier: Apache-2.0 */
/* symfix: helpers shared by the symbolization tests that build their own
 * programs: a per-file temporary directory, shell commands, and child
 * processes that print "name hex" lines up to "ready", then wait for
 * commands on stdin and exit when it closes. Everything is static inline:
 * each test file gets its own copy, and unused ones cost nothing. */
#ifndef PROFD_TEST_SYMFIX_H
#define PROFD_TEST_SYMFIX_H

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

#define SYMFIX_MAX_SYMS 16
#define SYMFIX_TIMEOUT_MS 20000

struct symfix {
	char dir[64];
	int state; /* 0 unbuilt, 1 built, -1 failed */
};

struct fxchild {
	pid_t pid;
	int in, out;
	size_t nsyms;
	struct {
		char name[64];
		uint64_t addr;
	} syms[SYMFIX_MAX_SYMS];
};

static inline int fx_run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static inline int fx_run(const char *fmt, ...)
{
	char cmd[4096];
	va_list ap;
	int rc;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	rc = system(cmd);
	/* a fixture that cannot be built fails the test (never a silent return) */
	if (rc) {
		char d[160];

		snprintf(d, sizeof(d), "exit status %d (command on the line above)", rc);
		fprintf(stderr, "  fixture command failed: %s\n", cmd);
		harness_check(false, __FILE__, __LINE__, "fixture command", d);
	}
	return rc;
}

/* Output of a shell command (first line, no newline) into out. */
static inline bool fx_capture(char *out, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static inline bool fx_capture(char *out, size_t len, const char *fmt, ...)
{
	char cmd[4096];
	va_list ap;
	bool ok;
	FILE *p;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	p = popen(cmd, "r");
	if (!p)
		return false;
	ok = fgets(out, (int)len, p) != NULL;
	if (ok)
		out[strcspn(out, "\n")] = '\0';
	return pclose(p) == 0 && ok;
}

static inline int fx_write(const char *path, const void *buf, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0755);
	ssize_t n;

	if (fd < 0) {
		int err = -errno;

		harness_check(false, __FILE__, __LINE__, "fixture write", path);
		return err;
	}
	n = write(fd, buf, len);
	close(fd);
	if (n != (ssize_t)len) {
		harness_check(false, __FILE__, __LINE__, "fixture write", path);
		return -EIO;
	}
	return 0;
}

static inline int fx_read(const char *path, unsigned char **buf, size_t *len)
{
	struct stat st;
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st)) {
		if (fd >= 0)
			close(fd);
		return -errno;
	}
	*len = (size_t)st.st_size;
	*buf = malloc(*len ? *len : 1);
	n = *buf ? read(fd, *buf, *len) : -1;
	close(fd);
	return n == (ssize_t)*len ? 0 : -EIO;
}

/* A path in the fixture directory (rotating static buffers). */
static inline const char *fx_path(struct symfix *f, const char *name)
{
	static char bufs[8][256];
	static int i;
	char *b = bufs[i++ % 8];

	snprintf(b, sizeof(bufs[0]), "%s/%s", f->dir, name);
	return b;
}

static inline void fx_rmdir(const char *dir)
{
	char cmd[128];

	if (dir[0]) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
		if (system(cmd))
			fprintf(stderr, "  could not remove %s\n", dir);
	}
}

/* Make f's directory (once); false if that failed before. The caller
 * registers the atexit cleanup of its own static struct. */
static inline bool fx_mkdir(struct symfix *f, const char *tag)
{
	snprintf(f->dir, sizeof(f->dir), "/tmp/profd-%s-XXXXXX", tag);
	if (!mkdtemp(f->dir)) {
		f->dir[0] = '\0';
		return false;
	}
	return true;
}

static inline int fx_readline(struct fxchild *c, char *buf, size_t len)
{
	size_t n = 0;

	while (n + 1 < len) {
		struct pollfd pfd = { .fd = c->out, .events = POLLIN };
		char ch;

		if (poll(&pfd, 1, SYMFIX_TIMEOUT_MS) != 1 || read(c->out, &ch, 1) != 1)
			return -EIO;
		if (ch == '\n')
			break;
		buf[n++] = ch;
	}
	buf[n] = '\0';
	return 0;
}

/* Read "name hex" lines up to "ready". */
static inline int fx_sync(struct fxchild *c)
{
	char line[512], name[64];
	unsigned long long addr;

	for (;;) {
		if (fx_readline(c, line, sizeof(line)))
			return -EIO;
		if (!strcmp(line, "ready"))
			return 0;
		if (sscanf(line, "%63s %llx", name, &addr) == 2 && c->nsyms < SYMFIX_MAX_SYMS) {
			snprintf(c->syms[c->nsyms].name, sizeof(c->syms[0].name), "%s", name);
			c->syms[c->nsyms++].addr = addr;
		}
	}
}

/* Start argv[0] with argv, its stdin and stdout piped; wait for "ready". */
static inline bool fx_start(struct fxchild *c, char *const argv[])
{
	int in[2], out[2];

	memset(c, 0, sizeof(*c));
	c->pid = -1;
	if (!ASSERT_OK(pipe2(in, O_CLOEXEC), "pipe") || !ASSERT_OK(pipe2(out, O_CLOEXEC), "pipe"))
		return false;
	c->pid = fork();
	if (c->pid == 0) {
		dup2(in[0], 0);
		dup2(out[1], 1);
		execv(argv[0], argv);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	c->in = in[1];
	c->out = out[0];
	if (!ASSERT_TRUE(c->pid > 0, "fork"))
		return false;
	return ASSERT_OK(fx_sync(c), argv[0]);
}

static inline bool fx_start1(struct fxchild *c, const char *path)
{
	char *argv[] = { (char *)path, NULL };

	return fx_start(c, argv);
}

static inline uint64_t fx_sym(const struct fxchild *c, const char *name)
{
	for (size_t i = 0; i < c->nsyms; i++)
		if (!strcmp(c->syms[i].name, name))
			return c->syms[i].addr;
	return 0;
}

/* Send a command line and wait for the next "ready". */
static inline bool fx_cmd(struct fxchild *c, const char *cmd)
{
	size_t len = strlen(cmd);

	if (write(c->in, cmd, len) != (ssize_t)len || write(c->in, "\n", 1) != 1)
		return false;
	return fx_sync(c) == 0;
}

/* Close stdin: the child leaves its loop and exits; reap it. */
static inline void fx_stop(struct fxchild *c)
{
	int status;

	if (c->pid <= 0)
		return;
	close(c->in);
	close(c->out);
	for (int i = 0; i < 200; i++) {
		if (waitpid(c->pid, &status, WNOHANG) == c->pid) {
			c->pid = -1;
			return;
		}
		usleep(10000);
	}
	kill(c->pid, SIGKILL);
	waitpid(c->pid, &status, 0);
	c->pid = -1;
}

/* A tool a user's host may lack: the test is SKIPped (a failure under
 * CI=true, where scripts/deps.sh installed everything); the caller returns. */
static inline bool fx_have(const char *tool)
{
	char cmd[256];

	snprintf(cmd, sizeof(cmd), "command -v %s >/dev/null 2>&1", tool);
	if (!system(cmd))
		return true;
	harness_skip(__FILE__, __LINE__, "%s is not installed (scripts/deps.sh installs it)", tool);
	return false;
}

#endif
