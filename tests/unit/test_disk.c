// SPDX-License-Identifier: Apache-2.0
/* disk: layout and atomic writes, name sanitizing, retention by age and size,
 * stale temporaries, and a really full file system (a 64 KiB tmpfs). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "export/disk.h"
#include "harness.h"

#define SEC 1000000000LL

/* ASSERT_STREQ for strings longer than its message buffer. */
static bool same(const char *got, const char *want, const char *name)
{
	bool ok = !strcmp(got, want);

	if (!ok)
		fprintf(stderr, "    got:  %s\n    want: %s\n", got, want);
	return ASSERT_TRUE(ok, name);
}

static int make_tmpdir(char *buf, size_t size)
{
	snprintf(buf, size, "/tmp/profd-disk-XXXXXX");
	return mkdtemp(buf) ? 0 : -errno;
}

static void rm_rf(const char *dir)
{
	char cmd[PATH_MAX + 16];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd))
		fprintf(stderr, "could not remove %s\n", dir);
}

/* Files under dir whose name contains needle (all files if NULL), recursively. */
static int count_files(const char *dir, const char *needle)
{
	struct dirent *de;
	char path[PATH_MAX];
	struct stat st;
	int n = 0;
	DIR *d = opendir(dir);

	if (!d)
		return 0;
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (lstat(path, &st))
			continue;
		if (S_ISDIR(st.st_mode))
			n += count_files(path, needle);
		else if (!needle || strstr(de->d_name, needle))
			n++;
	}
	closedir(d);
	return n;
}

/* Profiles (named "*.pb.gz", not hidden) under dir, recursively. */
static int count_profiles(const char *dir)
{
	return count_files(dir, ".pb.gz") - count_files(dir, ".tmp.");
}

static long file_size(const char *path)
{
	struct stat st;

	return stat(path, &st) ? -1 : st.st_size;
}

static void set_mtime(const char *path, int64_t ns)
{
	struct timespec ts[2] = { { ns / SEC, ns % SEC }, { ns / SEC, ns % SEC } };

	utimensat(AT_FDCWD, path, ts, 0);
}

