// SPDX-License-Identifier: Apache-2.0
/* demangle: the Itanium demangler of libstdc++ does the decoding; this file
 * only recognizes what to hand it and trims its output to pprof's
 * simplified form (no parameters, template arguments or return type), which
 * is what `go tool pprof` shows when it demangles a name itself. */
#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "symbolize/demangle.h"

/* libstdc++ (cxxabi.h), declared here so that C code can call it. */
extern char *__cxa_demangle(const char *mangled, char *buf, size_t *len, int *status);

#define RUST_HASH_LEN 16 /* "17h" + 16 hex digits + "E" ends a legacy name */

static bool starts(const char *s, const char *prefix)
{
	return !strncmp(s, prefix, strlen(prefix));
}

static bool is_ident(char c)
{
	return isalnum((unsigned char)c) || c == '_' || c == '$';
}

/* Index just past the bracket that closes s[i] (open), or n. Inside
 * template arguments, parentheses hide '>' ("foo<(1>2)>"). */
static size_t skip_group(const char *s, size_t i, size_t n, char open, char close)
{
	int depth = 0, paren = 0;

	for (; i < n; i++) {
		char c = s[i];

		if (open == '<' && c == '(')
			paren++;
		else if (open == '<' && c == ')' && paren)
			paren--;
		else if (paren)
			continue;
		else if (c == open)
			depth++;
		else if (c == close && --depth == 0)
			return i + 1;
	}
	return n;
}

/* Qualifiers that may follow a parameter list. */
static size_t skip_quals(const char *s, size_t i, size_t n)
{
	static const char *const quals[] = { " const", " volatile", " &&", " &", " noexcept",
					     " restrict" };
	bool again = true;

	while (again && i < n) {
		again = false;
		for (size_t k = 0; k < sizeof(quals) / sizeof(quals[0]); k++) {
			size_t l = strlen(quals[k]);

			if (i + l <= n && !strncmp(s + i, quals[k], l) &&
			    (i + l == n || !is_ident(s[i + l]))) {
				i += l;
				again = true;
				break;
			}
		}
	}
	return i;
}

/* Copy an operator name ("operator()", "operator<<=", "operator new[]",
 * "operator unsigned long") from s[i], which starts "operator". */
static size_t copy_operator(const char *s, size_t i, size_t n, char *out, size_t *o)
{
	static const char opchars[] = "<>=!+-*/%&|^~,";

	memcpy(out + *o, "operator", 8);
	*o += 8;
	i += 8;
	if (i + 1 < n && ((s[i] == '(' && s[i + 1] == ')') || (s[i] == '[' && s[i + 1] == ']'))) {
		out[(*o)++] = s[i++];
		out[(*o)++] = s[i++];
		return i;
	}
	if (i < n && strchr(opchars, s[i])) {
		while (i < n && s[i] && strchr(opchars, s[i]))
			out[(*o)++] = s[i++];
		return i;
	}
	/* new, delete, a conversion or literal operator: up to the params */
	while (i < n && s[i] != '(') {
		if (s[i] == '<') {
			i = skip_group(s, i, n, '<', '>');
			continue;
		}
		out[(*o)++] = s[i++];
	}
	return i;
}

/* pprof's simplified form of a demangled C++ name, in out (>= n + 1). */
static void simplify(const char *s, size_t n, char *out)
{
	size_t i = 0, o = 0, name_start = 0;

	while (i < n) {
		char c = s[i];

		if (c == '(' && starts(s + i, "(anonymous namespace)")) {
			memcpy(out + o, "(anonymous namespace)", 21);
			o += 21;
			i += 21;
		} else if (c == 'o' && starts(s + i, "operator") && (i == 0 || !is_ident(s[i - 1])) &&
			   (i + 8 >= n || !is_ident(s[i + 8]))) {
			i = copy_operator(s, i, n, out, &o);
		} else if (c == '<') {
			i = skip_group(s, i, n, '<', '>');
		} else if (c == '(') {
			i = skip_quals(s, skip_group(s, i, n, '(', ')'), n);
		} else if (c == '{') {
			/* {lambda(int)#1}, {unnamed type#1}: kept whole */
			size_t end = skip_group(s, i, n, '{', '}');

			memcpy(out + o, s + i, end - i);
			o += end - i;
			i = end;
		} else if (c == ' ') {
			/* a space outside any group ends a return type */
			i++;
			name_start = o;
		} else {
			out[o++] = c;
			i++;
		}
	}
	out[o] = '\0';
	if (name_start && name_start < o)
		memmove(out, out + name_start, o - name_start + 1);
}

