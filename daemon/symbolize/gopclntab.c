// SPDX-License-Identifier: Apache-2.0
/* gopclntab: the layouts follow Go's runtime/symtab.go and debug/gosym.
 * Header: magic u32, two zero bytes, the instruction quantum, the pointer
 * size, then pointer-sized words. The function table holds nfunc
 * (entry, offset of _func) pairs and a final end address; an _func starts
 * with its entry and the offset of its name. Every offset read from the
 * table is checked against its length before use. */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "symbolize/elf.h"
#include "symbolize/gopclntab.h"

#define GOPCLNTAB_HDR 8 /* magic, pad, pad, quantum, ptrsize */

struct tab {
	const uint8_t *p;
	size_t len;
	unsigned ps; /* pointer size: 4 or 8 */
};

static bool get32(const struct tab *t, uint64_t off, uint32_t *v)
{
	const uint8_t *b;

	if (off > t->len || t->len - off < 4)
		return false;
	b = t->p + off;
	*v = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
	return true;
}

static bool getptr(const struct tab *t, uint64_t off, uint64_t *v)
{
	uint32_t lo, hi = 0;

	if (!get32(t, off, &lo) || (t->ps == 8 && !get32(t, off + 4, &hi)))
		return false;
	*v = (uint64_t)hi << 32 | lo;
	return true;
}

/* A NUL-terminated name at off inside the table, or NULL. */
static const char *name_at(const struct tab *t, uint64_t off)
{
	if (off >= t->len || !memchr(t->p + off, '\0', t->len - off))
		return NULL;
	return (const char *)t->p + off;
}

int gopclntab__symbols(const uint8_t *p, size_t len, uint64_t text, struct elf_sym_in **out,
		       size_t *nout)
{
	struct tab t = { .p = p, .len = len };
	uint64_t nfunc, text_start = 0, names = 0, functab, funcbase, word;
	struct elf_sym_in *syms = NULL;
	unsigned field; /* bytes of one functab field */
	uint32_t magic;
	size_t n = 0;
	int err = 0;

	if (len < GOPCLNTAB_HDR + 8 || !get32(&t, 0, &magic) || p[4] || p[5] ||
	    (p[6] != 1 && p[6] != 2 && p[6] != 4) || (p[7] != 4 && p[7] != 8))
		return -ENOEXEC;
	t.ps = p[7];
	if (!getptr(&t, GOPCLNTAB_HDR, &nfunc))
		return -EINVAL;
	switch (magic) {
	case GOPCLNTAB_MAGIC_118:
	case GOPCLNTAB_MAGIC_120:
		/* words: nfunc, nfiles, textStart, funcname, cu, file, pc, pcln */
		if (!getptr(&t, GOPCLNTAB_HDR + 2 * t.ps, &text_start) ||
		    !getptr(&t, GOPCLNTAB_HDR + 3 * t.ps, &names) ||
		    !getptr(&t, GOPCLNTAB_HDR + 7 * t.ps, &functab))
			return -EINVAL;
		if (text)
			text_start = text;
		funcbase = functab;
		field = 4;
		break;
	case GOPCLNTAB_MAGIC_116:
		/* words: nfunc, nfiles, funcname, cu, file, pc, pcln */
		if (!getptr(&t, GOPCLNTAB_HDR + 2 * t.ps, &names) ||
		    !getptr(&t, GOPCLNTAB_HDR + 6 * t.ps, &functab))
			return -EINVAL;
		funcbase = functab;
		field = t.ps;
		break;
	case GOPCLNTAB_MAGIC_12:
		/* names and _func offsets are relative to the table itself */
		functab = GOPCLNTAB_HDR + t.ps;
		funcbase = 0;
		field = t.ps;
		break;
	default:
		return -ENOEXEC;
	}
	if (!nfunc)
		goto done;
	if (nfunc > GOPCLNTAB_MAX_FUNCS || functab > len ||
	    (len - functab) / (2 * field) < nfunc)
		return -EINVAL;
	syms = calloc(nfunc, sizeof(*syms));
	if (!syms)
		return -ENOMEM;
	for (uint64_t i = 0; i < nfunc; i++) {
		uint64_t ent = functab + i * 2 * field, entry, next, fo;
		uint32_t nameoff, v;
		const char *name;

		/* (entry, funcoff) pairs, then the next entry (or the end) */
		if (field == 4) {
			if (!get32(&t, ent, &v))
				break;
			entry = text_start + v;
			if (!get32(&t, ent + 2 * field, &v))
				break;
			next = text_start + v;
			if (!get32(&t, ent + field, &v))
				break;
			fo = v;
		} else {
			if (!getptr(&t, ent, &entry) || !getptr(&t, ent + 2 * field, &next) ||
			    !getptr(&t, ent + field, &fo))
				break;
		}
		/* _func: entry (u32 offset since 1.18, else a pointer), nameoff */
		word = funcbase + fo + (magic == GOPCLNTAB_MAGIC_118 || magic == GOPCLNTAB_MAGIC_120 ?
						4 : t.ps);
		if (funcbase + fo < funcbase || !get32(&t, word, &nameoff))
			continue;
		name = name_at(&t, names + nameoff);
		if (!name || !name[0] || next <= entry)
			continue;
		syms[n++] = (struct elf_sym_in){ .addr = entry, .size = next - entry, .name = name,
						 .global = 1 };
	}
done:
	if (!n) {
		free(syms);
		syms = NULL;
		err = nfunc ? -EINVAL : 0;
		if (err)
			return err;
	}
	*out = syms;
	*nout = n;
	return 0;
}