void test_disk_layout_and_atomic_write(void)
{
	char dir[64], path[PATH_MAX], want[PATH_MAX], real[PATH_MAX], longname[300];
	static const char data[] = "\x1f\x8b profile bytes";
	struct disk_store *d;
	FILE *f;
	int err;

	if (!ASSERT_OK(make_tmpdir(dir, sizeof(dir)), "tmpdir"))
		return;
	snprintf(path, sizeof(path), "%s/out/", dir);   /* created, trailing '/' ok */
	d = disk_store__new(path, 0, 0);
	if (!ASSERT_OK_PTR(d, "new"))
		goto out;
	err = disk_store__write(d, "nginx", 42, "cpu", 1700000000123456789LL, data, sizeof(data),
				path, sizeof(path));
	ASSERT_OK(err, "write");
	snprintf(want, sizeof(want), "%s/out/nginx/42/cpu-20231114T221320.123Z.pb.gz", dir);
	same(path, want, "layout");
	ASSERT_EQ(file_size(want), sizeof(data), "size");
	f = fopen(want, "rb");
	if (ASSERT_OK_PTR(f, "open")) {
		char back[64] = "";

		ASSERT_EQ(fread(back, 1, sizeof(back), f), sizeof(data), "read back");
		ASSERT_TRUE(!memcmp(back, data, sizeof(data)), "content");
		fclose(f);
	}
	ASSERT_EQ(count_files(dir, ".tmp."), 0, "no temporary left");
	/* The same name twice keeps both: the second gets "-2", a third "-3";
	 * nothing is overwritten and nothing counts as a failure. */
	ASSERT_OK(disk_store__write(d, "nginx", 42, "cpu", 1700000000123456789LL, "x", 1, path,
				    sizeof(path)), "clash kept");
	ASSERT_EQ(file_size(want), sizeof(data), "original kept");
	snprintf(want, sizeof(want), "%s/out/nginx/42/cpu-20231114T221320.123Z-2.pb.gz", dir);
	same(path, want, "second name");
	ASSERT_EQ(file_size(want), 1, "second kept");
	ASSERT_OK(disk_store__write(d, "nginx", 42, "cpu", 1700000000123456789LL, "yy", 2, path,
				    sizeof(path)), "third clash kept");
	snprintf(want, sizeof(want), "%s/out/nginx/42/cpu-20231114T221320.123Z-3.pb.gz", dir);
	same(path, want, "third name");
	ASSERT_EQ(file_size(want), 2, "third kept");
	ASSERT_EQ(disk_store__stats(d)->renamed, 2, "renamed counted");
	ASSERT_EQ(count_files(dir, ".tmp."), 0, "no temporary left after a clash");

	/* Hostile process names stay one component under dir. */
	ASSERT_OK(disk_store__write(d, "../../etc", 1, "heap", 5 * SEC, "x", 1, path, sizeof(path)),
		  "dotdot");
	snprintf(want, sizeof(want), "%s/out/_._.._etc/1/heap-19700101T000005.000Z.pb.gz", dir);
	same(path, want, "dotdot sanitized");
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	ASSERT_OK(disk_store__write(d, longname, 2, "cpu", 0, "x", 1, path, sizeof(path)), "long");
	ASSERT_TRUE(realpath(path, real) != NULL, "exists");
	snprintf(want, sizeof(want), "%s/out/", dir);
	ASSERT_TRUE(!strncmp(real, want, strlen(want)), "under dir");
	ASSERT_EQ(strlen(strchr(real + strlen(want), '/')) + DISK_MAX_NAME, strlen(real + strlen(want)),
		  "name cut to DISK_MAX_NAME");
	ASSERT_OK(disk_store__write(d, "", 3, "cpu", 0, "x", 1, path, sizeof(path)), "empty name");
	ASSERT_TRUE(strstr(path, "/out/_/3/") != NULL, path);
	ASSERT_EQ(disk_store__stats(d)->written, 6, "written");
	ASSERT_EQ(disk_store__stats(d)->errors, 0, "a clash is no failure");
	disk_store__free(d);

	ASSERT_TRUE(disk_store__new("", 0, 0) == NULL && errno == EINVAL, "empty dir");
	ASSERT_TRUE(disk_store__new("/proc/profd-no", 0, 0) == NULL, "uncreatable dir");
	disk_store__free(NULL);
out:
	rm_rf(dir);
}

/* group_by = service: <dir>/<service>/<type>-<start>.pb.gz (pid 0), next to
 * per-process ones; retention counts and removes both, and the service's
 * directory with its last file, never output_dir itself. */
void test_disk_service_layout(void)
{
	char dir[64], path[PATH_MAX], want[PATH_MAX], proc[PATH_MAX];
	int64_t now = 1700000000LL * SEC;
	struct disk_store *d;

	if (!ASSERT_OK(make_tmpdir(dir, sizeof(dir)), "tmpdir"))
		return;
	d = disk_store__new(dir, 0, 3600 * SEC);
	if (!ASSERT_OK_PTR(d, "new"))
		goto out;
	ASSERT_OK(disk_store__write(d, "web", 0, "cpu", now - 7200 * SEC, "xyz", 3, path,
				    sizeof(path)), "service profile");
	snprintf(want, sizeof(want), "%s/web/cpu-20231114T201320.000Z.pb.gz", dir);
	ASSERT_STREQ(path, want, "service path");
	set_mtime(path, now - 7200 * SEC);
	ASSERT_OK(disk_store__write(d, "web", 0, "cpu", now - 7200 * SEC, "ab", 2, path,
				    sizeof(path)), "clash");
	ASSERT_TRUE(strstr(path, "/web/cpu-20231114T201320.000Z-2.pb.gz") != NULL, path);
	set_mtime(path, now - 7200 * SEC);
	ASSERT_OK(disk_store__write(d, "db", 7, "cpu", now - 60 * SEC, "x", 1, proc, sizeof(proc)),
		  "process profile");
	set_mtime(proc, now - 60 * SEC);
	ASSERT_OK(disk_store__write(d, "db", 0, "cpu", now - 60 * SEC, "xy", 2, path, sizeof(path)),
		  "a service named like a process");
	set_mtime(path, now - 60 * SEC);
	ASSERT_EQ(disk_store__retain(d, now), 2, "the old service profiles removed");
	snprintf(want, sizeof(want), "%s/web", dir);
	ASSERT_EQ(access(want, F_OK), -1, "empty service dir removed");
	ASSERT_EQ(access(dir, F_OK), 0, "output_dir kept");
	ASSERT_EQ(file_size(proc), 1, "process profile kept");
	ASSERT_EQ(file_size(path), 2, "service profile next to it kept");
	ASSERT_EQ(disk_store__stats(d)->files, 2, "files");
	ASSERT_EQ(disk_store__stats(d)->bytes_used, 3, "bytes");
	/* The last profiles go: output_dir stays. */
	ASSERT_EQ(disk_store__retain(d, now + 7200 * SEC), 2, "all removed");
	ASSERT_EQ(access(dir, F_OK), 0, "output_dir kept when empty");
	disk_store__free(d);
out:
	rm_rf(dir);
}

