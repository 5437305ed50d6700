// SPDX-License-Identifier: Apache-2.0
/* The binary layer (daemon/binary/): the image cache's key and reference
 * counts, the mapped-file opener, and the maps and ELF readers on garbage
 * (other processes' files are untrusted input). */
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "binary/elf.h"
#include "binary/file.h"
#include "binary/image.h"
#include "binary/procmaps.h"
#include "harness.h"
#include "symfix.h"

/* --- the image cache, with a load that records what it was asked --------- */

struct loads {
	int loads, releases;
	int fail_with;   /* load returns this (0: success) */
	char last[64];   /* what the last load read from the fd */
};

struct payload {
	int serial;
	char text[64];
};

static int t_load(void *ctx, pid_t pid, const struct procmaps_entry *e, int fd, void **data)
{
	struct loads *l = ctx;
	struct payload *p;
	ssize_t n;

	(void)pid;
	(void)e;
	l->loads++;
	if (l->fail_with)
		return l->fail_with;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	n = pread(fd, p->text, sizeof(p->text) - 1, 0);
	if (n < 0)
		n = 0;
	p->text[n] = '\0';
	p->serial = l->loads;
	snprintf(l->last, sizeof(l->last), "%s", p->text);
	*data = p;
	return 0;
}

static void t_release(void *ctx, void *data)
{
	struct loads *l = ctx;

	l->releases++;
	free(data);
}

static const struct binary_cache_ops t_ops = { .load = t_load, .release = t_release };

static int view_releases;

static void view_release(void *data)
{
	view_releases++;
	free(data);
}

static bool pick_none(const void *data)
{
	(void)data;
	return false;
}

static bool pick_beta(const void *data)
{
	return data && !strcmp(((const struct payload *)data)->text, "beta");
}

/* A maps entry for path that no map_files entry has (the range is not
 * mapped), so the cache opens it through /proc/self/root/PATH. */
static bool entry_for(const char *path, struct procmaps_entry *e)
{
	struct stat st;

	if (stat(path, &st))
		return false;
	*e = (struct procmaps_entry){ .start = 0x1000, .end = 0x2000, .perms = "r-xp",
				      .dev_major = 7, .dev_minor = 1, .inode = st.st_ino,
				      .path = path };
	return true;
}

/* Rewrite path in place (same inode) with text, and a distinct mtime. */
static bool rewrite(const char *path, const char *text, time_t mtime)
{
	struct timespec ts[2] = { { mtime, 0 }, { mtime, 0 } };
	int fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
	bool ok;

	if (fd < 0)
		return false;
	ok = write(fd, text, strlen(text)) == (ssize_t)strlen(text) && !futimens(fd, ts);
	close(fd);
	return ok;
}

