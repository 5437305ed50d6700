// SPDX-License-Identifier: Apache-2.0
/* gnuhash: the Bloom filter of a .gnu.hash section (see gnuhash.h). Layout:
 * nbuckets, symoffset, bloom_size, bloom_shift (32-bit words), then
 * bloom_size 64-bit words, then the buckets and chains (not read). */
#include <string.h>

#include "python/gnuhash.h"

uint32_t gnuhash__hash(const char *name)
{
	uint32_t h = 5381;

	for (const unsigned char *p = (const unsigned char *)name; *p; p++)
		h = h * 33 + *p;
	return h;
}

bool gnuhash__header(const void *hdr, uint64_t section_size, struct gnuhash_bloom *b)
{
	uint32_t w[4];

	if (!hdr || section_size < GNUHASH_HEADER_BYTES)
		return false;
	memcpy(w, hdr, sizeof(w));
	if (!w[2] || w[3] >= 32 || w[2] > (section_size - GNUHASH_HEADER_BYTES) / 8)
		return false;
	b->nwords = w[2];
	b->shift = w[3];
	return true;
}

uint64_t gnuhash__word_offset(const struct gnuhash_bloom *b, uint32_t h)
{
	return GNUHASH_HEADER_BYTES + (uint64_t)((h / 64) % b->nwords) * 8;
}

bool gnuhash__word_allows(const struct gnuhash_bloom *b, uint64_t word, uint32_t h)
{
	uint64_t mask = (1ULL << (h % 64)) | (1ULL << ((h >> b->shift) % 64));

	return (word & mask) == mask;
}

bool gnuhash__may_define(const void *data, size_t len, uint32_t h)
{
	struct gnuhash_bloom b;
	uint64_t word;

	if (!gnuhash__header(data, len, &b))
		return true;
	memcpy(&word, (const char *)data + gnuhash__word_offset(&b, h), sizeof(word));
	return gnuhash__word_allows(&b, word, h);
}