void test_disk_retention(void)
{
	char dir[64], path[PATH_MAX], foreign[PATH_MAX], kept[5][PATH_MAX];
	char buf[1000];
	int64_t now = 1700000000LL * SEC;
	struct disk_store *d;

	memset(buf, 'p', sizeof(buf));
	if (!ASSERT_OK(make_tmpdir(dir, sizeof(dir)), "tmpdir"))
		return;
	d = disk_store__new(dir, 2500, 3600 * SEC);
	if (!ASSERT_OK_PTR(d, "new"))
		goto out;
	/* Before the first profile (an interval that wrote none): nothing. */
	ASSERT_EQ(disk_store__retain(d, now), 0, "empty store");
	/* Five 1000-byte profiles, one per process, a minute apart, and one
	 * two hours old. */
	for (int i = 0; i < 5; i++) {
		char name[16];

		snprintf(name, sizeof(name), "proc%d", i);
		ASSERT_OK(disk_store__write(d, name, 100 + i, "cpu", now - (5 - i) * 60 * SEC, buf,
					    sizeof(buf), kept[i], sizeof(kept[i])), "write");
		set_mtime(kept[i], now - (5 - i) * 60 * SEC);
	}
	ASSERT_OK(disk_store__write(d, "old", 7, "cpu", now - 7200 * SEC, buf, 10, path, sizeof(path)),
		  "old");
	set_mtime(path, now - 7200 * SEC);
	/* Not ours: never deleted, never counted. */
	snprintf(foreign, sizeof(foreign), "%s/proc0/100/notes.txt", dir);
	fclose(fopen(foreign, "w"));
	set_mtime(foreign, now - 9999 * SEC);

	/* Age removes "old"; size then removes the three oldest 1000-byte files. */
	ASSERT_EQ(disk_store__retain(d, now), 4, "removed");
	ASSERT_EQ(file_size(path), -1, "old removed");
	snprintf(path, sizeof(path), "%s/old", dir);
	ASSERT_EQ(access(path, F_OK), -1, "empty process dir removed");
	for (int i = 0; i < 3; i++)
		ASSERT_EQ(file_size(kept[i]), -1, "oldest removed");
	ASSERT_EQ(file_size(kept[3]), 1000, "newer kept");
	ASSERT_EQ(file_size(kept[4]), 1000, "newest kept");
	ASSERT_EQ(file_size(foreign), 0, "foreign file kept");
	ASSERT_EQ(disk_store__stats(d)->bytes_used, 2000, "bytes used");
	ASSERT_EQ(disk_store__stats(d)->files, 2, "files");
	ASSERT_EQ(disk_store__stats(d)->removed, 4, "removed counter");
	/* Within bounds now: nothing more goes. */
	ASSERT_EQ(disk_store__retain(d, now), 0, "stable");

	/* A crash's temporary is removed once stale, a fresh one is left alone. */
	snprintf(path, sizeof(path), "%s/proc4/104/.cpu-x.pb.gz.tmp.abcdef", dir);
	fclose(fopen(path, "w"));
	set_mtime(path, now - 60 * SEC);
	ASSERT_EQ(disk_store__retain(d, now), 0, "fresh temporary kept");
	ASSERT_EQ(file_size(path), 0, "still there");
	set_mtime(path, now - 3600 * SEC);
	ASSERT_EQ(disk_store__retain(d, now), 1, "stale temporary removed");
	ASSERT_EQ(file_size(path), -1, "gone");
	disk_store__free(d);
out:
	rm_rf(dir);
}

