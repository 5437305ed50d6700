// SPDX-License-Identifier: Apache-2.0
/* image: who holds which reference. Each per-pid mapping of a file holds
 * one reference on its image. An image whose count drops to zero moves to
 * the head of the LRU list and stays findable by (dev, inode); a later get
 * takes it back off the list. When the list is longer than max_unused, its
 * tail is unhashed and freed. An image found stale (same inode number,
 * different size or mtime) is unhashed at once and freed by its last put;
 * the file is loaded again as a new image. Freeing an image releases its
 * data through the cache's ops. */
#include <errno.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "binary/image.h"
#include "binary/procmaps.h"

#define MIN_BUCKETS 64

struct binary_cache {
	struct binary_image **buckets;
	size_t nbuckets;
	size_t nhashed;
	struct binary_image *lru_head, *lru_tail; /* head: most recently unused */
	size_t nunused;
	size_t max_unused;
	struct binary_cache_ops ops;
	void *ctx;
	/* totals over every live image, hashed or not */
	size_t nentries, nfiles, parses;
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

static struct binary_image **bucket(const struct binary_cache *bc, uint64_t dev, uint64_t ino)
{
	return &bc->buckets[key_hash(dev, ino) & (bc->nbuckets - 1)];
}

struct binary_cache *binary_cache__new(size_t max_unused, const struct binary_cache_ops *ops,
				       void *ctx)
{
	struct binary_cache *bc = calloc(1, sizeof(*bc));

	if (!bc)
		goto err;
	bc->nbuckets = MIN_BUCKETS;
	bc->buckets = calloc(bc->nbuckets, sizeof(*bc->buckets));
	if (!bc->buckets)
		goto err;
	bc->max_unused = max_unused;
	bc->ops = *ops;
	bc->ctx = ctx;
	return bc;
err:
	free(bc);
	errno = ENOMEM;
	return NULL;
}

void binary_image__set_view(struct binary_image *img, enum binary_view v, void *data,
			    void (*release)(void *data))
{
	if (img->views[v].data && img->views[v].release)
		img->views[v].release(img->views[v].data);
	img->views[v].data = data;
	img->views[v].release = release;
}

static void image_free(struct binary_cache *bc, struct binary_image *img)
{
	for (int v = 0; v < BINARY_VIEW_MAX; v++)
		binary_image__set_view(img, v, NULL, NULL);
	bc->nentries--;
	if (img->data) {
		bc->nfiles--;
		bc->ops.release(bc->ctx, img->data);
	}
	free(img);
}

static void unhash(struct binary_cache *bc, struct binary_image *img)
{
	struct binary_image **pp = bucket(bc, img->key.dev, img->key.ino);

	for (; *pp; pp = &(*pp)->hnext) {
		if (*pp == img) {
			*pp = img->hnext;
			img->hnext = NULL;
			img->hashed = false;
			bc->nhashed--;
			return;
		}
	}
}

static void lru_unlink(struct binary_cache *bc, struct binary_image *img)
{
	if (img->lru_prev)
		img->lru_prev->lru_next = img->lru_next;
	else
		bc->lru_head = img->lru_next;
	if (img->lru_next)
		img->lru_next->lru_prev = img->lru_prev;
	else
		bc->lru_tail = img->lru_prev;
	img->lru_prev = img->lru_next = NULL;
	bc->nunused--;
}

static void share_bound(struct binary_cache *bc)
{
	if (bc->ops.unused)
		bc->ops.unused(bc->ctx, bc->nunused, bc->max_unused);
}

static void lru_trim(struct binary_cache *bc)
{
	share_bound(bc);
	while (bc->nunused > bc->max_unused) {
		struct binary_image *img = bc->lru_tail;

		lru_unlink(bc, img);
		unhash(bc, img);
		image_free(bc, img);
	}
	share_bound(bc);
}

void binary_cache__free(struct binary_cache *bc)
{
	if (!bc)
		return;
	bc->max_unused = 0;
	lru_trim(bc);
	/* Images still referenced here are a caller bug; free them anyway
	 * rather than leak. */
	for (size_t i = 0; i < bc->nbuckets; i++) {
		while (bc->buckets[i]) {
			struct binary_image *img = bc->buckets[i];

			bc->buckets[i] = img->hnext;
			image_free(bc, img);
		}
	}
	free(bc->buckets);
	free(bc);
}

static void grow(struct binary_cache *bc)
{
	size_t n = bc->nbuckets * 2;
	struct binary_image **b = calloc(n, sizeof(*b));

	if (!b)
		return; /* longer chains, still correct */
	for (size_t i = 0; i < bc->nbuckets; i++) {
		while (bc->buckets[i]) {
			struct binary_image *img = bc->buckets[i];
			size_t h = key_hash(img->key.dev, img->key.ino) & (n - 1);

			bc->buckets[i] = img->hnext;
			img->hnext = b[h];
			b[h] = img;
		}
	}
	free(bc->buckets);
	bc->buckets = b;
	bc->nbuckets = n;
}

static struct binary_image *lookup(struct binary_cache *bc, uint64_t dev, uint64_t ino)
{
	struct binary_image *img = *bucket(bc, dev, ino);

