// SPDX-License-Identifier: Apache-2.0
/* gopclntab: the layouts follow Go's runtime/symtab.go and debug/gosym.
 * Header: magic u32, two zero bytes, the instruction quantum, the pointer
 * size, then pointer-sized words giving the table's parts. The function
 * table holds nfunc (entry, offset of _func) pairs and a final end address;
 * an _func starts with its entry, then 32-bit fields: name offset, args,
 * deferreturn, pcsp, pcfile, pcln, npcdata, cu offset. pcfile and pcln are
 * offsets into pctab of varint-coded (value delta, pc delta) runs. Every
 * offset read from the table is checked against its length before use. */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "binary/elf.h"
#include "symbolize/gopclntab.h"

#define GOPCLNTAB_HDR 8 /* magic, pad, pad, quantum, ptrsize */
/* _func fields after the entry (gosym's funcData.field numbering). */
#define FUNC_NAMEOFF 1
#define FUNC_PCFILE 5
#define FUNC_PCLN 6
#define FUNC_CUOFF 8
/* A pc-value run longer than this is not a real table. */
#define PCVALUE_MAX_STEPS (1u << 20)

struct gopclntab {
	const uint8_t *p;
	size_t len;
	uint8_t *owned;   /* p, when the table owns it */
	uint32_t magic;
	unsigned ps;      /* pointer size: 4 or 8 */
	unsigned quantum; /* instruction size unit of pc deltas */
	unsigned field;   /* bytes of one functab field */
	uint64_t nfunc;
	uint64_t text;    /* base of entry offsets (1.18+) */
	uint64_t names, cutab, filetab, pctab, functab, funcbase;
};

static bool get32(const struct gopclntab *t, uint64_t off, uint32_t *v)
{
	const uint8_t *b;

	if (off > t->len || t->len - off < 4)
		return false;
	b = t->p + off;
	*v = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
	return true;
}

static bool getptr(const struct gopclntab *t, uint64_t off, uint64_t *v)
{
	uint32_t lo, hi = 0;

	if (!get32(t, off, &lo) || (t->ps == 8 && !get32(t, off + 4, &hi)))
		return false;
	*v = (uint64_t)hi << 32 | lo;
	return true;
}

static bool word(const struct gopclntab *t, unsigned w, uint64_t *v)
{
	return getptr(t, GOPCLNTAB_HDR + (uint64_t)w * t->ps, v);
}

/* A NUL-terminated string at off inside the table, or NULL. */
static const char *str_at(const struct gopclntab *t, uint64_t off)
{
	if (off >= t->len || !memchr(t->p + off, '\0', t->len - off))
		return NULL;
	return (const char *)t->p + off;
}

static bool new_layout(const struct gopclntab *t)
{
	return t->magic == GOPCLNTAB_MAGIC_118 || t->magic == GOPCLNTAB_MAGIC_120;
}