/* A 64 KiB tmpfs: writes fail with ENOSPC, leave no partial file, are
 * counted, and succeed again once retention makes room. */
void test_disk_full(void)
{
	char dir[64], path[PATH_MAX];
	static char buf[10000];
	struct disk_store *d = NULL;
	int err = 0, ok = 0;

	if (!ASSERT_OK(make_tmpdir(dir, sizeof(dir)), "tmpdir"))
		return;
	if (mount("tmpfs", dir, "tmpfs", 0, "size=64k,mode=0700")) {
		/* Needs CAP_SYS_ADMIN; CI runs as root, so there it must work. */
		harness_skip(__FILE__, __LINE__, "mount tmpfs: %s (needs CAP_SYS_ADMIN)", strerror(errno));
		rmdir(dir);
		return;
	}
	memset(buf, 'z', sizeof(buf));
	d = disk_store__new(dir, 0, 0);
	if (!ASSERT_OK_PTR(d, "new"))
		goto out;
	for (int i = 0; i < 20 && !err; i++) {
		err = disk_store__write(d, "fill", 1, "cpu", (int64_t)(i + 1) * SEC, buf, sizeof(buf),
					NULL, 0);
		if (!err)
			ok++;
	}
	ASSERT_EQ(err, -ENOSPC, "disk full");
	ASSERT_TRUE(ok >= 3 && ok < 7, "some fit");
	ASSERT_EQ(disk_store__stats(d)->enospc, 1, "counted");
	ASSERT_EQ(count_files(dir, ".tmp."), 0, "no temporary left");
	ASSERT_EQ(count_files(dir, NULL), ok, "only whole profiles");
	/* Every file that exists is complete. */
	for (int i = 0; i < ok; i++) {
		disk_store__path(d, "fill", 1, "cpu", (int64_t)(i + 1) * SEC, path, sizeof(path));
		ASSERT_EQ(file_size(path), sizeof(buf), "whole file");
	}
	/* Collection goes on: the next failure is counted too. */
	ASSERT_EQ(disk_store__write(d, "fill", 1, "cpu", 99 * SEC, buf, sizeof(buf), NULL, 0),
		  -ENOSPC, "still full");
	ASSERT_EQ(disk_store__stats(d)->enospc, 2, "counted again");
	/* Retention to 2 profiles' worth frees room; the write then succeeds. */
	disk_store__free(d);
	d = disk_store__new(dir, 2 * sizeof(buf), 0);
	if (!ASSERT_OK_PTR(d, "new 2"))
		goto out;
	ASSERT_EQ(disk_store__retain(d, 100 * SEC), ok - 2, "retention frees room");
	ASSERT_OK(disk_store__write(d, "fill", 1, "cpu", 100 * SEC, buf, sizeof(buf), NULL, 0),
		  "write after retention");
out:
	disk_store__free(d);
	umount2(dir, MNT_DETACH);
	rmdir(dir);
}

/* A retain scans every file: the agent runs one only when it may remove
 * something. Due first; not again while nothing is old or over the size
 * (each interval's writes counted); due when a write puts the total over
 * max_bytes, when the oldest kept profile passes max_age, and 5 minutes
 * after the last scan; and a due retain removes what it says. */
