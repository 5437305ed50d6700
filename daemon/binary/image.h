/* SPDX-License-Identifier: Apache-2.0 */
/* image: mapped files shared by every process that maps them. An image is
 * keyed by the file's identity (device, inode, size, mtime: struct
 * binary_key), reference-counted (one reference per mapping that uses it),
 * and kept on a bounded LRU once no mapping does. What a consumer reads out
 * of the file (symbols and build ID, DWARF, unwind rules) is the image's
 * data, made once by the cache's load operation from an fd opened with
 * binary_open_mapped(). A consumer that wants more of the file later
 * reopens it through binary_open_mapped(), checks the key, and may hang
 * what it made on the image as a view (the gap walk's unwind table beside
 * the symbolizer's symbols), freed with the image. Not thread-safe: one
 * cache per thread that uses it. */
#ifndef PROFD_BINARY_IMAGE_H
#define PROFD_BINARY_IMAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "binary/file.h"

struct procmaps_entry;
struct binary_cache;

/* Views a second consumer adds to an image lazily. */
enum binary_view {
	BINARY_VIEW_UNWIND, /* unwind/gapwalk.c: .eh_frame rules and PT_LOADs */
	BINARY_VIEW_MAX
};

struct binary_image {
	struct binary_key key; /* size and mtime zero without have_stat */
	bool have_stat;
	/* The consumer's parse of the file, or NULL with err < 0 saying why
	 * (-ENOEXEC: not a regular file or not ELF). That verdict is cached
	 * too, so garbage is read once, not once per pid. */
	void *data;
	int err;
	struct {
		void *data;
		void (*release)(void *data);
	} views[BINARY_VIEW_MAX];
	/* cache bookkeeping */
	unsigned refcnt;
	bool hashed; /* false once superseded: freed on the last put */
	struct binary_image *hnext;
	struct binary_image *lru_prev, *lru_next;
};

struct binary_cache_ops {
	/* Parse the regular file open on fd (not to be closed). Returns 0 and
	 * *data, a verdict to cache (<0, *data NULL), or -ENOMEM/-ENOTSUP,
	 * which are not cached. */
	int (*load)(void *ctx, pid_t pid, const struct procmaps_entry *e, int fd, void **data);
	void (*release)(void *ctx, void *data); /* data non-NULL */
	/* Optional: called when the number of unused images changes, so a
	 * cache behind this one can share the max_unused bound. */
	void (*unused)(void *ctx, size_t nunused, size_t max_unused);
};

/* max_unused: images kept after their last user is gone. ops is copied. */
struct binary_cache *binary_cache__new(size_t max_unused, const struct binary_cache_ops *ops,
				       void *ctx);
/* Every image must have been put. NULL-safe. */
void binary_cache__free(struct binary_cache *bc);

/* The image of the file pid maps with e (a file-backed mapping). A cached
 * image is reused unless the file visibly changed (binary_file__changed);
 * else the file is opened with binary_open_mapped() and loaded. Returns 0
 * and a referenced image (possibly with data NULL), or -errno when the file
 * could not be opened or memory ran out: such failures may be transient and
 * are not cached. */
int binary_cache__get(struct binary_cache *bc, pid_t pid, const struct procmaps_entry *e,
		      struct binary_image **out);
/* A view of img (NULL when none was set). */
static inline void *binary_image__view(const struct binary_image *img, enum binary_view v)
{
	return img->views[v].data;
}
/* Set (or replace: the old one is released) a view of img; release (may
 * be NULL) frees data when the image goes. */
void binary_image__set_view(struct binary_image *img, enum binary_view v, void *data,
			    void (*release)(void *data));

/* Take another reference on img (from binary_cache__get). */
void binary_image__ref(struct binary_cache *bc, struct binary_image *img);
/* Drop a reference; NULL-safe. */
void binary_cache__put(struct binary_cache *bc, struct binary_image *img);

/* Free the least recently used unused image whose data pick() accepts
 * (pick NULL: any), e.g. to make room in a budget the cache does not know
 * about. May be called from inside the load operation. True if one went. */
bool binary_cache__evict(struct binary_cache *bc, bool (*pick)(const void *data));

struct binary_cache_stats {
	size_t files;   /* images holding data */
	size_t entries; /* all images, failures included */
	size_t unused;  /* images on the LRU */
	size_t bytes;   /* the cache's own memory (not the data) */
	size_t parses;  /* files opened and loaded since creation */
};

void binary_cache__stats(const struct binary_cache *bc, struct binary_cache_stats *st);

#endif
