/* SPDX-License-Identifier: Apache-2.0 */
/* strpool: interned copies of the names a lookup returns when their source
 * may go away first (DWARF closed to make room, a perf map read again,
 * demangled names). Each distinct string is stored once; all of them live
 * until strpool__reset(). Internal to symbolize/. */
#ifndef PROFD_SYMBOLIZE_STRPOOL_H
#define PROFD_SYMBOLIZE_STRPOOL_H

#include <stddef.h>

#include "util/hashmap.h"

#define STRPOOL_CHUNK (64u << 10)

struct strpool {
	char **chunks;
	size_t nchunks, chunks_cap;
	size_t chunk_used; /* bytes used in the last chunk */
	const char **strs; /* by index, for the hash table */
	size_t nstrs, strs_cap;
	struct hashmap map;
	size_t bytes;
};

/* An all-zero strpool is empty and ready. Returns the pooled copy of s, s
 * itself for NULL, or NULL with errno ENOMEM. */
const char *strpool__intern(struct strpool *sp, const char *s);
/* Forget every string (pointers handed out become invalid). */
void strpool__reset(struct strpool *sp);
void strpool__done(struct strpool *sp);

#endif
