// SPDX-License-Identifier: Apache-2.0
/* hashmap: linear-probing index table; see hashmap.h for the contract. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util/hashmap.h"

#define HASHMAP_MIN_CAP 16

void hashmap__init(struct hashmap *h)
{
	memset(h, 0, sizeof(*h));
}

void hashmap__done(struct hashmap *h)
{
	if (!h)
		return;
	free(h->slots);
	hashmap__init(h);
}

/* Keep the load at or below 3/4: linear probing degrades fast above that. */
static bool fits(size_t cap, size_t n)
{
	return n <= cap - cap / 4;
}

int hashmap__reserve(struct hashmap *h, size_t n)
{
	struct hashmap_slot *slots;
	size_t cap, need;

	if (n > HASHMAP_MAX_ENTRIES - h->len)
		return -E2BIG;
	need = h->len + n;
	if (h->cap && fits(h->cap, need))
		return 0;
	/* HASHMAP_MAX_ENTRIES (2^30) keeps cap <= 2^31 and the shift below safe. */
	for (cap = h->cap ? h->cap * 2 : HASHMAP_MIN_CAP; !fits(cap, need); cap *= 2)
		;
	slots = calloc(cap, sizeof(*slots));
	if (!slots)
		return -ENOMEM;
	for (size_t i = 0; i < h->cap; i++) {
		size_t j;

		if (!h->slots[i].ref)
			continue;
		for (j = h->slots[i].hash & (cap - 1); slots[j].ref; j = (j + 1) & (cap - 1))
			;
		slots[j] = h->slots[i];
	}
	free(h->slots);
	h->slots = slots;
	h->cap = cap;
	return 0;
}

uint32_t hashmap__find(const struct hashmap *h, uint64_t hash, hashmap_eq_fn eq,
		       const void *ctx, const void *key)
{
	uint32_t h32 = (uint32_t)hash;

	if (!h->cap)
		return HASHMAP_NONE;
	/* Terminates: the table always has an empty slot (load <= 3/4). */
	for (size_t i = h32 & (h->cap - 1); h->slots[i].ref; i = (i + 1) & (h->cap - 1)) {
		const struct hashmap_slot *s = &h->slots[i];

		if (s->hash == h32 && eq(ctx, s->ref - 1, key))
			return s->ref - 1;
	}
	return HASHMAP_NONE;
}

void hashmap__insert(struct hashmap *h, uint64_t hash, uint32_t idx)
{
	uint32_t h32 = (uint32_t)hash;
	size_t i;

	for (i = h32 & (h->cap - 1); h->slots[i].ref; i = (i + 1) & (h->cap - 1))
		;
	h->slots[i].hash = h32;
	h->slots[i].ref = idx + 1;
	h->len++;
}

/* A 64-bit finalizer (xor-shift / multiply rounds) so that nearby inputs such
 * as consecutive addresses spread over the low bits used for the slot. */
uint64_t hash_u64(uint64_t x)
{
	x ^= x >> 32;
	x *= UINT64_C(0xd6e8feb86659fd93);
	x ^= x >> 32;
	x *= UINT64_C(0xd6e8feb86659fd93);
	x ^= x >> 32;
	return x;
}

uint64_t hash_bytes(const void *data, size_t len, uint64_t seed)
{
	const unsigned char *p = data;
	uint64_t h = seed ^ (len * UINT64_C(0x9e3779b97f4a7c15));
	uint64_t w;

	for (; len >= 8; p += 8, len -= 8) {
		memcpy(&w, p, 8);
		h = (h ^ w) * UINT64_C(0xff51afd7ed558ccd);
		h ^= h >> 29;
	}
	w = 0;
	memcpy(&w, p, len);
	return hash_u64(h ^ w);
}
