// SPDX-License-Identifier: Apache-2.0
/* procmaps kept: procmaps__load of this process gives what the text of
 * its maps gives (through PROCMAP_QUERY where the kernel has it), a file
 * of garbage loads what is well-formed, a reaped pid is gone. */
#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "binary/procmaps.h"

static int keep_text(const struct procmaps_entry *e, void *ctx)
{
	struct procmaps *pm = ctx;
	struct procmaps_entry *ne;

	ne = realloc(pm->e, (pm->n + 1) * sizeof(*ne));
	if (!ne)
		return -ENOMEM;
	pm->e = ne;
	pm->e[pm->n] = *e;
	pm->e[pm->n].path = strdup(e->path);
	pm->n++;
	return 0;
}

static void load_self(bool text_only)
{
	struct procmaps pm, text = {};
	size_t i;
	void *anon;

	procmaps__text_only(text_only);

	/* An anonymous executable mapping (a JIT's) among the files. */
	anon = mmap(NULL, 8192, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_TRUE(anon != MAP_FAILED, "mmap");
	ASSERT_OK(procmaps__load(getpid(), &pm), "load");
	ASSERT_OK(procmaps__read(getpid(), keep_text, &text, NULL), "text");
	ASSERT_TRUE(pm.n > 3, "some executable mappings");
	ASSERT_EQ(pm.n, text.n, "as many as the text has");
	for (i = 0; i < pm.n && i < text.n; i++) {
		const struct procmaps_entry *a = &pm.e[i], *b = &text.e[i];

		ASSERT_EQ(a->start, b->start, "start");
		ASSERT_EQ(a->end, b->end, "end");
		ASSERT_EQ(a->offset, b->offset, "offset");
		ASSERT_EQ(a->inode, b->inode, "inode");
		ASSERT_EQ(procmaps_entry__dev(a), procmaps_entry__dev(b), "dev");
		ASSERT_STREQ(a->perms, b->perms, "perms");
		ASSERT_EQ(a->flags, b->flags, "flags");
		ASSERT_STREQ(a->path, b->path, "path");
		if (a->start == (uintptr_t)anon)
			ASSERT_STREQ(a->path, "", "the anonymous mapping has no path");
	}
	for (i = 0; i < text.n; i++)
		free((char *)text.e[i].path);
	free(text.e);
	/* procmaps__each visits them in order. */
	{
		struct procmaps copy = {};

		ASSERT_OK(procmaps__each(&pm, keep_text, &copy), "each");
		ASSERT_EQ(copy.n, pm.n, "each visits all");
		for (i = 0; i < copy.n; i++)
			free((char *)copy.e[i].path);
		free(copy.e);
	}
	procmaps__release(&pm);
	ASSERT_EQ(pm.n, 0, "released");
	procmaps__release(&pm); /* twice is harmless */
	munmap(anon, 8192);
	procmaps__text_only(false);
}

/* By PROCMAP_QUERY where the kernel has it (6.11+), else the text. */
void test_procmaps_load_self(void)
{
	load_self(false);
}

/* The fallback of older kernels (6.1: no PROCMAP_QUERY), forced. */
void test_procmaps_load_self_text(void)
{
	load_self(true);
}

void test_procmaps_load_gone(void)
{
	struct procmaps pm;
	pid_t child;
	int status;

	child = fork();
	if (!child)
		_exit(0);
	waitpid(child, &status, 0);
	ASSERT_EQ(procmaps__load(child, &pm), -ESRCH, "reaped");
	ASSERT_EQ(pm.n, 0, "nothing kept");
	ASSERT_EQ(procmaps__load(0, &pm), -EINVAL, "pid 0");
	procmaps__release(&pm);
}

void test_procmaps_load_file(void)
{
	static const char text[] =
		"1000-2000 r-xp 00000000 fd:01 5 /bin/a (deleted)\n"
		"garbage garbage\n"
		"2000-3000 rw-p 00000000 fd:01 5 /bin/a\n"
		"3000-4000 r-xp 00000000 fd:01 5 /bin/\0b\n"
		"3000-4000 rwxq 00000000 fd:01 5 /bin/c\n"
		"4000-5000 r-xp 00000000 00:00 0 [vdso]\n"
		"5000-6000 r-xs 00001000 fd:01 6 /bin/c";
	char path[] = "/tmp/profd-maps-XXXXXX";
	struct procmaps pm;
	size_t nbad = 0;
	int fd;

	fd = mkstemp(path);
	if (!ASSERT_TRUE(fd >= 0, "mkstemp"))
		return;
	ASSERT_EQ(write(fd, text, sizeof(text) - 1), (ssize_t)sizeof(text) - 1, "write");
	close(fd);
	ASSERT_OK(procmaps__load_file(path, &pm, &nbad), "load_file");
	ASSERT_EQ(pm.n, 3, "executable lines");
	ASSERT_EQ(nbad, 3, "garbage, NUL, bad perms");
	if (pm.n == 3) {
		ASSERT_STREQ(pm.e[0].path, "/bin/a", "deleted trimmed");
		ASSERT_EQ(pm.e[0].flags, PROCMAPS_DELETED, "deleted flag");
		ASSERT_STREQ(pm.e[1].path, "[vdso]", "vdso");
		ASSERT_EQ(pm.e[1].flags, PROCMAPS_SPECIAL, "special");
		ASSERT_STREQ(pm.e[2].path, "/bin/c", "last line");
		ASSERT_EQ(pm.e[2].offset, 0x1000, "offset");
		ASSERT_STREQ(pm.e[2].perms, "r-xs", "shared");
	}
	procmaps__release(&pm);
	unlink(path);
	ASSERT_EQ(procmaps__load_file(path, &pm, NULL), -ENOENT, "missing");
}