static int parse_header(struct gopclntab *t, uint64_t text)
{
	const uint8_t *p = t->p;

	if (t->len < GOPCLNTAB_HDR + 8 || !get32(t, 0, &t->magic) || p[4] || p[5] ||
	    (p[6] != 1 && p[6] != 2 && p[6] != 4) || (p[7] != 4 && p[7] != 8))
		return -ENOEXEC;
	t->quantum = p[6];
	t->ps = p[7];
	if (!word(t, 0, &t->nfunc))
		return -EINVAL;
	switch (t->magic) {
	case GOPCLNTAB_MAGIC_118:
	case GOPCLNTAB_MAGIC_120:
		/* nfunc, nfiles, textStart, funcname, cu, file, pc, pcln */
		if (!word(t, 2, &t->text) || !word(t, 3, &t->names) || !word(t, 4, &t->cutab) ||
		    !word(t, 5, &t->filetab) || !word(t, 6, &t->pctab) || !word(t, 7, &t->functab))
			return -EINVAL;
		/* the table's copy may be unrelocated: trust .text */
		if (text)
			t->text = text;
		t->funcbase = t->functab;
		t->field = 4;
		break;
	case GOPCLNTAB_MAGIC_116:
		/* nfunc, nfiles, funcname, cu, file, pc, pcln */
		if (!word(t, 2, &t->names) || !word(t, 3, &t->cutab) || !word(t, 4, &t->filetab) ||
		    !word(t, 5, &t->pctab) || !word(t, 6, &t->functab))
			return -EINVAL;
		t->funcbase = t->functab;
		t->field = t->ps;
		break;
	case GOPCLNTAB_MAGIC_12: {
		uint32_t fileoff;

		/* one table: names, _funcs, pc-values relative to its start;
		 * the file table's offset follows the function table */
		t->functab = GOPCLNTAB_HDR + t->ps;
		t->field = t->ps;
		if (t->nfunc > GOPCLNTAB_MAX_FUNCS ||
		    !get32(t, t->functab + (t->nfunc * 2 + 1) * t->ps, &fileoff))
			return -EINVAL;
		t->filetab = fileoff;
		break;
	}
	default:
		return -ENOEXEC;
	}
	if (t->nfunc > GOPCLNTAB_MAX_FUNCS || t->functab > t->len ||
	    (t->len - t->functab) / (2 * t->field) < t->nfunc)
		return -EINVAL;
	return 0;
}

/* Entry of function i (i == nfunc: the end of the last one). */
static bool func_pc(const struct gopclntab *t, uint64_t i, uint64_t *pc)
{
	uint64_t off = t->functab + i * 2 * t->field;
	uint32_t v;

	if (t->field == 8)
		return getptr(t, off, pc);
	if (!get32(t, off, &v))
		return false;
	*pc = t->text + v;
	return true;
}

/* Offset of function i's _func. */
static bool func_data(const struct gopclntab *t, uint64_t i, uint64_t *off)
{
	uint64_t fo;
	uint32_t v;

	if (t->field == 8) {
		if (!getptr(t, t->functab + i * 2 * t->field + t->field, &fo))
			return false;
	} else {
		if (!get32(t, t->functab + i * 2 * t->field + t->field, &v))
			return false;
		fo = v;
	}
	*off = t->funcbase + fo;
	return *off >= t->funcbase;
}

/* 32-bit field n of the _func at off. */
static bool func_field(const struct gopclntab *t, uint64_t off, unsigned n, uint32_t *v)
{
	return get32(t, off + (new_layout(t) ? 4 : t->ps) + (uint64_t)(n - 1) * 4, v);
}

int gopclntab__symbols(const uint8_t *p, size_t len, uint64_t text, struct elf_sym_in **out,
		       size_t *nout)
{
	struct gopclntab t = { .p = p, .len = len };
	struct elf_sym_in *syms = NULL;
	size_t n = 0;
	int err;

	err = parse_header(&t, text);
	if (err)
		return err;
	if (t.nfunc) {
		syms = calloc(t.nfunc, sizeof(*syms));
		if (!syms)
			return -ENOMEM;
	}
	for (uint64_t i = 0; i < t.nfunc; i++) {
		uint64_t entry, next, fd;
		uint32_t nameoff;
		const char *name;

		if (!func_pc(&t, i, &entry) || !func_pc(&t, i + 1, &next))
			break;
		if (!func_data(&t, i, &fd) || !func_field(&t, fd, FUNC_NAMEOFF, &nameoff))
			continue;
		name = str_at(&t, t.names + nameoff);
		if (!name || !name[0] || next <= entry)
			continue;
		syms[n++] = (struct elf_sym_in){ .addr = entry, .size = next - entry, .name = name,
						 .global = 1 };
	}
	if (!n) {
		free(syms);
		syms = NULL;
		if (t.nfunc)
			return -EINVAL;
	}
	*out = syms;
	*nout = n;
	return 0;
}