static int hexdigit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* A legacy Rust name ends "17h" + 16 lowercase hex digits + "E". */
static bool rust_legacy(const char *m, size_t len)
{
	const char *h;

	if (len < 3 + 3 + RUST_HASH_LEN + 1 || m[len - 1] != 'E')
		return false;
	h = m + len - 1 - RUST_HASH_LEN - 3;
	if (strncmp(h, "17h", 3))
		return false;
	for (int i = 0; i < RUST_HASH_LEN; i++)
		if (hexdigit(h[3 + i]) < 0)
			return false;
	return true;
}

/* Undo Rust's legacy escapes in place: "$LT$" → '<', "$u20$" → ' ',
 * ".." → "::", and a component's leading "_$" → "$". */
static void rust_unescape(char *s)
{
	static const struct {
		const char *code;
		char c;
	} esc[] = { { "SP", '@' }, { "BP", '*' }, { "RF", '&' }, { "LT", '<' }, { "GT", '>' },
		    { "LP", '(' }, { "RP", ')' }, { "C", ',' } };
	char *r = s, *w = s;

	while (*r) {
		bool at_start = r == s || (r - s >= 2 && r[-1] == ':' && r[-2] == ':');
		char *end;

		if (at_start && r[0] == '_' && r[1] == '$') {
			r++;
			continue;
		}
		if (r[0] == '.' && r[1] == '.') {
			*w++ = ':';
			*w++ = ':';
			r += 2;
			continue;
		}
		if (r[0] == '$' && (end = strchr(r + 1, '$'))) {
			size_t l = (size_t)(end - r - 1);
			bool done = false;

			for (size_t k = 0; k < sizeof(esc) / sizeof(esc[0]); k++) {
				if (strlen(esc[k].code) == l && !strncmp(r + 1, esc[k].code, l)) {
					*w++ = esc[k].c;
					done = true;
					break;
				}
			}
			if (!done && l >= 2 && l <= 3 && r[1] == 'u') {
				int v = 0, ok = 1;

				for (size_t k = 2; k <= l; k++) {
					int d = hexdigit(r[k]);

					ok &= d >= 0;
					v = v * 16 + (d < 0 ? 0 : d);
				}
				if (ok && v >= 0x20 && v < 0x7f) {
					*w++ = (char)v;
					done = true;
				}
			}
			if (done) {
				r = end + 1;
				continue;
			}
		}
		*w++ = *r++;
	}
	*w = '\0';
}

char *sym_demangle(const char *name, enum sym_demangle_style style)
{
	char *full = NULL, *out = NULL, *clone;
	size_t len, n;
	int status = -1;

	if (!name || style == SYM_DEMANGLE_NONE)
		return NULL;
	len = strnlen(name, DEMANGLE_MAX_INPUT + 1);
	if (len > DEMANGLE_MAX_INPUT || len < 3 || !starts(name, "_Z"))
		return NULL;
	full = __cxa_demangle(name, NULL, NULL, &status);
	if (status || !full) {
		free(full);
		return NULL;
	}
	if (rust_legacy(name, len)) {
		n = strlen(full);
		/* "...::h0123456789abcdef" */
		if (n > RUST_HASH_LEN + 3 && !strncmp(full + n - RUST_HASH_LEN - 3, "::h", 3))
			full[n - RUST_HASH_LEN - 3] = '\0';
		rust_unescape(full);
		return full;
	}
	/* GCC's clones: "f(int) [clone .constprop.0] [clone .isra.0]" */
	clone = strstr(full, " [clone ");
	if (clone)
		*clone = '\0';
	if (style == SYM_DEMANGLE_FULL)
		return full;
	n = strlen(full);
	out = malloc(n + 1);
	if (out) {
		simplify(full, n, out);
		if (!out[0]) /* nothing left: better the full name */
			strcpy(out, full);
	}
	free(full);
	return out;
}