void test_disk_retain_due(void)
{
	char dir[64], path[PATH_MAX];
	int64_t now = 1700000000LL * SEC;
	struct disk_store *d;

	if (!ASSERT_OK(make_tmpdir(dir, sizeof(dir)), "tmpdir"))
		return;
	d = disk_store__new(dir, 10, 3600 * SEC);
	if (!ASSERT_OK_PTR(d, "new"))
		goto out;
	ASSERT_TRUE(disk_store__retain_due(d, now), "due before any scan");
	ASSERT_OK(disk_store__write(d, "a", 1, "cpu", now, "xyz", 3, path, sizeof(path)), "write");
	set_mtime(path, now);
	ASSERT_EQ(disk_store__retain(d, now), 0, "nothing to remove");
	ASSERT_FALSE(disk_store__retain_due(d, now + 10 * SEC), "not due: 3 of 10 bytes, young");
	ASSERT_OK(disk_store__write(d, "a", 1, "cpu", now + 10 * SEC, "xyz", 3, path, sizeof(path)),
		  "write");
	set_mtime(path, now + 10 * SEC);
	ASSERT_FALSE(disk_store__retain_due(d, now + 20 * SEC), "not due: 6 of 10 bytes");
	ASSERT_TRUE(disk_store__retain_due(d, now + 3601 * SEC), "due: the oldest is past max_age");
	ASSERT_TRUE(disk_store__retain_due(d, now + 300 * SEC), "due: 5 minutes since the scan");
	ASSERT_OK(disk_store__write(d, "a", 1, "cpu", now + 20 * SEC, "xyzzy", 5, path,
				    sizeof(path)), "write");
	set_mtime(path, now + 20 * SEC);
	ASSERT_TRUE(disk_store__retain_due(d, now + 30 * SEC), "due: 11 of 10 bytes");
	ASSERT_EQ(disk_store__retain(d, now + 30 * SEC), 1, "the oldest removed");
	ASSERT_FALSE(disk_store__retain_due(d, now + 40 * SEC), "within bounds again");
	disk_store__free(d);
out:
	rm_rf(dir);
}

/* Writes in a batch: each profile is complete under its final name as soon
 * as its write returns (before any commit); the commit then fsyncs each
 * directory the batch touched once (the pid directories renamed into, and
 * the parents of those it made), and an empty commit none. Two profiles
 * with one name in a batch are both kept; a directory removed between two
 * writes (retention) is made again; a commit after it is gone succeeds. */
void test_disk_batch_commit(void)
{
	char dir[64], path[PATH_MAX], p1[PATH_MAX], p2[PATH_MAX], p3[PATH_MAX], p4[PATH_MAX];
	static char big[100000];
	struct disk_store *d;

	if (!ASSERT_OK(make_tmpdir(dir, sizeof(dir)), "tmpdir"))
		return;
	memset(big, 'q', sizeof(big));
	snprintf(path, sizeof(path), "%s/out", dir);
	d = disk_store__new(path, 0, 0);
	if (!ASSERT_OK_PTR(d, "new"))
		goto out;
	ASSERT_OK(disk_store__commit(d), "empty commit");
	ASSERT_EQ(disk_store__stats(d)->dir_syncs, 0, "nothing to sync");
	ASSERT_OK(disk_store__write(d, "app", 1, "cpu", 10 * SEC, big, sizeof(big), p1, sizeof(p1)),
		  "first");
	/* Complete and in place before the commit. */
	ASSERT_EQ(file_size(p1), sizeof(big), "whole before commit");
	ASSERT_OK(disk_store__write(d, "app", 1, "cpu", 20 * SEC, "ab", 2, p2, sizeof(p2)), "second");
	ASSERT_OK(disk_store__write(d, "app", 1, "cpu", 20 * SEC, "abc", 3, p3, sizeof(p3)),
		  "same name in the batch");
	ASSERT_TRUE(strcmp(p2, p3) != 0 && strstr(p3, "-2.pb.gz"), "clash renamed");
	ASSERT_OK(disk_store__write(d, "app", 2, "cpu", 20 * SEC, "abcd", 4, p4, sizeof(p4)),
		  "other pid");
	ASSERT_EQ(file_size(p2), 2, "second whole");
	ASSERT_EQ(file_size(p3), 3, "clash whole");
	ASSERT_EQ(file_size(p4), 4, "other pid whole");
	ASSERT_EQ(count_files(dir, ".tmp."), 0, "no temporary left");
	ASSERT_EQ(disk_store__stats(d)->dir_syncs, 0, "no directory synced before the commit");
	/* out (app made in it), out/app (1 and 2 made), out/app/1, out/app/2. */
	ASSERT_OK(disk_store__commit(d), "commit");
	ASSERT_EQ(disk_store__stats(d)->dir_syncs, 4, "each directory once");
	ASSERT_OK(disk_store__commit(d), "commit again");
	ASSERT_EQ(disk_store__stats(d)->dir_syncs, 4, "nothing left to sync");
	ASSERT_EQ(file_size(p1), sizeof(big), "first whole after commit");
	ASSERT_EQ(count_files(dir, ".pb.gz"), 4, "every profile kept");

	/* The process's directory removed behind the store's back (retention
	 * emptied it): the next write makes it again. */
	snprintf(path, sizeof(path), "%s/out/app", dir);
	rm_rf(path);
	ASSERT_OK(disk_store__write(d, "app", 1, "cpu", 30 * SEC, "xyz", 3, p1, sizeof(p1)),
		  "write into a removed directory");
	ASSERT_EQ(file_size(p1), 3, "whole");
	ASSERT_OK(disk_store__commit(d), "commit");
	ASSERT_EQ(disk_store__stats(d)->dir_syncs, 7, "out, out/app, out/app/1");
	/* A directory gone between a write and the commit: nothing to sync. */
	ASSERT_OK(disk_store__write(d, "gone", 5, "cpu", 30 * SEC, "x", 1, p1, sizeof(p1)), "write");
	snprintf(path, sizeof(path), "%s/out/gone", dir);
	rm_rf(path);
	ASSERT_OK(disk_store__commit(d), "commit after removal");
	ASSERT_EQ(disk_store__stats(d)->written, 6, "written");
	ASSERT_EQ(disk_store__stats(d)->errors, 0, "no failure");
out:
	disk_store__free(d);
	rm_rf(dir);
}

