// SPDX-License-Identifier: Apache-2.0
/* hashmap: interning through the index table, growth, forced collisions,
 * limits, and the spread of the hash helpers. */
#include <errno.h>
#include <stdlib.h>

#include "harness.h"
#include "util/hashmap.h"

#define N_KEYS 100000

struct store {
	uint64_t *keys;
	size_t n;
	bool collide;   /* hash every key to the same value */
};

static bool key_eq(const void *ctx, uint32_t idx, const void *key)
{
	const struct store *s = ctx;

	return s->keys[idx] == *(const uint64_t *)key;
}

static uint64_t key_hash(const struct store *s, uint64_t key)
{
	return s->collide ? 42 : hash_u64(key);
}

/* Interns key into s; returns its index. */
static uint32_t intern(struct hashmap *h, struct store *s, uint64_t key, bool *added)
{
	uint64_t hash = key_hash(s, key);
	uint32_t idx = hashmap__find(h, hash, key_eq, s, &key);

	*added = false;
	if (idx != HASHMAP_NONE)
		return idx;
	if (hashmap__reserve(h, 1))
		return HASHMAP_NONE;
	s->keys[s->n] = key;
	hashmap__insert(h, hash, s->n);
	*added = true;
	return s->n++;
}

static void run_intern(size_t nkeys, bool collide, const char *name)
{
	struct store s = { .keys = calloc(nkeys, sizeof(uint64_t)), .collide = collide };
	struct hashmap h;
	size_t bad = 0;
	bool added;

	hashmap__init(&h);
	if (!ASSERT_OK_PTR(s.keys, name))
		return;
	/* Keys 7, 14, ... so that absent keys sit between present ones. */
	for (size_t i = 0; i < nkeys; i++)
		bad += intern(&h, &s, (i + 1) * 7, &added) != i || !added;
	ASSERT_EQ(bad, 0, name);
	ASSERT_EQ(h.len, nkeys, name);
	ASSERT_TRUE(h.len <= h.cap - h.cap / 4, name);
	for (size_t i = 0; i < nkeys; i++) {
		uint64_t k = (i + 1) * 7, absent = k + 3;

		bad += intern(&h, &s, k, &added) != i || added;
		bad += hashmap__find(&h, key_hash(&s, absent), key_eq, &s, &absent) != HASHMAP_NONE;
	}
	ASSERT_EQ(bad, 0, name);
	ASSERT_EQ(s.n, nkeys, name);
	hashmap__done(&h);
	ASSERT_TRUE(!h.slots && !h.cap && !h.len, name);
	free(s.keys);
}

void test_hashmap_intern(void)
{
	run_intern(N_KEYS, false, "spread keys");
	/* Every key in one probe chain: slow but still exact. */
	run_intern(2000, true, "colliding keys");
}

void test_hashmap_limits(void)
{
	struct hashmap h = { 0 };
	uint64_t key = 1;

	ASSERT_EQ(hashmap__find(&h, 1, key_eq, NULL, &key), HASHMAP_NONE, "empty find");
	ASSERT_OK(hashmap__reserve(&h, 0), "reserve 0");
	ASSERT_EQ(hashmap__reserve(&h, (size_t)HASHMAP_MAX_ENTRIES + 1), -E2BIG, "too many");
	ASSERT_TRUE(h.cap == 0 || h.len == 0, "unchanged");
	ASSERT_OK(hashmap__reserve(&h, 100), "reserve 100");
	ASSERT_TRUE(h.cap >= 134 && (h.cap & (h.cap - 1)) == 0, "power of two, load <= 3/4");
	hashmap__done(&h);
	hashmap__done(NULL);
}

void test_hashmap_hashes(void)
{
	unsigned buckets[1024] = { 0 }, max = 0;

	ASSERT_TRUE(hash_bytes("a", 1, 0) != hash_bytes("a\0", 2, 0), "length matters");
	ASSERT_TRUE(hash_bytes("", 0, 0) != hash_bytes("", 0, 1), "seed matters");
	ASSERT_TRUE(hash_bytes("abcdefghij", 10, 0) == hash_bytes("abcdefghij", 10, 0), "stable");
	ASSERT_TRUE(hash_bytes("abcdefghij", 10, 0) != hash_bytes("abcdefghiJ", 10, 0), "tail byte");
	ASSERT_TRUE(hash_combine(1, 2) != hash_combine(2, 1), "combine is ordered");
	/* Page-aligned addresses (low bits all zero) must still fill the low
	 * bits the table indexes with: 64k keys over 1024 buckets, mean 64. */
	for (uint64_t i = 0; i < 65536; i++)
		buckets[hash_u64(0x7f0000000000ULL + (i << 12)) & 1023]++;
	for (int i = 0; i < 1024; i++)
		max = buckets[i] > max ? buckets[i] : max;
	ASSERT_TRUE(max < 128, "spread of hash_u64");
}