int gopclntab__open(uint8_t *tab, size_t len, uint64_t text, struct gopclntab **out)
{
	struct gopclntab *t = calloc(1, sizeof(*t));
	int err;

	if (!t) {
		free(tab);
		return -ENOMEM;
	}
	t->p = t->owned = tab;
	t->len = len;
	err = parse_header(t, text);
	if (err) {
		gopclntab__free(t);
		return err;
	}
	*out = t;
	return 0;
}

void gopclntab__free(struct gopclntab *t)
{
	if (!t)
		return;
	free(t->owned);
	free(t);
}

size_t gopclntab__bytes(const struct gopclntab *t)
{
	return t ? sizeof(*t) + t->len : 0;
}

static bool varint(const struct gopclntab *t, uint64_t *off, uint32_t *v)
{
	uint32_t shift = 0;

	*v = 0;
	for (;;) {
		uint8_t b;

		if (*off >= t->len || shift > 28)
			return false;
		b = t->p[(*off)++];
		*v |= (uint32_t)(b & 0x7f) << shift;
		if (!(b & 0x80))
			return true;
		shift += 7;
	}
}

/* The value a pc-value table (at pctab + off) gives pc, or -1. */
static int32_t pcvalue(const struct gopclntab *t, uint32_t off, uint64_t entry, uint64_t pc)
{
	uint64_t p = t->pctab + off, at = entry;
	int32_t val = -1;

	if (!off || p < t->pctab)
		return -1;
	for (uint32_t step = 0; step < PCVALUE_MAX_STEPS; step++) {
		uint32_t uv, pcd;

		if (!varint(t, &p, &uv) || (uv == 0 && step))
			return -1;
		/* zig-zag */
		uv = uv & 1 ? ~(uv >> 1) : uv >> 1;
		if (!varint(t, &p, &pcd))
			return -1;
		val += (int32_t)uv;
		at += (uint64_t)pcd * t->quantum;
		if (pc < at)
			return val;
	}
	return -1;
}

int gopclntab__line(const struct gopclntab *t, uint64_t pc, const char **func,
		    const char **file, int *line)
{
	uint64_t lo = 0, hi, entry, end, fd;
	uint32_t nameoff, pcfile, pcln, cuoff, fileoff;
	int32_t fno, ln;

	*func = *file = NULL;
	*line = 0;
	if (!t || !t->nfunc || !func_pc(t, 0, &entry) || !func_pc(t, t->nfunc, &end) ||
	    pc < entry || pc >= end)
		return -ENOENT;
	/* last function whose entry is <= pc */
	hi = t->nfunc;
	while (hi - lo > 1) {
		uint64_t mid = lo + (hi - lo) / 2, mpc;

		if (!func_pc(t, mid, &mpc))
			return -EINVAL;
		if (mpc <= pc)
			lo = mid;
		else
			hi = mid;
	}
	if (!func_pc(t, lo, &entry) || !func_data(t, lo, &fd) ||
	    !func_field(t, fd, FUNC_NAMEOFF, &nameoff) || !func_field(t, fd, FUNC_PCFILE, &pcfile) ||
	    !func_field(t, fd, FUNC_PCLN, &pcln))
		return -EINVAL;
	*func = str_at(t, t->names + nameoff);
	ln = pcvalue(t, pcln, entry, pc);
	*line = ln > 0 ? ln : 0;
	fno = pcvalue(t, pcfile, entry, pc);
	if (fno < 0)
		return 0;
	if (t->magic == GOPCLNTAB_MAGIC_12) {
		/* filetab: a count, then offsets; 0 is not a file */
		if (fno > 0 && get32(t, t->filetab + 4 * (uint64_t)fno, &fileoff))
			*file = str_at(t, fileoff);
		return 0;
	}
	/* 1.16+: per-unit file numbers through cutab into filetab */
	if (func_field(t, fd, FUNC_CUOFF, &cuoff) &&
	    get32(t, t->cutab + ((uint64_t)cuoff + (uint32_t)fno) * 4, &fileoff) &&
	    fileoff != UINT32_MAX)
		*file = str_at(t, t->filetab + fileoff);
	return 0;
}
