/* SPDX-License-Identifier: Apache-2.0 */
/* strpool: interned copies of the names a lookup returns when their source
 * may go away first (DWARF closed to make room, a perf map read again,
 * demangled names). Each distinct string is stored once; all of them live
 * until strpool__reset(). Internal to symbolize/ (and its unit tests). */
#ifndef PROFD_SYMBOLIZE_STRPOOL_H
#define PROFD_SYMBOLIZE_STRPOOL_H

#include <stddef.h>
#include <stdint.h>

#include "util/hashmap.h"

#define STRPOOL_CHUNK (64u << 10)

struct strpool {
	char **chunks;
	size_t nchunks, chunks_cap;
	size_t chunk_used; /* bytes used in the last chunk */
	const char **strs; /* by index, for the hash table */
	const char **aux;  /* by index: a value the caller derived from it */
	size_t nstrs, strs_cap, aux_cap;
	struct hashmap map;
	size_t bytes;
};

/* An all-zero strpool is empty and ready. Returns the pooled copy of s, s
 * itself for NULL, or NULL with errno ENOMEM. */
const char *strpool__intern(struct strpool *sp, const char *s);
/* strpool__intern() that also says where the string is (*idx), for
 * strpool__aux(). */
const char *strpool__intern_idx(struct strpool *sp, const char *s, uint32_t *idx);
/* A caller's value kept with pooled string idx (NULL until set), such as
 * its demangled form, so that it is derived once per string. */
static inline const char **strpool__aux(struct strpool *sp, uint32_t idx)
{
	return &sp->aux[idx];
}

/* Forget every string (pointers handed out become invalid). */
void strpool__reset(struct strpool *sp);
void strpool__done(struct strpool *sp);

#endif
