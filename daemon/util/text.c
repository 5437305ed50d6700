// SPDX-License-Identifier: Apache-2.0
/* text: UTF-8 validation and name sanitizers. */
#include <string.h>

#include "util/text.h"

/* Length of the well-formed UTF-8 sequence at s (at most len bytes), or 0. */
static size_t utf8_seq_len(const unsigned char *s, size_t len)
{
	unsigned char c = s[0];
	size_t n, i;
	unsigned cp;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		n = 2, cp = c & 0x1f;
	else if (c >= 0xe0 && c <= 0xef)
		n = 3, cp = c & 0x0f;
	else if (c >= 0xf0 && c <= 0xf4)
		n = 4, cp = c & 0x07;
	else
		return 0;       /* continuation byte, 0xc0/0xc1 overlong, > 0xf4 */
	if (n > len)
		return 0;
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)))
		return 0;       /* overlong or out of range */
	if (cp >= 0xd800 && cp <= 0xdfff)
		return 0;       /* UTF-16 surrogate */
	return n;
}

bool utf8_valid(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, n;

	while (i < len) {
		n = utf8_seq_len(p + i, len - i);
		if (!n)
			return false;
		i += n;
	}
	return true;
}

size_t utf8_sanitize(char *dst, size_t dstsz, const char *src)
{
	const unsigned char *p = (const unsigned char *)src;
	size_t len = strlen(src), i = 0, o = 0, n;

	if (!dstsz)
		return 0;
	while (i < len) {
		n = utf8_seq_len(p + i, len - i);
		if (!n || p[i] < 0x20 || p[i] == 0x7f) {
			if (o + 1 >= dstsz)
				break;
			dst[o++] = '?';
			i++;
			continue;
		}
		if (o + n >= dstsz)
			break;
		memcpy(dst + o, p + i, n);
		o += n;
		i += n;
	}
	dst[o] = '\0';
	return o;
}

size_t path_component_sanitize(char *dst, size_t dstsz, const char *src)
{
	size_t o = 0;

	if (dstsz < 2) {
		if (dstsz)
			dst[0] = '\0';
		return 0;
	}
	for (; *src && o + 1 < dstsz; src++) {
		unsigned char c = *src;
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			  (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '+' || c == '-';

		dst[o++] = ok ? c : '_';
	}
	if (!o)
		dst[o++] = '_';
	/* No hidden names and so no "." or "..": a leading dot becomes '_'. */
	if (dst[0] == '.')
		dst[0] = '_';
	dst[o] = '\0';
	return o;
}
