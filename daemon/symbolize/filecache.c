// SPDX-License-Identifier: Apache-2.0
/* filecache: who holds which reference. Each per-pid mapping of a file
 * holds one reference on its entry. An entry whose count drops to zero
 * moves to the head of the LRU list and stays findable by (dev, inode);
 * a later get takes it back off the list. When the list is longer than
 * max_unused, its tail is unhashed and freed. An entry found stale (same
 * inode number, different size or mtime) is unhashed at once and freed by
 * its last put. A freed entry puts its debuginfo, which may then wait on
 * the debuginfo LRU; the two lists share max_unused, so that at most that
 * many parsed files are kept for no process. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "symbolize/debuginfo.h"
#include "symbolize/elf.h"
#include "symbolize/filecache.h"
#include "symbolize/procmaps.h"
#include "symbolize/symbolizer.h"

#define FILECACHE_MIN_BUCKETS 64

struct filecache {
	struct filecache_entry **buckets;
	size_t nbuckets;
	size_t nhashed;
	struct filecache_entry *lru_head, *lru_tail; /* head: most recently unused */
	size_t nunused;
	size_t max_unused;
	struct dbgcache *dc;
	struct dbgcache *own_dc; /* made by filecache__new() */
	/* totals over every live entry, hashed or not */
	size_t nentries, nfiles, bytes, parses;
};

