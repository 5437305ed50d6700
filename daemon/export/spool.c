// SPDX-License-Identifier: Apache-2.0
/* spool: on-disk FIFO of upload requests.
 *
 * File "<seq as 16 hex digits>.req": a fixed header (magic, lengths, CRC-32
 * of the rest) then path, content type and body. Sequence numbers only grow,
 * so name order is arrival order. The in-memory index holds (seq, size) per
 * file: the disk is read again only to send. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "export/spool.h"
#include "util/fileio.h"

#define MAGIC "PRFDSPL1"
#define MAX_PATH_LEN 16384
#define MAX_CTYPE_LEN 256
#define TMP_PREFIX ".tmp-"

struct spool_hdr {
	char magic[8];
	uint32_t path_len;
	uint32_t ctype_len;
	uint64_t body_len;
	uint32_t crc;           /* crc32 of path, content type and body */
	uint32_t pad;
};
_Static_assert(sizeof(struct spool_hdr) == 32, "spool header layout");

struct idx {
	uint64_t seq;
	uint64_t size;
};

struct spool {
	char *dir;
	uint64_t max_bytes;
	struct idx *q;          /* q[head..n) waiting, oldest first */
	size_t head, n, cap;
	uint64_t next_seq;
	struct spool_stats st;
};

void upload_item__done(struct upload_item *it)
{
	if (!it)
		return;
	free(it->path);
	free(it->content_type);
	free(it->body);
	memset(it, 0, sizeof(*it));
}

static int idx_cmp(const void *a, const void *b)
{
	const struct idx *x = a, *y = b;

	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static int q_append(struct spool *s, uint64_t seq, uint64_t size)
{
	if (s->head && s->head * 2 >= s->n) {
		/* Reuse the popped front before growing. */
		memmove(s->q, s->q + s->head, (s->n - s->head) * sizeof(*s->q));
		s->n -= s->head;
		s->head = 0;
	}
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 64;
		struct idx *q = realloc(s->q, cap * sizeof(*q));

		if (!q)
			return -ENOMEM;
		s->q = q;
		s->cap = cap;
	}
	s->q[s->n].seq = seq;
	s->q[s->n].size = size;
	s->n++;
	s->st.items++;
	s->st.bytes += size;
	return 0;
}

static void q_drop_head(struct spool *s)
{
	s->st.items--;
	s->st.bytes -= s->q[s->head].size;
	s->head++;
	if (s->head == s->n)
		s->head = s->n = 0;
}

static bool parse_name(const char *name, uint64_t *seq)
{
	char *end;

	if (strlen(name) != 20 || strcmp(name + 16, ".req"))
		return false;
	for (int i = 0; i < 16; i++)
		if (!strchr("0123456789abcdef", name[i]))
			return false;
	*seq = strtoull(name, &end, 16);
	return end == name + 16;
}

static void file_path(const struct spool *s, uint64_t seq, char *buf, size_t size)
{
	snprintf(buf, size, "%s/%016llx.req", s->dir, (unsigned long long)seq);
}

void spool__free(struct spool *s)
{
	if (!s)
		return;
	free(s->dir);
	free(s->q);
	free(s);
}

struct spool *spool__open(const char *dir, uint64_t max_bytes)
{
	char path[PATH_MAX];
	struct spool *s = NULL;
	struct dirent *de;
	struct stat st;
	DIR *d = NULL;
	int err = 0;
	uint64_t seq;

	if (!dir || !*dir || strlen(dir) > PATH_MAX - 32) {
		errno = EINVAL;
		return NULL;
	}
	if (mkdir(dir, 0700) && errno != EEXIST)
		return NULL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->dir = strdup(dir);
	s->max_bytes = max_bytes;
	if (!s->dir) {
		err = -ENOMEM;
		goto fail;
	}
	d = opendir(dir);
	if (!d) {
		err = -errno;
		goto fail;
	}
	while ((de = readdir(d))) {
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		/* No write can be in progress yet: a temporary is a crash's. */
		if (!strncmp(de->d_name, TMP_PREFIX, strlen(TMP_PREFIX))) {
			unlink(path);
			continue;
		}
		if (!parse_name(de->d_name, &seq) || lstat(path, &st) || !S_ISREG(st.st_mode))
			continue;
		/* Past every existing name, indexed or not: never overwrite. */
		if (seq >= s->next_seq)
			s->next_seq = seq + 1;
		if (s->n - s->head >= SPOOL_MAX_ITEMS)
			continue;
		err = q_append(s, seq, st.st_size);
		if (err)
			goto fail;
	}
	closedir(d);
	d = NULL;
	if (s->n)
		qsort(s->q, s->n, sizeof(*s->q), idx_cmp);
	return s;
fail:
	if (d)
		closedir(d);
	spool__free(s);
	errno = -err;
	return NULL;
}