void test_binary_cache_refcount(void)
{
	char dir[] = "/tmp/profd-binary-XXXXXX", a[PATH_MAX], b[PATH_MAX];
	struct binary_image *i1 = NULL, *i2 = NULL, *i3 = NULL;
	struct procmaps_entry ea, eb;
	struct binary_cache_stats st;
	struct loads l = { 0 };
	struct binary_cache *bc;

	if (!ASSERT_OK_PTR(mkdtemp(dir), "mkdtemp"))
		return;
	snprintf(a, sizeof(a), "%s/a", dir);
	snprintf(b, sizeof(b), "%s/b", dir);
	bc = binary_cache__new(1, &t_ops, &l);
	if (!ASSERT_OK_PTR(bc, "new"))
		goto out;
	if (!ASSERT_OK(fx_write(a, "alpha", 5), "write a") ||
	    !ASSERT_OK(fx_write(b, "beta", 4), "write b") || !ASSERT_TRUE(entry_for(a, &ea), "a") ||
	    !ASSERT_TRUE(entry_for(b, &eb), "b"))
		goto out;

	/* two gets of one file: one load, one image, two references */
	ASSERT_OK(binary_cache__get(bc, getpid(), &ea, &i1), "get a");
	ASSERT_OK(binary_cache__get(bc, getpid(), &ea, &i2), "get a again");
	if (!ASSERT_TRUE(i1 && i1 == i2, "same image"))
		goto out;
	ASSERT_EQ(l.loads, 1, "loaded once");
	ASSERT_EQ(i1->refcnt, 2, "two references");
	ASSERT_STREQ(((struct payload *)i1->data)->text, "alpha", "data from the file");
	ASSERT_EQ(i1->key.ino, ea.inode, "key inode");
	ASSERT_EQ(i1->key.dev, (7ULL << 32) | 1, "key dev as the maps line packs it");
	ASSERT_EQ(i1->key.size, 5, "key size");
	binary_image__ref(bc, i1);
	ASSERT_EQ(i1->refcnt, 3, "ref");
	binary_cache__put(bc, i1);
	binary_cache__put(bc, i2);
	binary_cache__stats(bc, &st);
	ASSERT_EQ(st.unused, 0, "still referenced: not on the LRU");
	binary_cache__put(bc, i1);
	binary_cache__stats(bc, &st);
	ASSERT_EQ(st.unused, 1, "last put: on the LRU");
	ASSERT_EQ(st.entries, 1, "kept for reuse");
	ASSERT_EQ(l.releases, 0, "not released");
	/* back off the LRU without a load */
	ASSERT_OK(binary_cache__get(bc, getpid(), &ea, &i1), "get from the LRU");
	ASSERT_EQ(l.loads, 1, "no second load");
	binary_cache__put(bc, i1);

	/* a second unused file pushes the first off the LRU (max_unused 1) */
	ASSERT_OK(binary_cache__get(bc, getpid(), &eb, &i3), "get b");
	ASSERT_EQ(l.loads, 2, "b loaded");
	binary_cache__put(bc, i3);
	binary_cache__stats(bc, &st);
	ASSERT_EQ(st.unused, 1, "LRU bounded");
	ASSERT_EQ(st.entries, 1, "oldest evicted");
	ASSERT_EQ(l.releases, 1, "its data released");
	binary_cache__put(bc, NULL);

	/* eviction on demand (a budget the cache does not know) takes only
	 * unused images, and only those the caller picks */
	ASSERT_OK(binary_cache__get(bc, getpid(), &eb, &i3), "get b for eviction");
	/* a second consumer's view lives with the image */
	view_releases = 0;
	ASSERT_TRUE(binary_image__view(i3, BINARY_VIEW_UNWIND) == NULL, "no view yet");
	binary_image__set_view(i3, BINARY_VIEW_UNWIND, malloc(8), view_release);
	binary_image__set_view(i3, BINARY_VIEW_UNWIND, malloc(8), view_release);
	ASSERT_EQ(view_releases, 1, "a replaced view is released");
	ASSERT_FALSE(binary_cache__evict(bc, NULL), "b is in use");
	binary_cache__put(bc, i3);
	ASSERT_FALSE(binary_cache__evict(bc, pick_none), "nothing picked");
	ASSERT_TRUE(binary_cache__evict(bc, pick_beta), "b evicted");
	ASSERT_EQ(l.releases, 2, "b released");
	ASSERT_EQ(view_releases, 2, "and its view with it");
	binary_cache__stats(bc, &st);
	ASSERT_EQ(st.entries, 0, "empty");
out:
	binary_cache__free(bc);
	ASSERT_EQ(l.releases, l.loads, "every load released");
	unlink(a);
	unlink(b);
	rmdir(dir);
}

/* Inode numbers come back: a file rewritten in place (same dev and inode)
 * is a new image once its size or mtime differ, while the old image lives
 * on for whoever still holds it. */
