// SPDX-License-Identifier: Apache-2.0
/* kallsyms: parses "%px %c %s[\t[%s]]" lines (kernel/kallsyms.c s_show).
 * Every symbol, text or not, bounds the extent of the text symbol before
 * it; only text symbols (t/T/w/W) are kept. */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "symbolize/kallsyms.h"
#include "util/fileio.h"
#include "util/parse.h"

/* Notes are a few hundred bytes; anything bigger is not a notes file. */
#define KERNEL_NOTES_MAX_BYTES (64u << 10)
#define NOTE_GNU_BUILD_ID 3

/* Longest name kept; KSYM_NAME_LEN is 512 since 6.1. */
#define KSYM_MAX_NAME 1024

struct kcand {
	uint64_t addr;
	const char *name;
	const char *mod; /* NULL for the core kernel */
	uint16_t name_len;
	uint16_t mod_len;
	char type;
};

static bool is_text(char t)
{
	return t == 't' || t == 'T' || t == 'w' || t == 'W';
}

/* One line [p, end) without its newline; 0 or -EINVAL. */
static int parse_line(const char *p, const char *end, struct kcand *c)
{
	const char *name, *tab;
	uint64_t addr = 0;
	int n = 0, d;

	while (p < end && (d = hexval(*p)) >= 0) {
		if (++n > 16)
			return -EINVAL;
		addr = addr << 4 | (uint64_t)d;
		p++;
	}
	if (!n || end - p < 3 || p[0] != ' ' || p[1] == ' ' || p[1] == '\t' || p[2] != ' ')
		return -EINVAL;
	c->addr = addr;
	c->type = p[1];
	name = p + 3;
	tab = memchr(name, '\t', (size_t)(end - name));
	c->mod = NULL;
	c->mod_len = 0;
	if (tab) {
		/* "\t[module]" */
		if (end - tab < 4 || tab[1] != '[' || end[-1] != ']' ||
		    end - tab - 3 > KSYM_MAX_NAME)
			return -EINVAL;
		c->mod = tab + 2;
		c->mod_len = (uint16_t)(end - tab - 3);
		end = tab;
	}
	if (end == name || end - name > KSYM_MAX_NAME || memchr(name, ' ', (size_t)(end - name)) ||
	    memchr(name, '\0', (size_t)(end - name)))
		return -EINVAL;
	c->name = name;
	c->name_len = (uint16_t)(end - name);
	return 0;
}

static int name_cmp(const struct kcand *a, const struct kcand *b)
{
	size_t n = a->name_len < b->name_len ? a->name_len : b->name_len;
	int r = memcmp(a->name, b->name, n);

	return r ? r : (int)a->name_len - (int)b->name_len;
}

static size_t underscores(const struct kcand *c)
{
	size_t n = 0;

	while (n < c->name_len && c->name[n] == '_')
		n++;
	return n;
}

/* By address; at one address text before non-text, then the preferred
 * name: global (upper case) before local, fewer leading underscores,
 * shorter, alphabetical. */
static int kcand_cmp(const void *pa, const void *pb)
{
	const struct kcand *a = pa, *b = pb;
	size_t ua, ub;

	if (a->addr != b->addr)
		return a->addr < b->addr ? -1 : 1;
	if (is_text(a->type) != is_text(b->type))
		return is_text(a->type) ? -1 : 1;
	if ((a->type >= 'a') != (b->type >= 'a'))
		return a->type >= 'a' ? 1 : -1;
	ua = underscores(a);
	ub = underscores(b);
	if (ua != ub)
		return ua < ub ? -1 : 1;
	return name_cmp(a, b);
}

static int build(struct kcand *c, size_t n, struct kallsyms *k)
{
	size_t ntext = 0, names_len = 0, pos = 0, m = 0;

	for (size_t i = 0; i < n; i++) {
		if (!is_text(c[i].type) || (i && c[i - 1].addr == c[i].addr))
			continue;
		ntext++;
		names_len += c[i].name_len + 1;
		if (c[i].mod)
			names_len += c[i].name_len + c[i].mod_len + 4;
	}
	if (!ntext)
		return -ENODATA;
	if (names_len > UINT32_MAX)
		return -EFBIG;
	k->syms = calloc(ntext, sizeof(*k->syms));
	k->names = malloc(names_len);
	if (!k->syms || !k->names)
		return -ENOMEM;

	for (size_t i = 0, j; i < n; i = j) {
		struct ksym *s;
		uint64_t end;

		/* [i, j) share one address; c[i] is the preferred name. */
		for (j = i + 1; j < n && c[j].addr == c[i].addr; j++)
			;
		if (!is_text(c[i].type))
			continue;
		end = j < n ? c[j].addr : c[i].addr + KALLSYMS_MAX_SYM_SIZE;
		s = &k->syms[m++];
		s->addr = c[i].addr;
		s->size = end - s->addr;
		if (s->size > KALLSYMS_MAX_SYM_SIZE || !s->size)
			s->size = KALLSYMS_MAX_SYM_SIZE;
		s->name = (uint32_t)pos;
		memcpy(k->names + pos, c[i].name, c[i].name_len);
		pos += c[i].name_len;
		k->names[pos++] = '\0';
		s->sys_name = s->name;
		if (c[i].mod) {
			s->sys_name = (uint32_t)pos;
			memcpy(k->names + pos, c[i].name, c[i].name_len);
			pos += c[i].name_len;
			memcpy(k->names + pos, " [", 2);
			pos += 2;
			memcpy(k->names + pos, c[i].mod, c[i].mod_len);
			pos += c[i].mod_len;
			k->names[pos++] = ']';
			k->names[pos++] = '\0';
		}
	}
	k->nsyms = m;
	k->names_len = names_len;
	k->lo = k->syms[0].addr;
	k->hi = k->syms[m - 1].addr + k->syms[m - 1].size;
	if (k->hi < k->lo) /* the last symbol wrapped past 2^64 */
		k->hi = UINT64_MAX;
	return 0;
}

