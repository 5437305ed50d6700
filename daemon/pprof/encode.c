// SPDX-License-Identifier: Apache-2.0
/* encode: turns the builder's tables into a Perftools__Profiles__Profile
 * (protobuf-c), packs it, gzips it, and writes it to disk atomically. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "profile.pb-c.h"
#include "pprof/pprof_internal.h"
#include "util/fileio.h"

/* The protobuf-c messages exist only while encoding. They point into the
 * builder's arrays (strings, location ids, values, comments) wherever the
 * layouts agree, and into these arrays otherwise. */
struct msgs {
	Perftools__Profiles__ValueType *types, **type_ptrs, period_type;
	Perftools__Profiles__Mapping *mappings, **mapping_ptrs;
	Perftools__Profiles__Function *functions, **function_ptrs;
	Perftools__Profiles__Line *lines, **line_ptrs;
	Perftools__Profiles__Location *locations, **location_ptrs;
	Perftools__Profiles__Label *labels, **label_ptrs;
	Perftools__Profiles__Sample *samples, **sample_ptrs;
};

static void msgs__done(struct msgs *m)
{
	free(m->types);
	free(m->type_ptrs);
	free(m->mappings);
	free(m->mapping_ptrs);
	free(m->functions);
	free(m->function_ptrs);
	free(m->lines);
	free(m->line_ptrs);
	free(m->locations);
	free(m->location_ptrs);
	free(m->labels);
	free(m->label_ptrs);
	free(m->samples);
	free(m->sample_ptrs);
}

/* Allocates n messages and n pointers to them; n == 0 leaves both NULL. */
static int alloc_msgs(void *msgsp, void *ptrsp, size_t n, size_t size)
{
	void *msgs = NULL, *ptrs = NULL;

	if (n) {
		msgs = pprof_reallocarray(NULL, n, size);
		ptrs = pprof_reallocarray(NULL, n, sizeof(void *));
		if (!msgs || !ptrs) {
			free(msgs);
			free(ptrs);
			return -ENOMEM;
		}
		for (size_t i = 0; i < n; i++)
			((void **)ptrs)[i] = (char *)msgs + i * size;
	}
	memcpy(msgsp, &msgs, sizeof(msgs));
	memcpy(ptrsp, &ptrs, sizeof(ptrs));
	return 0;
}

#define ALLOC_MSGS(m, ptrs, n) alloc_msgs(&(m), &(ptrs), (n), sizeof(*(m)))