void test_binary_cache_replaced_file(void)
{
	char dir[] = "/tmp/profd-binary-XXXXXX", a[PATH_MAX], tmp[PATH_MAX];
	struct binary_image *old = NULL, *cur = NULL, *again = NULL;
	struct binary_cache_stats st;
	struct procmaps_entry e;
	struct loads l = { 0 };
	struct binary_cache *bc;

	if (!ASSERT_OK_PTR(mkdtemp(dir), "mkdtemp"))
		return;
	snprintf(a, sizeof(a), "%s/a", dir);
	snprintf(tmp, sizeof(tmp), "%s/a.new", dir);
	bc = binary_cache__new(4, &t_ops, &l);
	if (!ASSERT_OK_PTR(bc, "new") || !ASSERT_OK(fx_write(a, "", 0), "create") ||
	    !ASSERT_TRUE(rewrite(a, "version one", 1000), "v1") || !ASSERT_TRUE(entry_for(a, &e), "entry"))
		goto out;
	if (!ASSERT_OK(binary_cache__get(bc, getpid(), &e, &old), "get v1"))
		goto out;

	/* same inode, same size, other mtime */
	ASSERT_TRUE(rewrite(a, "version two", 2000), "v2");
	ASSERT_TRUE(binary_file__changed(getpid(), &e, &old->key), "changed");
	if (!ASSERT_OK(binary_cache__get(bc, getpid(), &e, &cur), "get v2"))
		goto out;
	ASSERT_TRUE(cur != old, "a new image");
	ASSERT_EQ(cur->key.ino, old->key.ino, "same inode");
	ASSERT_EQ(l.loads, 2, "loaded again");
	ASSERT_STREQ(((struct payload *)cur->data)->text, "version two", "new contents");
	ASSERT_STREQ(((struct payload *)old->data)->text, "version one", "old image intact");
	ASSERT_EQ(l.releases, 0, "old still held");
	/* the superseded image is freed by its last put, never reused */
	binary_cache__put(bc, old);
	ASSERT_EQ(l.releases, 1, "old released at its last put");
	binary_cache__stats(bc, &st);
	ASSERT_EQ(st.unused, 0, "superseded images do not wait on the LRU");
	ASSERT_OK(binary_cache__get(bc, getpid(), &e, &again), "get v2 again");
	ASSERT_TRUE(again == cur, "the current image is found");
	binary_cache__put(bc, again);

	/* same mtime, other size */
	binary_cache__put(bc, cur);
	ASSERT_TRUE(rewrite(a, "version three!", 2000), "v3");
	ASSERT_OK(binary_cache__get(bc, getpid(), &e, &cur), "get v3");
	ASSERT_EQ(l.loads, 3, "size change: loaded again");
	ASSERT_EQ(l.releases, 2, "unused stale image dropped at once");
	binary_cache__put(bc, cur);

	/* replaced by rename: another inode, another key */
	ASSERT_OK(fx_write(tmp, "renamed", 7), "write new");
	ASSERT_OK(rename(tmp, a), "rename");
	ASSERT_TRUE(entry_for(a, &e), "entry after rename");
	ASSERT_OK(binary_cache__get(bc, getpid(), &e, &cur), "get renamed");
	ASSERT_STREQ(((struct payload *)cur->data)->text, "renamed", "renamed contents");
	ASSERT_EQ(l.loads, 4, "loaded");
	binary_cache__put(bc, cur);
out:
	binary_cache__free(bc);
	ASSERT_EQ(l.releases, l.loads, "every load released");
	unlink(a);
	unlink(tmp);
	rmdir(dir);
}

/* Verdicts (not an ELF file, not a regular file) are cached; transient
 * failures (memory, a file that cannot be opened) are not. */