static uint64_t key_hash(uint64_t dev, uint64_t ino)
{
	uint64_t x = dev * 0x9e3779b97f4a7c15ULL ^ ino;

	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

struct filecache *filecache__new_dbg(size_t max_unused, struct dbgcache *dc)
{
	struct filecache *fc = calloc(1, sizeof(*fc));

	if (!fc)
		goto err;
	fc->nbuckets = FILECACHE_MIN_BUCKETS;
	fc->buckets = calloc(fc->nbuckets, sizeof(*fc->buckets));
	if (!fc->buckets)
		goto err;
	fc->max_unused = max_unused;
	fc->dc = dc;
	return fc;
err:
	free(fc);
	errno = ENOMEM;
	return NULL;
}

struct filecache *filecache__new(size_t max_unused)
{
	struct dbgcache_opts o = {
		.max_unused = max_unused,
		.max_dwarf_bytes = 64u << 20,
		.max_dwarf_open = 16,
	};
	struct dbgcache *dc = dbgcache__new(&o);
	struct filecache *fc;

	if (!dc)
		return NULL;
	fc = filecache__new_dbg(max_unused, dc);
	if (!fc) {
		dbgcache__free(dc);
		return NULL;
	}
	fc->own_dc = dc;
	return fc;
}

static void entry_free(struct filecache *fc, struct filecache_entry *fe)
{
	fc->nentries--;
	if (fe->img)
		fc->nfiles--;
	fc->bytes -= sizeof(*fe);
	dbgcache__put(fc->dc, fe->di);
	free(fe);
}

static void unhash(struct filecache *fc, struct filecache_entry *fe)
{
	struct filecache_entry **pp = &fc->buckets[key_hash(fe->dev, fe->ino) & (fc->nbuckets - 1)];

	for (; *pp; pp = &(*pp)->hnext) {
		if (*pp == fe) {
			*pp = fe->hnext;
			fe->hnext = NULL;
			fe->hashed = false;
			fc->nhashed--;
			return;
		}
	}
}

static void lru_unlink(struct filecache *fc, struct filecache_entry *fe)
{
	if (fe->lru_prev)
		fe->lru_prev->lru_next = fe->lru_next;
	else
		fc->lru_head = fe->lru_next;
	if (fe->lru_next)
		fe->lru_next->lru_prev = fe->lru_prev;
	else
		fc->lru_tail = fe->lru_prev;
	fe->lru_prev = fe->lru_next = NULL;
	fc->nunused--;
}

/* Lend the debuginfo cache what our LRU does not use of max_unused. */
static void share_bound(struct filecache *fc)
{
	if (fc->dc)
		dbgcache__set_max_unused(fc->dc, fc->max_unused > fc->nunused ?
							 fc->max_unused - fc->nunused : 0);
}

static void lru_trim(struct filecache *fc)
{
	share_bound(fc);
	while (fc->nunused > fc->max_unused) {
		struct filecache_entry *fe = fc->lru_tail;

		lru_unlink(fc, fe);
		unhash(fc, fe);
		entry_free(fc, fe);
	}
	share_bound(fc);
}

void filecache__free(struct filecache *fc)
{
	if (!fc)
		return;
	fc->max_unused = 0;
	lru_trim(fc);
	/* Entries still referenced here are a caller bug; free them anyway
	 * rather than leak. */
	for (size_t i = 0; i < fc->nbuckets; i++) {
		while (fc->buckets[i]) {
			struct filecache_entry *fe = fc->buckets[i];

			fc->buckets[i] = fe->hnext;
			entry_free(fc, fe);
		}
	}
	free(fc->buckets);
	dbgcache__free(fc->own_dc);
	free(fc);
}

static void grow(struct filecache *fc)
{
	size_t n = fc->nbuckets * 2;
	struct filecache_entry **b = calloc(n, sizeof(*b));

	if (!b)
		return; /* longer chains, still correct */
	for (size_t i = 0; i < fc->nbuckets; i++) {
		while (fc->buckets[i]) {
			struct filecache_entry *fe = fc->buckets[i];
			size_t h = key_hash(fe->dev, fe->ino) & (n - 1);

			fc->buckets[i] = fe->hnext;
			fe->hnext = b[h];
			b[h] = fe;
		}
	}
	free(fc->buckets);
	fc->buckets = b;
	fc->nbuckets = n;
}

static struct filecache_entry *lookup(struct filecache *fc, uint64_t dev, uint64_t ino)
{
	struct filecache_entry *fe = fc->buckets[key_hash(dev, ino) & (fc->nbuckets - 1)];

	for (; fe; fe = fe->hnext)
		if (fe->dev == dev && fe->ino == ino)
			return fe;
	return NULL;
}

/* Open a regular file without side effects: stat first so a mapped device
 * node is never opened, then make sure the fd is the file we stat()ed. */
static int open_regular(const char *path, struct stat *st)
{
	struct stat pre;
	int fd;

	if (stat(path, &pre))
		return -errno;
	if (!S_ISREG(pre.st_mode))
		return -ENOEXEC;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return -errno;
	if (fstat(fd, st) || !S_ISREG(st->st_mode) || st->st_dev != pre.st_dev ||
	    st->st_ino != pre.st_ino) {
		close(fd);
		return -ESTALE;
	}
	return fd;
}

static void map_files_path(char *buf, size_t len, pid_t pid, const struct procmaps_entry *e)
{
	snprintf(buf, len, "/proc/%d/map_files/%llx-%llx", (int)pid, (unsigned long long)e->start,
		 (unsigned long long)e->end);
}

/* map_files is the mapped file itself, even deleted or in another mount
 * namespace, but needs CAP_SYS_ADMIN; /proc/PID/root/PATH is a fallback
 * that may name a different file by now, hence the inode check. */
int open_mapped_file(pid_t pid, const struct procmaps_entry *e, struct stat *st)
{
	char path[PATH_MAX + 64];
	int fd;

	map_files_path(path, sizeof(path), pid, e);
	fd = open_regular(path, st);
	if (fd >= 0 || (e->flags & SYM_MAP_DELETED) || e->path[0] != '/')
		return fd;
	if ((size_t)snprintf(path, sizeof(path), "/proc/%d/root%s", (int)pid, e->path) >=
	    sizeof(path))
		return -ENAMETOOLONG;
	fd = open_regular(path, st);
	if (fd >= 0 && (uint64_t)st->st_ino != e->inode) {
		close(fd);
		fd = -ESTALE;
	}
	return fd;
}

/* A cached entry is reused unless the mapped file visibly differs from the
 * one parsed (inode numbers are reused after a file is freed). One stat(),
 * no parsing. Without access to map_files, the path is asked instead if it
 * still names that inode; when neither answers, the entry is trusted. */
static bool entry_matches(const struct filecache_entry *fe, pid_t pid,
			  const struct procmaps_entry *e)
{
	char path[PATH_MAX + 64];
	struct stat st;

	if (!fe->have_stat)
		return true;
	map_files_path(path, sizeof(path), pid, e);
	if (stat(path, &st)) {
		if ((e->flags & SYM_MAP_DELETED) || e->path[0] != '/' ||
		    (size_t)snprintf(path, sizeof(path), "/proc/%d/root%s", (int)pid, e->path) >=
			    sizeof(path) ||
		    stat(path, &st) || (uint64_t)st.st_ino != e->inode)
			return true;
	}
	return st.st_size == fe->size && st.st_mtim.tv_sec == fe->mtime.tv_sec &&
	       st.st_mtim.tv_nsec == fe->mtime.tv_nsec;
}

static void take(struct filecache *fc, struct filecache_entry *fe)
{
	if (!fe->refcnt++) {
		lru_unlink(fc, fe);
		share_bound(fc);
	}
}

int filecache__get(struct filecache *fc, pid_t pid, const struct procmaps_entry *e,
		   struct filecache_entry **out)
{
	uint64_t dev = procmaps_entry__dev(e);
	struct filecache_entry *fe;
	struct debuginfo *di = NULL;
	struct stat st;
	int fd, err;

	fe = lookup(fc, dev, e->inode);
	if (fe) {
		if (entry_matches(fe, pid, e)) {
			take(fc, fe);
			*out = fe;
			return 0;
		}
		unhash(fc, fe);
		if (!fe->refcnt) {
			lru_unlink(fc, fe);
			entry_free(fc, fe);
		}
	}

	fd = open_mapped_file(pid, e, &st);
	if (fd == -ENOEXEC) {
		err = -ENOEXEC; /* not a regular file: cache that verdict */
	} else if (fd < 0) {
		return fd;
	} else {
		err = dbgcache__get(fc->dc, pid, e, fd, &di);
		close(fd);
		fc->parses++;
		if (err == -ENOMEM || err == -ENOTSUP)
			return err;
	}

	fe = calloc(1, sizeof(*fe));
	if (!fe) {
		dbgcache__put(fc->dc, di);
		return -ENOMEM;
	}
	fe->dev = dev;
	fe->ino = e->inode;
	fe->di = di;
	fe->img = di ? di->img : NULL;
	fe->err = err;
	if (fd >= 0) {
		fe->size = st.st_size;
		fe->mtime = st.st_mtim;
		fe->have_stat = true;
	}
	fe->refcnt = 1;
	fe->hashed = true;
	if (fc->nhashed >= fc->nbuckets)
		grow(fc);
	{
		size_t h = key_hash(dev, e->inode) & (fc->nbuckets - 1);

		fe->hnext = fc->buckets[h];
		fc->buckets[h] = fe;
	}
	fc->nhashed++;
	fc->nentries++;
	fc->bytes += sizeof(*fe);
	if (fe->img)
		fc->nfiles++;
	*out = fe;
	return 0;
}

void filecache__put(struct filecache *fc, struct filecache_entry *fe)
{
	if (!fe || !fe->refcnt || --fe->refcnt)
		return;
	if (!fe->hashed) {
		entry_free(fc, fe);
		return;
	}
	fe->lru_prev = NULL;
	fe->lru_next = fc->lru_head;
	if (fc->lru_head)
		fc->lru_head->lru_prev = fe;
	else
		fc->lru_tail = fe;
	fc->lru_head = fe;
	fc->nunused++;
	lru_trim(fc);
}

void filecache__stats(const struct filecache *fc, struct filecache_stats *st)
{
	st->files = fc->nfiles;
	st->entries = fc->nentries;
	st->unused = fc->nunused;
	st->bytes = fc->bytes + fc->nbuckets * sizeof(*fc->buckets);
	st->parses = fc->parses;
}
