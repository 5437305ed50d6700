/* SPDX-License-Identifier: Apache-2.0 */
/* hashmap: open-addressing hash index over entries the caller stores.
 *
 * The table holds only (hash, index) pairs. Keys live in the caller's own
 * dense array and the caller supplies the equality test, so one small table
 * can intern strings, structs or variable-length arrays without copying the
 * keys, and the caller's entries stay in insertion order (handy for 1..N
 * ids). Linear probing over a power-of-two table kept at most 3/4 full;
 * entries are never removed (interning only).
 *
 * Allocation happens only in hashmap__reserve(), so a caller can reserve
 * first, then update its own arrays and insert without any failure path.
 * Not thread-safe.
 */
#ifndef PROFD_HASHMAP_H
#define PROFD_HASHMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Indexes are uint32_t; the table refuses to grow past this many entries. */
#define HASHMAP_MAX_ENTRIES (UINT32_C(1) << 30)
#define HASHMAP_NONE UINT32_MAX

struct hashmap_slot {
	uint32_t hash;  /* low 32 bits of the caller's hash */
	uint32_t ref;   /* caller index + 1; 0 = empty slot */
};

struct hashmap {
	struct hashmap_slot *slots;
	size_t cap;     /* 0 or a power of two */
	size_t len;
};

/* Does entry idx (in the caller's storage, ctx) equal key? */
typedef bool (*hashmap_eq_fn)(const void *ctx, uint32_t idx, const void *key);

/* An all-zero struct hashmap is a valid empty table. */
void hashmap__init(struct hashmap *h);
/* Frees the slots; h is empty and reusable afterwards. NULL-safe. */
void hashmap__done(struct hashmap *h);
/* Makes room for n more inserts. 0, -ENOMEM, or -E2BIG past
 * HASHMAP_MAX_ENTRIES. On failure the table is unchanged. */
int hashmap__reserve(struct hashmap *h, size_t n);
/* The index stored under hash whose entry eq() says equals key, or HASHMAP_NONE. */
uint32_t hashmap__find(const struct hashmap *h, uint64_t hash, hashmap_eq_fn eq,
		       const void *ctx, const void *key);
/* Records idx under hash. Needs room from hashmap__reserve(); never fails and
 * does not look for duplicates (call hashmap__find() first). */
void hashmap__insert(struct hashmap *h, uint64_t hash, uint32_t idx);

/* Hashes for callers. Not cryptographic: the inputs (addresses, symbol names)
 * are not chosen to attack the table, and a bad case only costs probe time. */
uint64_t hash_bytes(const void *data, size_t len, uint64_t seed);
uint64_t hash_u64(uint64_t x);
static inline uint64_t hash_combine(uint64_t h, uint64_t v)
{
	/* Odd multiplier: bijective, so (h, v) and (v, h) hash apart. */
	return hash_u64(h * UINT64_C(0x9e3779b97f4a7c15) + v);
}

#endif
