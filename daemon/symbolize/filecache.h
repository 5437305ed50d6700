/* SPDX-License-Identifier: Apache-2.0 */
/* filecache: parsed ELF files shared by every process that maps them, keyed
 * by the (dev, inode) of the maps line, refcounted, with a bounded LRU of
 * files no process references any more. Each entry holds a reference on
 * the file's debuginfo, which is shared further by build id. Internal to
 * symbolize/. */
#ifndef PROFD_SYMBOLIZE_FILECACHE_H
#define PROFD_SYMBOLIZE_FILECACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

struct dbgcache;
struct debuginfo;
struct elf_image;
struct procmaps_entry;
struct filecache;
struct stat;

struct filecache_entry {
	uint64_t dev;
	uint64_t ino;
	/* NULL when the file is not a usable ELF file; err says why. That
	 * verdict is cached too, so garbage is read once, not once per pid.
	 * img is di->img, borrowed. */
	struct elf_image *img;
	struct debuginfo *di;
	int err;
	/* The file as parsed, to notice a different file that reuses the
	 * inode number once the old one is gone. */
	off_t size;
	struct timespec mtime;
	bool have_stat;
	unsigned refcnt;
	bool hashed; /* false once superseded: freed on the last put */
	struct filecache_entry *hnext;
	struct filecache_entry *lru_prev, *lru_next;
};

/* max_unused: parsed files kept after their last user is gone. The
 * debuginfo of the files comes from dc (not owned); filecache__new() makes
 * a private one with default limits. */
struct filecache *filecache__new(size_t max_unused);
struct filecache *filecache__new_dbg(size_t max_unused, struct dbgcache *dc);
/* Every entry must have been put. NULL-safe. */
void filecache__free(struct filecache *fc);

/* The file pid maps with e (a file-backed executable mapping), opened
 * through /proc/PID/map_files/START-END, else /proc/PID/root/PATH (only if
 * its inode matches e: the path may name a newer file). Returns 0 and a
 * referenced entry (possibly with img NULL), or -errno when the file could
 * not be opened or memory ran out: such failures may be transient and are
 * not cached. */
int filecache__get(struct filecache *fc, pid_t pid, const struct procmaps_entry *e,
		   struct filecache_entry **out);
/* Drop a reference; NULL-safe. */
void filecache__put(struct filecache *fc, struct filecache_entry *fe);

struct filecache_stats {
	size_t files;   /* entries holding a parsed image */
	size_t entries; /* all entries, failures included */
	size_t unused;  /* entries on the LRU */
	size_t bytes;   /* the entries themselves (images: dbgcache__stats) */
	size_t parses;  /* files opened and parsed since creation */
};

/* Open the file pid maps with e: /proc/PID/map_files/START-END (the mapped
 * file itself, even deleted or in another mount namespace; needs
 * CAP_SYS_ADMIN), else /proc/PID/root/PATH if that still has e's inode.
 * Never opens anything but a regular file. Returns the fd (*st filled) or
 * -errno: -ENOEXEC not a regular file, -ESTALE the path names another
 * file now. */
int open_mapped_file(pid_t pid, const struct procmaps_entry *e, struct stat *st);

void filecache__stats(const struct filecache *fc, struct filecache_stats *st);

#endif
