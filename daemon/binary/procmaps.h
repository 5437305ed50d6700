/* SPDX-License-Identifier: Apache-2.0 */
/* procmaps: the one /proc/PID/maps scanner (symbolizer, unwind loader,
 * heap collector): parses lines strictly into executable mappings. */
#ifndef PROFD_SYMBOLIZE_PROCMAPS_H
#define PROFD_SYMBOLIZE_PROCMAPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* A whole maps file is read into memory before parsing; a process with this
 * much text in its maps is not one we can afford to track anyway. */
#define PROCMAPS_MAX_BYTES (64u << 20)

/* procmaps_entry.flags; the same bits as SYM_MAP_SPECIAL and
 * SYM_MAP_DELETED (symbolize/symbolizer.h), which pass them on. */
enum {
	PROCMAPS_SPECIAL = 1 << 1, /* the path names no file */
	PROCMAPS_DELETED = 1 << 2, /* the file was deleted after mapping */
};

/* One line of /proc/PID/maps. path points into the caller's line buffer,
 * NUL-terminated, with " (deleted)" trimmed (PROCMAPS_DELETED set); it is ""
 * for anonymous mappings. flags holds PROCMAPS_SPECIAL for every path that
 * does not name a file ("", "[vdso]", "[anon:x]", "anon_inode:..."). */
struct procmaps_entry {
	uint64_t start;
	uint64_t end;
	uint64_t offset;
	uint64_t inode;
	uint32_t dev_major;
	uint32_t dev_minor;
	char perms[5];
	unsigned flags;
	const char *path;
};

static inline int procmaps_entry__is_exec(const struct procmaps_entry *e)
{
	return e->perms[2] == 'x';
}

/* (major, minor) packed the way the file cache keys files. */
static inline uint64_t procmaps_entry__dev(const struct procmaps_entry *e)
{
	return (uint64_t)e->dev_major << 32 | e->dev_minor;
}

/* Parse one line (no trailing newline needed) in place: the path is
 * NUL-terminated inside line. Returns 0 or -EINVAL for anything that is not
 * exactly a maps line (truncated, bad hex, start >= end, bad perms). */
int procmaps__parse_line(char *line, struct procmaps_entry *e);

/* Called for each well-formed executable mapping, in file order. A nonzero
 * return stops the walk and is returned by procmaps__read*(). */
typedef int (*procmaps_cb)(const struct procmaps_entry *e, void *ctx);

/* Read a whole maps file (path) and call cb for each executable mapping.
 * Malformed lines are skipped and counted in *nbad (may be NULL).
 * Returns 0, the callback's nonzero value, -EFBIG past PROCMAPS_MAX_BYTES,
 * or -errno from open/read (-ESRCH when the process is gone). */
int procmaps__read_file(const char *path, procmaps_cb cb, void *ctx, size_t *nbad);
int procmaps__read(pid_t pid, procmaps_cb cb, void *ctx, size_t *nbad);

/* The executable mappings of one read, kept: what a new process costs is
 * one read however many modules look at its mappings (the unwind loader,
 * python, the symbolizer). e[i].path points into names. */
struct procmaps {
	struct procmaps_entry *e; /* in address order */
	size_t n;
	char *names;
};

/* Read pid's executable mappings into *pm (empty on error; release it
 * either way). On 6.11+ they are asked of the kernel with PROCMAP_QUERY
 * ioctls, one per executable mapping (the kernel then formats and d_paths
 * only those: ~5x less system time than the text of every mapping), else
 * read from the text. Returns as procmaps__read. Either way gives the
 * same mappings (the text's "[vsyscall]", no VMA that the ioctl reports,
 * is added to what it reports). */
int procmaps__load(pid_t pid, struct procmaps *pm);
/* Tests: read the text even where PROCMAP_QUERY works (off), or ask the
 * kernel again (!off). */
void procmaps__text_only(bool off);
/* The same from a maps text file (tests, and the fallback). */
int procmaps__load_file(const char *path, struct procmaps *pm, size_t *nbad);
/* cb for each kept mapping, in order; stops at and returns a nonzero value. */
int procmaps__each(const struct procmaps *pm, procmaps_cb cb, void *ctx);
void procmaps__release(struct procmaps *pm);

#endif
