/* SPDX-License-Identifier: Apache-2.0 */
/* gnuhash: whether an ELF's .gnu.hash Bloom filter allows a symbol name,
 * so that the Python probe rejects a file that exports no _PyRuntime
 * (nearly every library a process maps) from two small reads of it
 * instead of walking every dynamic symbol. The section's bytes are
 * untrusted: anything malformed "allows" (the caller then looks at the
 * symbols themselves). ELF64, host byte order. */
#ifndef PROFD_PYTHON_GNUHASH_H
#define PROFD_PYTHON_GNUHASH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GNUHASH_HEADER_BYTES 16

/* The GNU (dl_new_hash) hash of name. */
uint32_t gnuhash__hash(const char *name);

struct gnuhash_bloom {
	uint32_t nwords; /* 64-bit Bloom words */
	uint32_t shift;
};

/* The filter's shape from the section's first GNUHASH_HEADER_BYTES and its
 * size. false: malformed (no words, a shift of 32 or more, words past the
 * section's end). */
bool gnuhash__header(const void *hdr, uint64_t section_size, struct gnuhash_bloom *b);
/* Where in the section the Bloom word for h is (8 bytes). */
uint64_t gnuhash__word_offset(const struct gnuhash_bloom *b, uint32_t h);
/* false: that word says no symbol with hash h is defined. */
bool gnuhash__word_allows(const struct gnuhash_bloom *b, uint64_t word, uint32_t h);

/* The three over a whole section in memory (len bytes). */
bool gnuhash__may_define(const void *data, size_t len, uint32_t h);

#endif