/* A write the file system refuses midway leaves no file under the name
 * nor a temporary, in a batch as alone, and the commit that follows syncs
 * only what was written; the uncommitted profiles written before it are
 * whole. */
void test_disk_batch_failed_write(void)
{
	char dir[64], path[PATH_MAX];
	static char buf[30000];
	struct disk_store *d = NULL;
	int err = 0, ok = 0;

	if (!ASSERT_OK(make_tmpdir(dir, sizeof(dir)), "tmpdir"))
		return;
	if (mount("tmpfs", dir, "tmpfs", 0, "size=64k,mode=0700")) {
		harness_skip(__FILE__, __LINE__, "mount tmpfs: %s (needs CAP_SYS_ADMIN)", strerror(errno));
		rmdir(dir);
		return;
	}
	memset(buf, 'w', sizeof(buf));
	d = disk_store__new(dir, 0, 0);
	if (!ASSERT_OK_PTR(d, "new"))
		goto out;
	for (int i = 0; i < 5 && !err; i++) {
		err = disk_store__write(d, "p", 1, "cpu", (int64_t)(i + 1) * SEC, buf, sizeof(buf),
					NULL, 0);
		ok += !err;
	}
	ASSERT_EQ(err, -ENOSPC, "full");
	ASSERT_TRUE(ok >= 1, "some written");
	ASSERT_EQ(count_files(dir, ".tmp."), 0, "no temporary left");
	ASSERT_EQ(count_files(dir, NULL), ok, "only whole profiles");
	disk_store__path(d, "p", 1, "cpu", (int64_t)(ok + 1) * SEC, path, sizeof(path));
	ASSERT_EQ(file_size(path), -1, "the failed one absent");
	for (int i = 0; i < ok; i++) {
		disk_store__path(d, "p", 1, "cpu", (int64_t)(i + 1) * SEC, path, sizeof(path));
		ASSERT_EQ(file_size(path), sizeof(buf), "whole before commit");
	}
	ASSERT_OK(disk_store__commit(d), "commit");
	/* dir (p made in it), dir/p (1 made in it), dir/p/1. */
	ASSERT_EQ(disk_store__stats(d)->dir_syncs, 3, "synced what was written");
out:
	disk_store__free(d);
	umount2(dir, MNT_DETACH);
	rmdir(dir);
}

/* A batch (the agent's tick): writes between begin and commit are staged
 * in hidden temporaries, with no file under a profile's name yet; the
 * commit names them all (a clash inside the batch keeps both) and counts
 * them; a write that asks for its path is done at once even in a batch.
 * A process that dies with profiles staged (a crash) leaves only
 * temporaries, which retention removes once stale. Past DISK_MAX_STAGED
 * staged profiles (an open file each) a write commits the batch. */