	for (; img; img = img->hnext)
		if (img->key.dev == dev && img->key.ino == ino)
			return img;
	return NULL;
}

void binary_image__ref(struct binary_cache *bc, struct binary_image *img)
{
	if (!img->refcnt++) {
		lru_unlink(bc, img);
		share_bound(bc);
	}
}

int binary_cache__get(struct binary_cache *bc, pid_t pid, const struct procmaps_entry *e,
		      struct binary_image **out)
{
	uint64_t dev = procmaps_entry__dev(e);
	struct binary_image *img;
	void *data = NULL;
	struct stat st;
	int fd, err;

	img = lookup(bc, dev, e->inode);
	if (img) {
		if (!img->have_stat || !binary_file__changed(pid, e, &img->key)) {
			binary_image__ref(bc, img);
			*out = img;
			return 0;
		}
		unhash(bc, img);
		if (!img->refcnt) {
			lru_unlink(bc, img);
			image_free(bc, img);
		}
	}

	fd = binary_open_mapped(pid, e, &st);
	if (fd == -ENOEXEC) {
		err = -ENOEXEC; /* not a regular file: cache that verdict */
	} else if (fd < 0) {
		return fd;
	} else {
		err = bc->ops.load(bc->ctx, pid, e, fd, &data);
		close(fd);
		bc->parses++;
		if (err == -ENOMEM || err == -ENOTSUP)
			return err;
	}

	img = calloc(1, sizeof(*img));
	if (!img) {
		if (data)
			bc->ops.release(bc->ctx, data);
		return -ENOMEM;
	}
	img->key.dev = dev;
	img->key.ino = e->inode;
	if (fd >= 0) {
		binary_key__from_stat(&img->key, e, &st);
		img->have_stat = true;
	}
	img->data = data;
	img->err = err;
	img->refcnt = 1;
	img->hashed = true;
	if (bc->nhashed >= bc->nbuckets)
		grow(bc);
	{
		struct binary_image **b = bucket(bc, dev, e->inode);

		img->hnext = *b;
		*b = img;
	}
	bc->nhashed++;
	bc->nentries++;
	if (img->data)
		bc->nfiles++;
	*out = img;
	return 0;
}

void binary_cache__put(struct binary_cache *bc, struct binary_image *img)
{
	if (!img || !img->refcnt || --img->refcnt)
		return;
	if (!img->hashed) {
		image_free(bc, img);
		return;
	}
	img->lru_prev = NULL;
	img->lru_next = bc->lru_head;
	if (bc->lru_head)
		bc->lru_head->lru_prev = img;
	else
		bc->lru_tail = img;
	bc->lru_head = img;
	bc->nunused++;
	lru_trim(bc);
}

bool binary_cache__evict(struct binary_cache *bc, bool (*pick)(const void *data))
{
	for (struct binary_image *img = bc->lru_tail; img; img = img->lru_prev) {
		if (pick && !pick(img->data))
			continue;
		lru_unlink(bc, img);
		unhash(bc, img);
		image_free(bc, img);
		share_bound(bc);
		return true;
	}
	return false;
}

void binary_cache__stats(const struct binary_cache *bc, struct binary_cache_stats *st)
{
	st->files = bc->nfiles;
	st->entries = bc->nentries;
	st->unused = bc->nunused;
	st->bytes = bc->nentries * sizeof(struct binary_image) + bc->nbuckets * sizeof(*bc->buckets);
	st->parses = bc->parses;
}
