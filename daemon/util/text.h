/* SPDX-License-Identifier: Apache-2.0 */
/* text: UTF-8 checks and the sanitizers every name that leaves the agent goes
 * through (kernel comm and /proc strings are raw bytes; Pyroscope and file
 * systems want something narrower). */
#ifndef PROFD_TEXT_H
#define PROFD_TEXT_H

#include <stdbool.h>
#include <stddef.h>

/* True if s[0..len) is well-formed UTF-8 (no overlongs, no surrogates,
 * nothing above U+10FFFF). */
bool utf8_valid(const char *s, size_t len);

/* Copy src into dst (size dstsz > 0) as valid UTF-8: every byte that does not
 * start a well-formed sequence, and every control character, becomes '?'.
 * Truncates on a character boundary. Returns the length written. */
size_t utf8_sanitize(char *dst, size_t dstsz, const char *src);

/* Make src usable as one path component: every byte outside [A-Za-z0-9._+-]
 * (so '/', control characters, non-ASCII) becomes '_', "" becomes "_", and a
 * leading '.' becomes '_', so the result is never ".", ".." or hidden. At
 * most dstsz-1 bytes (dstsz >= 2). Returns the length written. */
size_t path_component_sanitize(char *dst, size_t dstsz, const char *src);

#endif
