// SPDX-License-Identifier: Apache-2.0
/* strpool: strings are packed into 64 KiB chunks (a longer one gets a
 * chunk of its own); the hash table indexes the dense pointer array. */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "symbolize/strpool.h"
#include "util/array.h"

static bool str_eq(const void *ctx, uint32_t idx, const void *key)
{
	return !strcmp(((const struct strpool *)ctx)->strs[idx], key);
}

/* Room for len bytes; NULL when out of memory. */
static char *pool_alloc(struct strpool *sp, size_t len)
{
	size_t size = len > STRPOOL_CHUNK ? len : STRPOOL_CHUNK;
	char *c;

	if (sp->nchunks && len <= STRPOOL_CHUNK - sp->chunk_used) {
		c = sp->chunks[sp->nchunks - 1] + sp->chunk_used;
		sp->chunk_used += len;
		return c;
	}
	if (array__reserve((void **)&sp->chunks, &sp->chunks_cap, sp->nchunks + 1, sizeof(char *),
			   &sp->bytes))
		return NULL;
	c = malloc(size);
	if (!c)
		return NULL;
	sp->bytes += size;
	/* an oversized string fills its chunk; keep packing into the last
	 * regular one otherwise */
	if (len > STRPOOL_CHUNK && sp->nchunks) {
		char *last = sp->chunks[sp->nchunks - 1];

		sp->chunks[sp->nchunks - 1] = c;
		sp->chunks[sp->nchunks++] = last;
		return c;
	}
	sp->chunks[sp->nchunks++] = c;
	sp->chunk_used = len;
	return c;
}

const char *strpool__intern_idx(struct strpool *sp, const char *s, uint32_t *out_idx)
{
	size_t len;
	uint64_t h;
	uint32_t idx;
	char *copy;

	if (!s)
		return NULL;
	len = strlen(s) + 1;
	h = hash_bytes(s, len - 1, 0);
	idx = hashmap__find(&sp->map, h, str_eq, sp, s);
	if (idx != HASHMAP_NONE) {
		*out_idx = idx;
		return sp->strs[idx];
	}
	if (array__reserve((void **)&sp->strs, &sp->strs_cap, sp->nstrs + 1, sizeof(char *),
			   &sp->bytes) ||
	    array__reserve((void **)&sp->aux, &sp->aux_cap, sp->nstrs + 1, sizeof(char *), &sp->bytes) ||
	    hashmap__reserve(&sp->map, 1))
		goto nomem;
	copy = pool_alloc(sp, len);
	if (!copy)
		goto nomem;
	memcpy(copy, s, len);
	sp->strs[sp->nstrs] = copy;
	sp->aux[sp->nstrs] = NULL;
	*out_idx = (uint32_t)sp->nstrs;
	hashmap__insert(&sp->map, h, (uint32_t)sp->nstrs++);
	return copy;
nomem:
	errno = ENOMEM;
	return NULL;
}

const char *strpool__intern(struct strpool *sp, const char *s)
{
	uint32_t idx;

	return strpool__intern_idx(sp, s, &idx);
}

void strpool__reset(struct strpool *sp)
{
	for (size_t i = 0; i < sp->nchunks; i++)
		free(sp->chunks[i]);
	free(sp->chunks);
	free(sp->strs);
	free(sp->aux);
	hashmap__done(&sp->map);
	memset(sp, 0, sizeof(*sp));
}

void strpool__done(struct strpool *sp)
{
	if (sp)
		strpool__reset(sp);
}