void test_disk_staged_batch(void)
{
	char dir[64], out[128], path[PATH_MAX];
	int64_t now = (int64_t)time(NULL) * SEC;
	struct disk_store *d;
	pid_t child;
	int status;

	if (!ASSERT_OK(make_tmpdir(dir, sizeof(dir)), "tmpdir"))
		return;
	snprintf(out, sizeof(out), "%s/out", dir);
	d = disk_store__new(out, 0, 0);
	if (!ASSERT_OK_PTR(d, "new"))
		goto out;
	disk_store__begin(d);
	ASSERT_OK(disk_store__write(d, "app", 1, "cpu", 10 * SEC, "aaaa", 4, NULL, 0), "stage 1");
	ASSERT_OK(disk_store__write(d, "app", 1, "cpu", 10 * SEC, "bbbbb", 5, NULL, 0),
		  "stage a clash");
	ASSERT_OK(disk_store__write(d, "app", 2, "cpu", 10 * SEC, "cccccc", 6, NULL, 0), "stage 2");
	ASSERT_EQ(count_profiles(dir), 0, "nothing named before the commit");
	ASSERT_EQ(count_files(dir, ".tmp."), 3, "three temporaries");
	ASSERT_EQ(disk_store__stats(d)->written, 0, "none counted yet");
	/* Asking for the path: written and named now. */
	ASSERT_OK(disk_store__write(d, "app", 3, "cpu", 10 * SEC, "d", 1, path, sizeof(path)),
		  "write at once");
	ASSERT_EQ(file_size(path), 1, "named at once");
	ASSERT_OK(disk_store__commit(d), "commit");
	ASSERT_EQ(count_files(dir, ".tmp."), 0, "no temporary left");
	ASSERT_EQ(count_profiles(dir), 4, "every profile named");
	disk_store__path(d, "app", 1, "cpu", 10 * SEC, path, sizeof(path));
	ASSERT_EQ(file_size(path), 4, "first whole");
	strcpy(strstr(path, ".pb.gz"), "-2.pb.gz");
	ASSERT_EQ(file_size(path), 5, "clash kept as -2");
	disk_store__path(d, "app", 2, "cpu", 10 * SEC, path, sizeof(path));
	ASSERT_EQ(file_size(path), 6, "other pid whole");
	ASSERT_EQ(disk_store__stats(d)->written, 4, "written");
	ASSERT_EQ(disk_store__stats(d)->renamed, 1, "renamed");
	ASSERT_EQ(disk_store__stats(d)->bytes_used, 16, "bytes");
	ASSERT_EQ(disk_store__stats(d)->errors, 0, "no failure");
	/* After the commit, writes are immediate again. */
	ASSERT_OK(disk_store__write(d, "app", 1, "cpu", 20 * SEC, "e", 1, NULL, 0), "after");
	disk_store__path(d, "app", 1, "cpu", 20 * SEC, path, sizeof(path));
	ASSERT_EQ(file_size(path), 1, "immediate after the commit");

	/* A crash with profiles staged: temporaries only. */
	child = fork();
	if (child == 0) {
		struct disk_store *c = disk_store__new(out, 0, 0);

		disk_store__begin(c);
		disk_store__write(c, "crash", 7, "cpu", 30 * SEC, "zz", 2, NULL, 0);
		disk_store__write(c, "crash", 8, "cpu", 30 * SEC, "zz", 2, NULL, 0);
		_exit(0);
	}
	ASSERT_TRUE(child > 0 && waitpid(child, &status, 0) == child, "child");
	snprintf(path, sizeof(path), "%s/crash", out);
	ASSERT_EQ(count_profiles(path), 0, "no profile from the crash");
	ASSERT_EQ(count_files(path, ".tmp."), 2, "its temporaries");
	ASSERT_EQ(disk_store__retain(d, now), 0, "fresh temporaries kept");
	ASSERT_EQ(disk_store__retain(d, now + 601 * SEC), 2, "stale ones removed");
	ASSERT_EQ(count_files(path, NULL), 0, "nothing left of the crash");

	/* More staged than DISK_MAX_STAGED: committed on the way. */
	disk_store__begin(d);
	for (int i = 0; i < 300; i++)
		disk_store__write(d, "many", 1000 + i, "cpu", 40 * SEC, "m", 1, NULL, 0);
	snprintf(path, sizeof(path), "%s/many", out);
	ASSERT_TRUE(count_profiles(path) >= 256, "committed past the bound");
	ASSERT_TRUE(count_files(path, ".tmp.") <= 256, "at most the bound staged");
	ASSERT_OK(disk_store__commit(d), "commit");
	ASSERT_EQ(count_profiles(path), 300, "all named");
out:
	disk_store__free(d);
	rm_rf(dir);
}