int kallsyms__parse(const char *buf, size_t len, struct kallsyms **out)
{
	const char *p = buf, *end = buf + len, *nl;
	struct kallsyms *k = NULL;
	struct kcand *c = NULL, *nc;
	size_t n = 0, cap = 0, nlines = 0;
	int err = 0;

	for (; p < end; p = nl + 1) {
		struct kcand cand;

		nl = memchr(p, '\n', (size_t)(end - p));
		if (!nl)
			nl = end;
		if (parse_line(p, nl, &cand))
			continue;
		nlines++;
		/* Zero addresses are what a reader without CAP_SYSLOG sees. */
		if (!cand.addr)
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 4096;
			nc = realloc(c, cap * sizeof(*c));
			if (!nc) {
				err = -ENOMEM;
				goto cleanup;
			}
			c = nc;
		}
		c[n++] = cand;
	}
	if (!n) {
		err = nlines ? -EPERM : -ENODATA;
		goto cleanup;
	}
	qsort(c, n, sizeof(*c), kcand_cmp);
	k = calloc(1, sizeof(*k));
	if (!k) {
		err = -ENOMEM;
		goto cleanup;
	}
	err = build(c, n, k);
	if (err)
		goto cleanup;
	*out = k;
	k = NULL;
cleanup:
	kallsyms__free(k);
	free(c);
	return err;
}

int kallsyms__load(const char *path, struct kallsyms **out)
{
	size_t len = 0;
	char *buf = NULL;
	int err;

	err = read_file_all(path, KALLSYMS_MAX_BYTES, &buf, &len);
	if (!err)
		err = kallsyms__parse(buf, len, out);
	free(buf);
	return err;
}

void kallsyms__free(struct kallsyms *k)
{
	if (!k)
		return;
	free(k->syms);
	free(k->names);
	free(k);
}

const struct ksym *kallsyms__find(const struct kallsyms *k, uint64_t addr)
{
	size_t lo = 0, hi = k->nsyms;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (k->syms[mid].addr <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (!lo || addr - k->syms[lo - 1].addr >= k->syms[lo - 1].size)
		return NULL;
	return &k->syms[lo - 1];
}

size_t kallsyms__bytes(const struct kallsyms *k)
{
	return k ? sizeof(*k) + k->nsyms * sizeof(*k->syms) + k->names_len : 0;
}

static uint64_t align4(uint64_t x)
{
	return (x + 3) & ~(uint64_t)3;
}

int kernel_notes__build_id(const char *path, char *hex, size_t hexlen)
{
	static const char digits[] = "0123456789abcdef";
	const unsigned char *p;
	uint32_t hdr[3]; /* namesz, descsz, type */
	uint64_t off = 0, nsz, dsz;
	size_t len = 0;
	char *buf = NULL;
	int err;

	err = read_file_all(path, KERNEL_NOTES_MAX_BYTES, &buf, &len);
	if (err)
		return err;
	err = -ENOENT;
	p = (const unsigned char *)buf;
	/* Elf{32,64}_Nhdr are both three 32-bit words, 4-byte padded parts. */
	while (len - off >= sizeof(hdr)) {
		memcpy(hdr, p + off, sizeof(hdr));
		off += sizeof(hdr);
		nsz = align4(hdr[0]);
		dsz = align4(hdr[1]);
		if (nsz > len - off || dsz > len - off - nsz)
			break;
		if (hdr[2] == NOTE_GNU_BUILD_ID && hdr[0] == 4 && !memcmp(p + off, "GNU", 4) &&
		    hdr[1] > 0) {
			if ((uint64_t)hdr[1] * 2 + 1 > hexlen) {
				err = -ENOSPC;
				break;
			}
			for (uint32_t i = 0; i < hdr[1]; i++) {
				hex[2 * i] = digits[p[off + nsz + i] >> 4];
				hex[2 * i + 1] = digits[p[off + nsz + i] & 0xf];
			}
			hex[2 * hdr[1]] = '\0';
			err = 0;
			break;
		}
		off += nsz + dsz;
	}
	free(buf);
	return err;
}
