// SPDX-License-Identifier: Apache-2.0
/* spool: FIFO order, persistence across reopen, the byte bound, corrupt and
 * leftover files. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "export/spool.h"
#include "harness.h"

static void rm_rf(const char *dir)
{
	char cmd[PATH_MAX + 16];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd))
		fprintf(stderr, "could not remove %s\n", dir);
}

static int push_n(struct spool *s, int i, size_t len)
{
	char path[32], body[4096];
	struct upload_item it = { .path = path, .content_type = "application/proto",
				  .body = (uint8_t *)body, .len = len };

	snprintf(path, sizeof(path), "/p?i=%d", i);
	memset(body, 'a' + i % 26, sizeof(body));
	return spool__push(s, &it);
}

/* Peek+pop the head and return its index i, or -1. */
static int take(struct spool *s)
{
	struct upload_item it;
	int i = -1;

	if (spool__peek(s, &it))
		return -1;
	if (sscanf(it.path, "/p?i=%d", &i) != 1 || strcmp(it.content_type, "application/proto") ||
	    (it.len && it.body[0] != 'a' + i % 26))
		i = -2;
	upload_item__done(&it);
	spool__pop(s);
	return i;
}

void test_spool_fifo_and_reopen(void)
{
	char dir[64] = "/tmp/profd-spool-XXXXXX", path[PATH_MAX];
	struct spool *s;

	if (!ASSERT_OK_PTR(mkdtemp(dir), "tmpdir"))
		return;
	snprintf(path, sizeof(path), "%s/spool", dir);
	s = spool__open(path, 1 << 20);
	if (!ASSERT_OK_PTR(s, "open"))
		goto out;
	for (int i = 0; i < 12; i++)
		ASSERT_OK(push_n(s, i, 100 + i), "push");
	ASSERT_EQ(spool__stats(s)->items, 12, "items");
	ASSERT_EQ(take(s), 0, "first in, first out");
	ASSERT_EQ(take(s), 1, "second");
	spool__free(s);

	/* A restart finds the rest in order, and new requests go after them. */
	s = spool__open(path, 1 << 20);
	if (!ASSERT_OK_PTR(s, "reopen"))
		goto out;
	ASSERT_EQ(spool__stats(s)->items, 10, "items after reopen");
	ASSERT_OK(push_n(s, 99, 0), "push empty body");
	for (int i = 2; i < 12; i++)
		ASSERT_EQ(take(s), i, "order after reopen");
	ASSERT_EQ(take(s), 99, "newest last");
	ASSERT_EQ(take(s), -1, "empty");
	ASSERT_EQ(spool__stats(s)->bytes, 0, "no bytes left");
	ASSERT_EQ(spool__pop(s), -ENOENT, "pop empty");
	spool__free(s);
	spool__free(NULL);
out:
	rm_rf(dir);
}

void test_spool_bound(void)
{
	char dir[64] = "/tmp/profd-spool-XXXXXX";
	struct spool *s;
	int stored = 0, err = 0;

	if (!ASSERT_OK_PTR(mkdtemp(dir), "tmpdir"))
		return;
	/* Room for 3 records of 1000 body bytes plus header and path. */
	s = spool__open(dir, 3 * 1100);
	if (!ASSERT_OK_PTR(s, "open"))
		goto out;
	for (int i = 0; i < 5; i++) {
		err = push_n(s, i, 1000);
		if (!err)
			stored++;
		else
			ASSERT_EQ(err, -ENOSPC, "refused past the bound");
	}
	ASSERT_EQ(stored, 3, "three fit");
	ASSERT_EQ(spool__stats(s)->dropped, 2, "two counted");
	ASSERT_EQ(spool__stats(s)->dropped_bytes, 2000, "dropped bytes");
	ASSERT_TRUE(spool__stats(s)->bytes <= 3 * 1100, "within bound");
	/* What was accepted is kept whole: the three oldest. */
	ASSERT_EQ(take(s), 0, "0");
	ASSERT_OK(push_n(s, 5, 1000), "room again");
	ASSERT_EQ(take(s), 1, "1");
	ASSERT_EQ(take(s), 2, "2");
	ASSERT_EQ(take(s), 5, "5");
	spool__free(s);
out:
	rm_rf(dir);
}

void test_spool_corrupt_files(void)
{
	char dir[64] = "/tmp/profd-spool-XXXXXX", path[PATH_MAX];
	static const char junk[] = "\x7f" "ELF garbage that is not a spool record at all, long enough";
	struct spool *s;
	int fd;

	if (!ASSERT_OK_PTR(mkdtemp(dir), "tmpdir"))
		return;
	s = spool__open(dir, 1 << 20);
	if (!ASSERT_OK_PTR(s, "open"))
		goto out;
	for (int i = 0; i < 4; i++)
		ASSERT_OK(push_n(s, i, 300), "push");
	spool__free(s);
	/* 0: garbage; 1: truncated; 2: one body byte flipped (CRC); 3: fine.
	 * Plus a crash's temporary and a foreign file. */
	snprintf(path, sizeof(path), "%s/%016x.req", dir, 0);
	fd = open(path, O_WRONLY | O_TRUNC);
	ASSERT_EQ(write(fd, junk, sizeof(junk)), sizeof(junk), "garble");
	close(fd);
	snprintf(path, sizeof(path), "%s/%016x.req", dir, 1);
	ASSERT_OK(truncate(path, 100), "truncate");
	snprintf(path, sizeof(path), "%s/%016x.req", dir, 2);
	fd = open(path, O_WRONLY);
	ASSERT_EQ(pwrite(fd, "Z", 1, 200), 1, "flip");
	close(fd);
	snprintf(path, sizeof(path), "%s/.tmp-abcdef", dir);
	close(open(path, O_CREAT | O_WRONLY, 0600));
	snprintf(path, sizeof(path), "%s/README", dir);
	close(open(path, O_CREAT | O_WRONLY, 0600));

	s = spool__open(dir, 1 << 20);
	if (!ASSERT_OK_PTR(s, "reopen"))
		goto out;
	snprintf(path, sizeof(path), "%s/.tmp-abcdef", dir);
	ASSERT_EQ(access(path, F_OK), -1, "temporary removed at open");
	ASSERT_EQ(spool__stats(s)->items, 4, "four indexed");
	ASSERT_EQ(take(s), 3, "only the good one is delivered");
	ASSERT_EQ(spool__stats(s)->corrupt, 3, "three corrupt counted");
	ASSERT_EQ(take(s), -1, "empty");
	snprintf(path, sizeof(path), "%s/README", dir);
	ASSERT_OK(access(path, F_OK), "foreign file untouched");
	spool__free(s);
out:
	rm_rf(dir);
}