/* A staged write the file system refuses (full) leaves nothing; those
 * staged before it are named whole at the commit. */
void test_disk_staged_full(void)
{
	char dir[64], path[PATH_MAX];
	static char buf[30000];
	struct disk_store *d = NULL;
	int err = 0, ok = 0;

	if (!ASSERT_OK(make_tmpdir(dir, sizeof(dir)), "tmpdir"))
		return;
	if (mount("tmpfs", dir, "tmpfs", 0, "size=64k,mode=0700")) {
		harness_skip(__FILE__, __LINE__, "mount tmpfs: %s (needs CAP_SYS_ADMIN)", strerror(errno));
		rmdir(dir);
		return;
	}
	memset(buf, 's', sizeof(buf));
	d = disk_store__new(dir, 0, 0);
	if (!ASSERT_OK_PTR(d, "new"))
		goto out;
	disk_store__begin(d);
	for (int i = 0; i < 5 && !err; i++) {
		err = disk_store__write(d, "p", 1, "cpu", (int64_t)(i + 1) * SEC, buf, sizeof(buf),
					NULL, 0);
		ok += !err;
	}
	ASSERT_EQ(err, -ENOSPC, "full");
	ASSERT_TRUE(ok >= 1, "some staged");
	ASSERT_EQ(count_files(dir, ".tmp."), ok, "only the staged temporaries");
	ASSERT_EQ(disk_store__stats(d)->enospc, 1, "counted");
	ASSERT_OK(disk_store__commit(d), "commit");
	ASSERT_EQ(count_files(dir, ".tmp."), 0, "no temporary left");
	ASSERT_EQ(count_files(dir, NULL), ok, "only whole profiles");
	for (int i = 0; i < ok; i++) {
		disk_store__path(d, "p", 1, "cpu", (int64_t)(i + 1) * SEC, path, sizeof(path));
		ASSERT_EQ(file_size(path), sizeof(buf), "whole");
	}
	ASSERT_EQ(disk_store__stats(d)->written, ok, "written counted");
out:
	disk_store__free(d);
	umount2(dir, MNT_DETACH);
	rmdir(dir);
}

/* Out of file descriptors in a batch (each staged profile holds one): the
 * write commits what is staged and goes on; no profile is lost. In a
 * child, whose descriptor limit is lowered to a few beyond those open. */
void test_disk_staged_out_of_fds(void)
{
	char dir[64], out[128];
	pid_t child;
	int status = -1;

	if (!ASSERT_OK(make_tmpdir(dir, sizeof(dir)), "tmpdir"))
		return;
	snprintf(out, sizeof(out), "%s/out", dir);
	child = fork();
	if (child == 0) {
		struct disk_store *d = disk_store__new(out, 0, 0);
		struct rlimit rl;
		int fd = dup(0), bad = 0;

		/* The lowest free descriptor + 8: room for 8 staged at most. */
		getrlimit(RLIMIT_NOFILE, &rl);
		rl.rlim_cur = fd + 8;
		close(fd);
		if (!d || setrlimit(RLIMIT_NOFILE, &rl))
			_exit(100);
		disk_store__begin(d);
		for (int i = 0; i < 40; i++)
			bad += disk_store__write(d, "fds", 1000 + i, "cpu", SEC, "f", 1, NULL, 0) != 0;
		bad += disk_store__commit(d) != 0;
		bad += disk_store__stats(d)->errors != 0;
		disk_store__free(d);
		_exit(bad);
	}
	ASSERT_TRUE(child > 0 && waitpid(child, &status, 0) == child, "child");
	ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0, "no failed write");
	ASSERT_EQ(count_profiles(out), 40, "every profile written");
	ASSERT_EQ(count_files(out, ".tmp."), 0, "no temporary left");
	rm_rf(dir);
}