int spool__push(struct spool *s, const struct upload_item *it)
{
	const char *path = it->path ? it->path : "", *ctype = it->content_type ? it->content_type : "";
	struct spool_hdr h = { .magic = MAGIC };
	char tmp[PATH_MAX], final[PATH_MAX];
	uint64_t size;
	uLong crc;
	int err;

	h.path_len = strlen(path);
	h.ctype_len = strlen(ctype);
	h.body_len = it->len;
	size = sizeof(h) + h.path_len + h.ctype_len + h.body_len;
	if (h.path_len > MAX_PATH_LEN || h.ctype_len > MAX_CTYPE_LEN) {
		err = -EINVAL;
		goto refuse;
	}
	if (s->st.bytes + size > s->max_bytes || s->n - s->head >= SPOOL_MAX_ITEMS) {
		err = -ENOSPC;
		goto refuse;
	}
	crc = crc32(0L, Z_NULL, 0);
	crc = crc32(crc, (const Bytef *)path, h.path_len);
	crc = crc32(crc, (const Bytef *)ctype, h.ctype_len);
	crc = crc32_z(crc, it->body, it->len);
	h.crc = (uint32_t)crc;

	snprintf(tmp, sizeof(tmp), "%s/" TMP_PREFIX "XXXXXX", s->dir);
	file_path(s, s->next_seq, final, sizeof(final));
	err = write_file_atomic(final, tmp, (struct iovec[]){
		{ &h, sizeof(h) }, { (void *)path, h.path_len },
		{ (void *)ctype, h.ctype_len }, { (void *)it->body, it->len } }, 4, 0,
		ATOMIC_DATASYNC);
	if (err)
		goto refuse;
	err = q_append(s, s->next_seq, size);
	s->next_seq++;
	if (err)
		return err;     /* on disk; indexed again at the next open */
	s->st.stored++;
	return 0;
refuse:
	s->st.dropped++;
	s->st.dropped_bytes += it->len;
	return err;
}

/* Read and check one file; -EBADMSG when it is not a whole spool record. */
static int read_item(const char *path, struct upload_item *it)
{
	struct spool_hdr h;
	struct stat st;
	uint8_t *buf = NULL;
	ssize_t n;
	size_t off = 0;
	uLong crc;
	int fd, err = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st)) {
		err = -errno;
		goto out;
	}
	if ((uint64_t)st.st_size < sizeof(h) || (uint64_t)st.st_size > ((uint64_t)1 << 40)) {
		err = -EBADMSG;
		goto out;
	}
	buf = malloc(st.st_size);
	if (!buf) {
		err = -ENOMEM;
		goto out;
	}
	while (off < (size_t)st.st_size) {
		n = read(fd, buf + off, st.st_size - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			err = n < 0 ? -errno : -EBADMSG;
			goto out;
		}
		off += n;
	}
	memcpy(&h, buf, sizeof(h));
	if (memcmp(h.magic, MAGIC, 8) || h.path_len > MAX_PATH_LEN || h.ctype_len > MAX_CTYPE_LEN ||
	    h.body_len != (uint64_t)st.st_size - sizeof(h) - h.path_len - h.ctype_len ||
	    (uint64_t)st.st_size < sizeof(h) + h.path_len + h.ctype_len) {
		err = -EBADMSG;
		goto out;
	}
	crc = crc32_z(crc32(0L, Z_NULL, 0), buf + sizeof(h), st.st_size - sizeof(h));
	if ((uint32_t)crc != h.crc) {
		err = -EBADMSG;
		goto out;
	}
	it->path = strndup((char *)buf + sizeof(h), h.path_len);
	it->content_type = strndup((char *)buf + sizeof(h) + h.path_len, h.ctype_len);
	it->body = malloc(h.body_len ? h.body_len : 1);
	if (!it->path || !it->content_type || !it->body) {
		upload_item__done(it);
		err = -ENOMEM;
		goto out;
	}
	memcpy(it->body, buf + sizeof(h) + h.path_len + h.ctype_len, h.body_len);
	it->len = h.body_len;
out:
	free(buf);
	close(fd);
	return err;
}

int spool__peek(struct spool *s, struct upload_item *it)
{
	char path[PATH_MAX];
	int err;

	memset(it, 0, sizeof(*it));
	while (s->head < s->n) {
		file_path(s, s->q[s->head].seq, path, sizeof(path));
		err = read_item(path, it);
		if (!err)
			return 0;
		if (err != -EBADMSG && err != -ENOENT)
			return err;     /* e.g. ENOMEM: try again later */
		/* Truncated, garbled or removed behind our back: not sendable. */
		unlink(path);
		s->st.corrupt++;
		q_drop_head(s);
	}
	return -ENOENT;
}

int spool__pop(struct spool *s)
{
	char path[PATH_MAX];

	if (s->head >= s->n)
		return -ENOENT;
	file_path(s, s->q[s->head].seq, path, sizeof(path));
	if (unlink(path) && errno != ENOENT)
		return -errno;
	q_drop_head(s);
	return 0;
}

const struct spool_stats *spool__stats(const struct spool *s)
{
	return &s->st;
}
