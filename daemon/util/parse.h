/* SPDX-License-Identifier: Apache-2.0 */
/* parse: strict parsers for command-line and configuration values. Each
 * returns 0 or -EINVAL (garbage, trailing characters, overflow) / -ERANGE. */
#ifndef PROFD_PARSE_H
#define PROFD_PARSE_H

#include <stdint.h>

/* "30s", "2m", "500ms", "1h", "1.5s", "250us"; a bare number is seconds.
 * Result in nanoseconds; must be > 0. */
int parse_duration_ns(const char *s, uint64_t *ns);
/* Decimal unsigned integer in [min, max]. */
int parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out);
/* "512", "4k", "64KiB", "1M", "2GiB" (powers of 1024). */
int parse_size(const char *s, uint64_t *bytes);

/* The value of hex digit c (either case), or -1. */
static inline int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

#endif