static int build(const struct pprof *p, struct msgs *m, Perftools__Profiles__Profile *prof)
{
	int err;

	err = ALLOC_MSGS(m->types, m->type_ptrs, p->ntypes);
	if (!err)
		err = ALLOC_MSGS(m->mappings, m->mapping_ptrs, p->nmappings);
	if (!err)
		err = ALLOC_MSGS(m->functions, m->function_ptrs, p->nfunctions);
	if (!err)
		err = ALLOC_MSGS(m->lines, m->line_ptrs, p->nlines);
	if (!err)
		err = ALLOC_MSGS(m->locations, m->location_ptrs, p->nlocations);
	if (!err)
		err = ALLOC_MSGS(m->labels, m->label_ptrs, p->label_pool_len);
	if (!err)
		err = ALLOC_MSGS(m->samples, m->sample_ptrs, p->nsamples);
	if (err)
		return err;

	for (size_t i = 0; i < p->ntypes; i++) {
		perftools__profiles__value_type__init(&m->types[i]);
		m->types[i].type = p->types[i].type;
		m->types[i].unit = p->types[i].unit;
	}
	prof->n_sample_type = p->ntypes;
	prof->sample_type = m->type_ptrs;

	for (size_t i = 0; i < p->nmappings; i++) {
		const struct pp_mapping *src = &p->mappings[i];
		Perftools__Profiles__Mapping *dst = &m->mappings[i];

		perftools__profiles__mapping__init(dst);
		dst->id = i + 1;
		dst->memory_start = src->start;
		dst->memory_limit = src->limit;
		dst->file_offset = src->offset;
		dst->filename = src->filename;
		dst->build_id = src->build_id;
		dst->has_functions = !!(src->flags & PPROF_HAS_FUNCTIONS);
		dst->has_filenames = !!(src->flags & PPROF_HAS_FILENAMES);
		dst->has_line_numbers = !!(src->flags & PPROF_HAS_LINE_NUMBERS);
		dst->has_inline_frames = !!(src->flags & PPROF_HAS_INLINE_FRAMES);
	}
	prof->n_mapping = p->nmappings;
	prof->mapping = m->mapping_ptrs;

	for (size_t i = 0; i < p->nfunctions; i++) {
		const struct pp_function *src = &p->functions[i];
		Perftools__Profiles__Function *dst = &m->functions[i];

		perftools__profiles__function__init(dst);
		dst->id = i + 1;
		dst->name = src->name;
		dst->system_name = src->system_name;
		dst->filename = src->filename;
		dst->start_line = src->start_line;
	}
	prof->n_function = p->nfunctions;
	prof->function = m->function_ptrs;

	for (size_t i = 0; i < p->nlines; i++) {
		perftools__profiles__line__init(&m->lines[i]);
		m->lines[i].function_id = p->lines[i].function_id;
		m->lines[i].line = p->lines[i].line;
	}
	for (size_t i = 0; i < p->nlocations; i++) {
		const struct pp_location *src = &p->locations[i];
		Perftools__Profiles__Location *dst = &m->locations[i];

		perftools__profiles__location__init(dst);
		dst->id = i + 1;
		dst->mapping_id = src->mapping_id;
		dst->address = src->address;
		dst->n_line = src->lines.len;
		dst->line = src->lines.len ? &m->line_ptrs[src->lines.off] : NULL;
	}
	prof->n_location = p->nlocations;
	prof->location = m->location_ptrs;

	for (size_t i = 0; i < p->label_pool_len; i++) {
		const struct pp_label *src = &p->label_pool[i];

		perftools__profiles__label__init(&m->labels[i]);
		m->labels[i].key = src->key;
		m->labels[i].str = src->str;
		m->labels[i].num = src->num;
		m->labels[i].num_unit = src->unit;
	}
	for (size_t i = 0; i < p->nsamples; i++) {
		const struct pp_span *stack = &p->stacks[p->samples[i].stack];
		const struct pp_span *labels = &p->labelsets[p->samples[i].labelset];
		Perftools__Profiles__Sample *dst = &m->samples[i];

		perftools__profiles__sample__init(dst);
		dst->n_location_id = stack->len;
		dst->location_id = stack->len ? &p->stack_pool[stack->off] : NULL;
		dst->n_value = p->ntypes;
		dst->value = &p->values[i * p->ntypes];
		dst->n_label = labels->len;
		dst->label = labels->len ? &m->label_ptrs[labels->off] : NULL;
	}
	prof->n_sample = p->nsamples;
	prof->sample = m->sample_ptrs;

	prof->n_string_table = p->nstrs;
	prof->string_table = p->strs;
	prof->time_nanos = p->time_nanos;
	prof->duration_nanos = p->duration_nanos;
	if (p->has_period) {
		perftools__profiles__value_type__init(&m->period_type);
		m->period_type.type = p->period_type.type;
		m->period_type.unit = p->period_type.unit;
		prof->period_type = &m->period_type;
	}
	prof->period = p->period;
	prof->n_comment = p->ncomments;
	prof->comment = p->comments;
	prof->default_sample_type = p->default_sample_type;
	return 0;
}

static voidpf zalloc(voidpf opaque, uInt items, uInt size)
{
	(void)opaque;
	return pprof_reallocarray(NULL, items, size);
}

static void zfree(voidpf opaque, voidpf ptr)
{
	(void)opaque;
	free(ptr);
}

/* gzip's level: Go's runtime/pprof writes its profiles at BestSpeed too.
 * Level 6 cost twice the CPU for 6% less output on the agent's profiles
 * (a few KiB each). */
#define GZIP_LEVEL Z_BEST_SPEED

/* One deflate state kept from one profile to the next (deflateReset()
 * instead of deflateInit2(): setting up its 256 KiB of tables was half the
 * cost of gzipping a small profile). A thread that finds it in use sets up
 * its own. */
static pthread_mutex_t gz_lock = PTHREAD_MUTEX_INITIALIZER;
static z_stream *gz_kept;

static int gz_init(z_stream *zs)
{
	int ret;

	*zs = (z_stream){ .zalloc = zalloc, .zfree = zfree };
	/* 16 + MAX_WBITS: gzip header and trailer instead of zlib's. */
	ret = deflateInit2(zs, GZIP_LEVEL, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY);
	if (ret != Z_OK)
		return ret == Z_MEM_ERROR ? -ENOMEM : -EINVAL;
	return 0;
}

/* A deflate state ready for a new stream in *zs: the kept one (*kept,
 * locked) or a new one. */
static int gz_begin(z_stream **zs, bool *kept)
{
	z_stream *n;
	int err;

	*kept = !pthread_mutex_trylock(&gz_lock);
	if (*kept && gz_kept) {
		*zs = gz_kept;
		return deflateReset(gz_kept) == Z_OK ? 0 : -EINVAL;
	}
	n = pprof_reallocarray(NULL, 1, sizeof(*n));
	err = n ? gz_init(n) : -ENOMEM;
	if (err) {
		free(n);
		if (*kept)
			pthread_mutex_unlock(&gz_lock);
		*kept = false;
		return err;
	}
	if (*kept)
		gz_kept = n;
	*zs = n;
	return 0;
}

static void gz_end(z_stream *zs, bool kept)
{
	if (kept) {
		pthread_mutex_unlock(&gz_lock);
		return;
	}
	deflateEnd(zs);
	free(zs);
}

/* gzip in one shot into a buffer of deflateBound() bytes, which zlib
 * guarantees is enough. zlib counts in uInt, so feed it at most UINT_MAX
 * bytes each way per call. */
