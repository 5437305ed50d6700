/* SPDX-License-Identifier: Apache-2.0 */
/* file: how profd opens a file another process maps, and tells whether it
 * is still the file it read before. Every reader of mapped binaries
 * (symbolizer, unwind loader, gap walk, heap collector) opens through here
 * and initializes libelf through here. */
#ifndef PROFD_BINARY_FILE_H
#define PROFD_BINARY_FILE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>

struct procmaps_entry;

/* elf_version() once per process (thread-safe). 0 or -ENOTSUP. */
int binary_elf_init(void);

/* A file's identity: inode numbers are reused once a file is gone, so size
 * and mtime tell a replaced file from the one read before. */
struct binary_key {
	uint64_t dev; /* as the maps line packs it: major << 32 | minor */
	uint64_t ino;
	off_t size;
	struct timespec mtime;
};

/* The key of the file behind st as a maps entry names it (its dev and
 * inode fields, so a key made from either source compares equal). */
void binary_key__from_stat(struct binary_key *k, const struct procmaps_entry *e,
			   const struct stat *st);
static inline bool binary_key__eq(const struct binary_key *a, const struct binary_key *b)
{
	return a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
	       a->mtime.tv_sec == b->mtime.tv_sec && a->mtime.tv_nsec == b->mtime.tv_nsec;
}

/* Whether st is the file k was made from, as far as stat can tell (inode,
 * size, mtime; not the device, which a maps line and stat() encode
 * differently). */
static inline bool binary_key__matches(const struct binary_key *k, const struct stat *st)
{
	return k->ino == (uint64_t)st->st_ino && k->size == st->st_size &&
	       k->mtime.tv_sec == st->st_mtim.tv_sec && k->mtime.tv_nsec == st->st_mtim.tv_nsec;
}

/* Open the file pid maps with e: /proc/PID/map_files/START-END (the mapped
 * file itself, even deleted or in another mount namespace; needs
 * CAP_SYS_ADMIN), else /proc/PID/root/PATH if that still has e's inode
 * (e->inode 0: not checked). Never opens anything but a regular file, and
 * never blocks on open. Returns the fd (*st filled) or -errno: -ENOEXEC
 * not a regular file, -ESTALE the path names another file now. */
int binary_open_mapped(pid_t pid, const struct procmaps_entry *e, struct stat *st);

/* Open path if it is a regular file; fd (*st filled) or -errno as above. */
int binary_open_regular(const char *path, struct stat *st);

/* Whether the file pid maps with e is visibly not the one with size and
 * mtime of k (one stat(), no open). Without access to map_files, the path
 * is asked instead if it still names that inode; when neither answers,
 * the file is taken to be unchanged. */
bool binary_file__changed(pid_t pid, const struct procmaps_entry *e, const struct binary_key *k);

#endif