void test_binary_cache_verdicts(void)
{
	char dir[] = "/tmp/profd-binary-XXXXXX", a[PATH_MAX];
	struct binary_image *img = NULL;
	struct procmaps_entry e;
	struct loads l = { 0 };
	struct binary_cache *bc;
	struct stat st;

	if (!ASSERT_OK_PTR(mkdtemp(dir), "mkdtemp"))
		return;
	snprintf(a, sizeof(a), "%s/a", dir);
	bc = binary_cache__new(4, &t_ops, &l);
	if (!ASSERT_OK_PTR(bc, "new") || !ASSERT_OK(fx_write(a, "junk", 4), "write") ||
	    !ASSERT_TRUE(entry_for(a, &e), "entry"))
		goto out;
	l.fail_with = -ENOMEM;
	ASSERT_EQ(binary_cache__get(bc, getpid(), &e, &img), -ENOMEM, "ENOMEM returned");
	ASSERT_EQ(binary_cache__get(bc, getpid(), &e, &img), -ENOMEM, "and not cached");
	ASSERT_EQ(l.loads, 2, "tried twice");
	l.fail_with = -ENOEXEC;
	if (ASSERT_OK(binary_cache__get(bc, getpid(), &e, &img), "verdict")) {
		ASSERT_TRUE(img->data == NULL && img->err == -ENOEXEC, "cached as not ELF");
		binary_cache__put(bc, img);
	}
	l.fail_with = 0;
	if (ASSERT_OK(binary_cache__get(bc, getpid(), &e, &img), "verdict again")) {
		ASSERT_EQ(img->err, -ENOEXEC, "the same verdict");
		binary_cache__put(bc, img);
	}
	ASSERT_EQ(l.loads, 3, "garbage read once");

	/* a directory is never opened or loaded */
	ASSERT_OK(stat(dir, &st), "stat dir");
	e.path = dir;
	e.inode = st.st_ino;
	if (ASSERT_OK(binary_cache__get(bc, getpid(), &e, &img), "directory")) {
		ASSERT_TRUE(img->data == NULL && img->err == -ENOEXEC, "not a regular file");
		binary_cache__put(bc, img);
	}
	ASSERT_EQ(l.loads, 3, "no load for a directory");
	/* a file that is gone: an error, nothing cached */
	e.path = "/nonexistent/profd/binary";
	e.inode = 12345;
	ASSERT_EQ(binary_cache__get(bc, getpid(), &e, &img), -ENOENT, "missing file");
out:
	binary_cache__free(bc);
	ASSERT_EQ(l.releases, l.loads - 3, "every successful load released");
	unlink(a);
	rmdir(dir);
}

void test_binary_open_mapped(void)
{
	char dir[] = "/tmp/profd-binary-XXXXXX", a[PATH_MAX];
	struct procmaps_entry e;
	struct binary_key k;
	struct stat st;
	int fd;

	ASSERT_OK(binary_elf_init(), "elf init");
	ASSERT_OK(binary_elf_init(), "elf init twice");
	if (!ASSERT_OK_PTR(mkdtemp(dir), "mkdtemp"))
		return;
	snprintf(a, sizeof(a), "%s/a", dir);
	if (!ASSERT_OK(fx_write(a, "abc", 3), "write") || !ASSERT_TRUE(entry_for(a, &e), "entry"))
		goto out;
	fd = binary_open_mapped(getpid(), &e, &st);
	if (ASSERT_TRUE(fd >= 0, "root path fallback")) {
		binary_key__from_stat(&k, &e, &st);
		ASSERT_EQ(k.size, 3, "size");
		ASSERT_FALSE(binary_file__changed(getpid(), &e, &k), "unchanged");
		close(fd);
		ASSERT_TRUE(rewrite(a, "abcd", 1234), "rewrite");
		ASSERT_TRUE(binary_file__changed(getpid(), &e, &k), "changed");
	}
	e.inode++;
	ASSERT_EQ(binary_open_mapped(getpid(), &e, &st), -ESTALE, "path names another inode");
	e.inode--;
	e.flags = PROCMAPS_DELETED;
	ASSERT_EQ(binary_open_mapped(getpid(), &e, &st), -ENOENT, "deleted: no path fallback");
	e.flags = 0;
	e.path = "relative/path";
	ASSERT_EQ(binary_open_mapped(getpid(), &e, &st), -ENOENT, "relative path not tried");
	ASSERT_EQ(binary_open_regular("/dev/null", &st), -ENOEXEC, "device refused");
	ASSERT_EQ(binary_open_regular(dir, &st), -ENOEXEC, "directory refused");
out:
	unlink(a);
	rmdir(dir);
}

/* --- the maps scanner on garbage ------------------------------------------- */

struct maps_seen {
	size_t n;
	bool bad;
};

