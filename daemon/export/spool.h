/* SPDX-License-Identifier: Apache-2.0 */
/* spool: a bounded FIFO of upload requests on disk, for when the profile
 * store cannot take them. One file per request, written atomically (temporary
 * file, fdatasync, rename) and named by a sequence number, so the order survives
 * a restart; what would exceed the byte bound is refused and counted. */
#ifndef PROFD_SPOOL_H
#define PROFD_SPOOL_H

#include <stddef.h>
#include <stdint.h>

/* One HTTP request, as upload.c sends it and the spool keeps it. */
struct upload_item {
	char *path;             /* appended to the store's base URL ("" for none) */
	char *content_type;
	uint8_t *body;
	size_t len;
};

/* Free what it owns and zero it. NULL-safe. */
void upload_item__done(struct upload_item *it);

#define SPOOL_MAX_ITEMS 100000  /* files, whatever their size */

struct spool_stats {
	uint64_t items;         /* waiting now */
	uint64_t bytes;         /* on disk now, headers included */
	uint64_t stored;        /* accepted since start */
	uint64_t dropped;       /* refused: bound reached (or write error) */
	uint64_t dropped_bytes;
	uint64_t corrupt;       /* unreadable files found and removed */
};

struct spool;

/* Open (create) dir and index the requests already there, oldest first.
 * Returns NULL with errno set. */
struct spool *spool__open(const char *dir, uint64_t max_bytes);
void spool__free(struct spool *s);

/* Append a copy of it. Returns 0, -ENOSPC when it does not fit in max_bytes
 * (or SPOOL_MAX_ITEMS) or the file system is full, or -errno. A refusal is
 * counted in dropped. */
int spool__push(struct spool *s, const struct upload_item *it);

/* Load the oldest request into *it (caller frees with upload_item__done()).
 * Corrupt files are removed, counted and skipped. Returns 0, -ENOENT when
 * the spool is empty, or -errno. */
int spool__peek(struct spool *s, struct upload_item *it);

/* Remove the oldest request (delivered, or rejected for good). */
int spool__pop(struct spool *s);

const struct spool_stats *spool__stats(const struct spool *s);

#endif