static int gzip(const uint8_t *in, size_t inlen, uint8_t **out, size_t *outlen)
{
	size_t in_left = inlen, out_left, bound;
	uint8_t *buf = NULL, *shrunk;
	z_stream *zs;
	bool kept;
	int ret, err;

	err = gz_begin(&zs, &kept);
	if (err)
		return err;
	bound = deflateBound(zs, inlen);
	buf = pprof_reallocarray(NULL, bound, 1);
	if (!buf) {
		err = -ENOMEM;
		goto cleanup;
	}
	out_left = bound;
	zs->next_in = (Bytef *)in;
	zs->next_out = buf;
	for (;;) {
		uInt in_chunk = in_left > UINT_MAX ? UINT_MAX : in_left;
		uInt out_chunk = out_left > UINT_MAX ? UINT_MAX : out_left;

		zs->avail_in = in_chunk;
		zs->avail_out = out_chunk;
		ret = deflate(zs, in_chunk == in_left ? Z_FINISH : Z_NO_FLUSH);
		in_left -= in_chunk - zs->avail_in;
		out_left -= out_chunk - zs->avail_out;
		if (ret == Z_STREAM_END)
			break;
		/* With deflateBound() room, anything but progress is a bug. */
		if ((ret != Z_OK && ret != Z_BUF_ERROR) || !out_left ||
		    (zs->avail_in == in_chunk && zs->avail_out == out_chunk)) {
			err = -EIO;
			goto cleanup;
		}
	}
	*outlen = bound - out_left;
	/* deflateBound() is pessimistic (about the input size); give back the
	 * rest. A failed shrink leaves the larger buffer, which is still valid. */
	shrunk = realloc(buf, *outlen ? *outlen : 1);
	*out = shrunk ? shrunk : buf;
	buf = NULL;
	err = 0;
cleanup:
	gz_end(zs, kept);
	free(buf);
	return err;
}

int pprof__encode(const struct pprof *p, uint8_t **buf, size_t *len)
{
	Perftools__Profiles__Profile prof = PERFTOOLS__PROFILES__PROFILE__INIT;
	struct msgs m = { 0 };
	uint8_t *packed = NULL;
	size_t size;
	int err;

	if (!p || !buf || !len) {
		errno = EINVAL;
		return -EINVAL;
	}
	err = build(p, &m, &prof);
	if (err)
		goto cleanup;
	size = perftools__profiles__profile__get_packed_size(&prof);
	packed = pprof_reallocarray(NULL, size ? size : 1, 1);
	if (!packed) {
		err = -ENOMEM;
		goto cleanup;
	}
	if (perftools__profiles__profile__pack(&prof, packed) != size) {
		err = -EIO;
		goto cleanup;
	}
	err = gzip(packed, size, buf, len);
cleanup:
	free(packed);
	msgs__done(&m);
	if (err)
		errno = -err;
	return err;
}

/* Long enough for any name the kernel accepts, short enough that the
 * ".<name>.XXXXXX" temporary name stays under NAME_MAX. */
#define TMP_BASE_MAX 200

int pprof__write_file(const struct pprof *p, const char *path)
{
	const char *slash, *base;
	uint8_t *buf = NULL;
	char *tmp = NULL, *dir = NULL;
	size_t len = 0, dirlen, namelen;
	int err;

	if (!p || !path || !*path) {
		err = -EINVAL;
		goto cleanup;
	}
	slash = strrchr(path, '/');
	base = slash ? slash + 1 : path;
	if (!*base || !strcmp(base, ".") || !strcmp(base, "..")) {
		err = -EISDIR;
		goto cleanup;
	}
	/* Encode first: a profile that cannot be built never touches the disk. */
	err = pprof__encode(p, &buf, &len);
	if (err)
		goto cleanup;

	dirlen = slash ? (size_t)(slash - path) : 0;
	namelen = strnlen(base, TMP_BASE_MAX);
	dir = pprof_reallocarray(NULL, dirlen + 2, 1);
	tmp = pprof_reallocarray(NULL, dirlen + namelen + sizeof("//..XXXXXX"), 1);
	if (!dir || !tmp) {
		err = -ENOMEM;
		goto cleanup;
	}
	if (!slash) {
		strcpy(dir, ".");
	} else if (!dirlen) {
		strcpy(dir, "/");
	} else {
		memcpy(dir, path, dirlen);
		dir[dirlen] = '\0';
	}
	sprintf(tmp, "%s/.%.*s.XXXXXX", dir, (int)namelen, base);
	/* The leading dot keeps globs like *.pb.gz from picking up a file that
	 * is still being written. mkostemp creates it 0600: profiles name every
	 * process and binary on the host. */
	err = write_file_atomic(path, tmp, &(struct iovec){ buf, len }, 1, 0, ATOMIC_SYNC_DIR);
cleanup:
	free(tmp);
	free(dir);
	free(buf);
	if (err)
		errno = -err;
	return err;
}