static int maps_cb(const struct procmaps_entry *e, void *arg)
{
	struct maps_seen *s = arg;

	s->n++;
	if (e->start >= e->end || !procmaps_entry__is_exec(e) || !e->path ||
	    strlen(e->perms) != 4)
		s->bad = true;
	return 0;
}

void test_binary_procmaps_garbage(void)
{
	static const char good[] =
		"7f0000000000-7f0000001000 r-xp 00001000 fd:01 1234 /usr/lib/libc.so.6\n";
	static const char alphabet[] = "0123456789abcdefABCDEF-: /\n\t[]()rwxps.delt\0\xff";
	char path[] = "/tmp/profd-maps-XXXXXX";
	uint64_t rng = 0x243f6a8885a308d3ULL;
	struct maps_seen s = { 0 };
	char buf[4096], line[256];
	size_t nbad, total = 0;
	int fd;

	memset(buf, 0, sizeof(buf));
	fd = mkstemp(path);
	if (!ASSERT_TRUE(fd >= 0, "mkstemp"))
		return;
	close(fd);
	for (int round = 0; round < 400; round++) {
		size_t len;

		if (round % 2) {
			/* random bytes from a maps-like alphabet */
			len = 1 + (rng >> 33) % (sizeof(buf) - 1);
			for (size_t i = 0; i < len; i++) {
				rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
				buf[i] = alphabet[(rng >> 33) % (sizeof(alphabet) - 1)];
			}
		} else {
			/* good lines with a few bytes changed, cut or repeated */
			len = 0;
			while (len + sizeof(good) < sizeof(buf)) {
				memcpy(buf + len, good, sizeof(good) - 1);
				len += sizeof(good) - 1;
			}
			for (int k = 0; k < 1 + round % 7; k++) {
				rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
				buf[(rng >> 33) % len] = alphabet[(rng >> 20) % (sizeof(alphabet) - 1)];
			}
			rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
			len -= (rng >> 33) % 64;
		}
		if (!ASSERT_OK(fx_write(path, buf, len), "write"))
			break;
		nbad = 0;
		ASSERT_OK(procmaps__read_file(path, maps_cb, &s, &nbad), "read survives garbage");
		total += nbad;

		/* the line parser alone, on a NUL-terminated prefix */
		len = (rng >> 40) % sizeof(line);
		memcpy(line, buf, len);
		line[len] = '\0';
		{
			struct procmaps_entry e;

			if (!procmaps__parse_line(line, &e))
				ASSERT_TRUE(e.start < e.end && e.path, "parsed lines are sane");
		}
	}
	ASSERT_FALSE(s.bad, "every entry delivered is well-formed");
	ASSERT_TRUE(s.n > 0, "some mutated lines still parse");
	ASSERT_TRUE(total > 0, "garbage lines counted");
	unlink(path);
}

/* --- the ELF readers on truncated and mutated files ------------------------ */

struct find_fn {
	const char *name;
	struct elf_func found;
	size_t n;
};

static int find_fn(const struct elf_func *f, void *arg)
{
	struct find_fn *ff = arg;

	ff->n++;
	if (!f->name || !f->addr)
		return -EINVAL; /* the walk must only hand out defined, named symbols */
	if (!strcmp(f->name, ff->name))
		ff->found = *f;
	return 0;
}

/* Every reader over one buffer: the symbol walk, the PT_LOAD reader and
 * the full image parse. Returns the symbols walked, or -1. */
static long read_all(unsigned char *buf, size_t len, struct find_fn *ff)
{
	struct elf_load loads[8];
	struct elf_image *img = NULL;
	size_t nloads;
	long n = -1;
	Elf *elf;

	ff->n = 0;
	memset(&ff->found, 0, sizeof(ff->found));
	elf = elf_memory((char *)buf, len);
	if (elf) {
		if (elf_kind(elf) == ELF_K_ELF) {
			elf_read_loads(elf, loads, 8, &nloads);
			if (elf_symtab__each_func(elf, SHT_SYMTAB, find_fn, ff) >= 0 &&
			    elf_symtab__each_func(elf, SHT_DYNSYM, find_fn, ff) >= 0)
				n = (long)ff->n;
		}
		elf_end(elf);
	}
	if (!elf_image__open_mem(buf, len, &img))
		elf_image__free(img);
	return n;
}

static int find_libc(const struct procmaps_entry *e, void *arg)
{
	char *path = arg;

	if (!path[0] && strstr(e->path, "/libc.so"))
		snprintf(path, PATH_MAX, "%s", e->path);
	return 0;
}

void test_binary_elf_garbage(void)
{
	struct find_fn ff = { .name = "test_binary_elf_garbage" };
	unsigned char *orig = NULL, *buf = NULL;
	uint64_t rng = 0x13198a2e03707344ULL;
	char libc[PATH_MAX] = "";
	struct elf_load loads[8];
	size_t len = 0, nloads = 0;
	Elf64_Ehdr eh;
	long n;
	Elf *elf;

	if (!ASSERT_OK(binary_elf_init(), "elf init") ||
	    !ASSERT_OK(fx_read("/proc/self/exe", &orig, &len), "read own executable") ||
	    !ASSERT_TRUE(len > sizeof(eh), "size"))
		goto out;

	/* ground truth: this function is in our own .symtab, with its size */
	n = read_all(orig, len, &ff);
	ASSERT_TRUE(n > 100, "symbols walked");
	ASSERT_TRUE(ff.found.addr != 0 && ff.found.size > 0, "found this test by name");
	elf = elf_memory((char *)orig, len);
	if (ASSERT_OK_PTR(elf, "elf_memory")) {
		ASSERT_OK(elf_read_loads(elf, loads, 8, &nloads), "PT_LOADs");
		ASSERT_TRUE(nloads >= 2, "code and data segments");
		elf_end(elf);
	}
	free(orig);
	orig = NULL;

	/* garbage: the libc this test runs with (found by the maps scanner),
	 * smaller than our own executable */
	ASSERT_OK(procmaps__read(getpid(), find_libc, libc, NULL), "scan own maps");
	if (!ASSERT_TRUE(libc[0], "libc mapped") || !ASSERT_OK(fx_read(libc, &orig, &len), "read libc") ||
	    !ASSERT_TRUE(len > sizeof(eh), "libc size"))
		goto out;
	buf = malloc(len);
	if (!ASSERT_OK_PTR(buf, "malloc"))
		goto out;
	memcpy(&eh, orig, sizeof(eh));
	ff.name = "malloc";
	ASSERT_TRUE(read_all(memcpy(buf, orig, len), len, &ff) > 100, "libc symbols walked");
	ASSERT_TRUE(ff.found.addr != 0, "libc exports malloc");

	/* truncations: header, program headers, inside the section table */
	for (size_t cut = 0; cut < 256; cut += 7)
		read_all(memcpy(buf, orig, cut), cut, &ff);
	for (int i = 1; i < 16; i++)
		read_all(memcpy(buf, orig, len * i / 16), len * i / 16, &ff);
	if (eh.e_shoff < len) {
		for (size_t d = 0; d < 512 && eh.e_shoff + d < len; d += 37)
			read_all(memcpy(buf, orig, eh.e_shoff + d), eh.e_shoff + d, &ff);
	}

	/* byte flips in the ELF header, the program headers and the section
	 * header table, where a reader that trusts offsets goes wrong */
	for (int round = 0; round < 200; round++) {
		memcpy(buf, orig, len);
		for (int k = 0; k < 1 + round % 6; k++) {
			size_t pos;

			rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
			if (round % 3 == 0 || eh.e_shoff >= len)
				pos = (rng >> 33) % 512;
			else
				pos = eh.e_shoff + (rng >> 33) % (len - eh.e_shoff);
			buf[pos % len] = (unsigned char)(rng >> 17);
		}
		read_all(buf, len, &ff);
	}
	/* no libelf handle at all: not an ELF file */
	ASSERT_EQ(read_all((unsigned char *)memcpy(buf, "#!/bin/sh\n", 10), 10, &ff), -1,
		  "a script is not ELF");
out:
	free(buf);
	free(orig);
}
