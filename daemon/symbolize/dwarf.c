// SPDX-License-Identifier: Apache-2.0
/* dwarf: finding the unit of an address goes through .debug_aranges when
 * the file has them (libdw's dwarf_addrdie), else through a table of every
 * unit's ranges built once. A unit's index holds the ranges of its
 * subprograms sorted by start, and the ranges of its inlined calls sorted
 * by (depth, start): calls at one depth never overlap, so the chain at an
 * address is one binary search per level (the approach of gimli's
 * addr2line). Names, files and lines are read from the DIEs only for the
 * chain found. libdw checks every read against its section; this file
 * bounds the loops (units, DIEs, depth, ranges) on top. */
#include <dwarf.h>
#include <elfutils/libdw.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "binary/file.h"
#include "symbolize/dwarf.h"
#include "util/hashmap.h"

/* Nested or overlapping function ranges: this many earlier entries are
 * tried when the nearest one does not cover the address. */
#define DW_FIND_BACKTRACK 16
/* libdw's own state per indexed unit, estimated: its line table costs 64-80
 * bytes of heap per row (elfutils 0.188, measured with mallinfo2; the
 * benchmark prints heap next to this accounting), plus the unit's
 * abbreviation table and file list. */
#define DW_LIBDW_LINE_BYTES 64
#define DW_LIBDW_UNIT_BYTES 4096

struct dw_range {
	uint64_t lo, hi;
	uint32_t unit;
};

struct dw_func {
	uint64_t lo, hi;
	Dwarf_Off die;
};

struct dw_inl {
	uint64_t lo, hi;
	Dwarf_Off die;
	uint32_t depth; /* 1: inlined straight into the subprogram */
};

/* What a lookup reads from one DIE of a chain, read once per DIE. */
struct dw_names {
	Dwarf_Off die;
	const char *name, *linkage, *decl_file, *call_file;
	int decl_line, call_line;
};

struct dw_unit {
	Dwarf_Off die; /* offset of the unit DIE */
	int state;     /* 0 not indexed, 1 indexed, -errno failed */
	struct dw_func *funcs;
	size_t nfuncs;
	struct dw_inl *inls;
	size_t ninls;
};

struct dwarf_file {
	Elf *elf;
	Dwarf *dw;
	struct dw_unit *units; /* units seen so far, found by die offset */
	size_t nunits, units_cap;
	struct hashmap unit_map;
	bool scanned;          /* every unit's ranges are in ranges[] */
	struct dw_range *ranges;
	size_t nranges;
	struct dw_names *names; /* DIEs read by lookups, found by offset */
	size_t nnames, names_cap;
	struct hashmap names_map;
	size_t bytes;
};

/* Sections libdw will inflate into the heap on dwarf_begin_elf(). */
static size_t compressed_debug_bytes(Elf *elf)
{
	Elf_Scn *scn = NULL;
	size_t total = 0, n = 0;
	GElf_Shdr sh;
	GElf_Chdr ch;

	while ((scn = elf_nextscn(elf, scn)) && n++ < 65536) {
		if (!gelf_getshdr(scn, &sh) || !(sh.sh_flags & SHF_COMPRESSED))
			continue;
		if (gelf_getchdr(scn, &ch))
			total += ch.ch_size;
	}
	return total;
}

int dwarf_file__open(int fd, struct dwarf_file **out)
{
	struct dwarf_file *df = NULL;
	Elf *elf = NULL;
	int err;

	err = binary_elf_init();
	if (err)
		return err;
	/* Mapped, not read: a debug file is often hundreds of MB, of which a
	 * profile touches a few units. */
	elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	if (!elf || elf_kind(elf) != ELF_K_ELF) {
		err = -ENOEXEC;
		goto cleanup;
	}
	df = calloc(1, sizeof(*df));
	if (!df) {
		err = -ENOMEM;
		goto cleanup;
	}
	df->bytes = sizeof(*df) + compressed_debug_bytes(elf);
	df->dw = dwarf_begin_elf(elf, DWARF_C_READ, NULL);
	if (!df->dw) {
		err = -ENODATA; /* no DWARF, or none libdw can use */
		goto cleanup;
	}
	/* The whole file is mapped (or was read): libelf needs no fd now. */
	elf_cntl(elf, ELF_C_FDDONE);
	df->elf = elf;
	*out = df;
	return 0;
cleanup:
	if (df && df->dw)
		dwarf_end(df->dw);
	free(df);
	elf_end(elf);
	return err;
}

void dwarf_file__free(struct dwarf_file *df)
{
	if (!df)
		return;
	for (size_t i = 0; i < df->nunits; i++) {
		free(df->units[i].funcs);
		free(df->units[i].inls);
	}
	free(df->units);
	hashmap__done(&df->unit_map);
	free(df->names);
	hashmap__done(&df->names_map);
	free(df->ranges);
	dwarf_end(df->dw);
	elf_end(df->elf);
	free(df);
}

size_t dwarf_file__bytes(const struct dwarf_file *df)
{
	return df ? df->bytes : 0;
}

/* --- units ----------------------------------------------------------------- */

static bool unit_eq(const void *ctx, uint32_t idx, const void *key)
{
	return ((const struct dwarf_file *)ctx)->units[idx].die == *(const Dwarf_Off *)key;
}

/* The unit record for the unit DIE at off, created on first sight. */
static struct dw_unit *unit_get(struct dwarf_file *df, Dwarf_Off off)
{
	uint64_t h = hash_u64(off);
	uint32_t idx;

	idx = hashmap__find(&df->unit_map, h, unit_eq, df, &off);
	if (idx != HASHMAP_NONE)
		return &df->units[idx];
	if (df->nunits >= DWARF_MAX_UNITS)
		return NULL;
	if (df->nunits == df->units_cap) {
		size_t cap = df->units_cap ? df->units_cap * 2 : 64;
		struct dw_unit *u = realloc(df->units, cap * sizeof(*u));

		if (!u)
			return NULL;
		df->bytes += (cap - df->units_cap) * sizeof(*u);
		df->units = u;
		df->units_cap = cap;
	}
	if (hashmap__reserve(&df->unit_map, 1))
		return NULL;
	df->units[df->nunits] = (struct dw_unit){ .die = off };
	hashmap__insert(&df->unit_map, h, (uint32_t)df->nunits);
	df->bytes += 2 * sizeof(struct hashmap_slot);
	return &df->units[df->nunits++];
}

/* Growable array append; elem bytes each. */
static int push(void **arr, size_t *n, size_t *cap, size_t elem, const void *v, size_t *bytes)
{
	if (*n == *cap) {
		size_t ncap = *cap ? *cap * 2 : 16;
		void *a = realloc(*arr, ncap * elem);

		if (!a)
			return -ENOMEM;
		*bytes += (ncap - *cap) * elem;
		*arr = a;
		*cap = ncap;
	}
	memcpy((char *)*arr + *n * elem, v, elem);
	(*n)++;
	return 0;
}

/* The address ranges of die. GNU ld resolves code in discarded sections to
 * address 0 (and -1 in some DWARF 5 tombstones): such ranges are skipped. */
typedef int (*range_cb)(uint64_t lo, uint64_t hi, void *ctx);

static int die_ranges(Dwarf_Die *die, range_cb cb, void *ctx)
{
	Dwarf_Addr base, lo, hi;
	ptrdiff_t off = 0;
	int n = 0, err;

	while (n < DWARF_MAX_RANGES_PER_DIE && (off = dwarf_ranges(die, off, &base, &lo, &hi)) > 0) {
		n++;
		if (!lo || lo >= hi || lo == UINT64_MAX)
			continue;
		err = cb(lo, hi, ctx);
		if (err)
			return err;
	}
	return 0;
}

static int range_cmp(const void *a, const void *b)
{
	const struct dw_range *x = a, *y = b;

	return x->lo < y->lo ? -1 : x->lo > y->lo;
}

struct scan_ctx {
	struct dwarf_file *df;
	uint32_t unit;
	size_t cap;
};

static int scan_range(uint64_t lo, uint64_t hi, void *arg)
{
	struct scan_ctx *c = arg;
	struct dw_range r = { .lo = lo, .hi = hi, .unit = c->unit };

	return push((void **)&c->df->ranges, &c->df->nranges, &c->cap, sizeof(r), &r,
		    &c->df->bytes);
}

/* Every unit's ranges, read once, for files without (complete) aranges. */
static void scan_units(struct dwarf_file *df)
{
	struct scan_ctx c = { .df = df };
	Dwarf_CU *cu = NULL, *next;
	Dwarf_Die cudie, subdie;
	uint8_t unit_type;
	Dwarf_Half version;
	size_t n = 0;

	df->scanned = true;
	while (n++ < DWARF_MAX_UNITS &&
	       dwarf_get_units(df->dw, cu, &next, &version, &unit_type, &cudie, &subdie) == 0) {
		struct dw_unit *u;

		cu = next;
		/* Skeleton units of split DWARF keep their code in .dwo files,
		 * which are not read; type units hold no code. */
		if (unit_type != DW_UT_compile && unit_type != DW_UT_partial)
			continue;
		u = unit_get(df, dwarf_dieoffset(&cudie));
		if (!u)
			break;
		c.unit = (uint32_t)(u - df->units);
		if (die_ranges(&cudie, scan_range, &c))
			break;
	}
	if (df->nranges)
		qsort(df->ranges, df->nranges, sizeof(*df->ranges), range_cmp);
}

static struct dw_unit *unit_find(struct dwarf_file *df, uint64_t vaddr)
{
	Dwarf_Die cudie;
	size_t lo = 0, hi;

	/* .debug_aranges, when present and covering vaddr */
	if (dwarf_addrdie(df->dw, vaddr, &cudie))
		return unit_get(df, dwarf_dieoffset(&cudie));
	if (!df->scanned)
		scan_units(df);
	hi = df->nranges;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (df->ranges[mid].lo <= vaddr)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (size_t k = 0; k < DW_FIND_BACKTRACK && lo > 0; k++, lo--)
		if (vaddr < df->ranges[lo - 1].hi)
			return &df->units[df->ranges[lo - 1].unit];
	return NULL;
}

/* --- unit index ---------------------------------------------------------- */

struct index_ctx {
	struct dwarf_file *df;
	struct dw_unit *u;
	size_t funcs_cap, inls_cap;
	Dwarf_Off die;
	uint32_t depth;
};

static int add_func(uint64_t lo, uint64_t hi, void *arg)
{
	struct index_ctx *c = arg;
	struct dw_func f = { .lo = lo, .hi = hi, .die = c->die };

	return push((void **)&c->u->funcs, &c->u->nfuncs, &c->funcs_cap, sizeof(f), &f,
		    &c->df->bytes);
}

static int add_inl(uint64_t lo, uint64_t hi, void *arg)
{
	struct index_ctx *c = arg;
	struct dw_inl in = { .lo = lo, .hi = hi, .die = c->die, .depth = c->depth };

	return push((void **)&c->u->inls, &c->u->ninls, &c->inls_cap, sizeof(in), &in,
		    &c->df->bytes);
}

static int func_cmp(const void *a, const void *b)
{
	const struct dw_func *x = a, *y = b;

	return x->lo < y->lo ? -1 : x->lo > y->lo;
}

static int inl_cmp(const void *a, const void *b)
{
	const struct dw_inl *x = a, *y = b;

	if (x->depth != y->depth)
		return x->depth < y->depth ? -1 : 1;
	return x->lo < y->lo ? -1 : x->lo > y->lo;
}

/* Scopes whose children may hold functions: C++ and Rust nest definitions
 * in namespaces and types, and blocks hold inlined calls. */
static bool is_scope(int tag)
{
	switch (tag) {
	case DW_TAG_lexical_block:
	case DW_TAG_try_block:
	case DW_TAG_catch_block:
	case DW_TAG_namespace:
	case DW_TAG_module:
	case DW_TAG_class_type:
	case DW_TAG_structure_type:
	case DW_TAG_union_type:
	case DW_TAG_interface_type:
		return true;
	default:
		return false;
	}
}

/* Walk the unit's DIE tree without recursion. depth[] is the inline depth
 * that children of the DIE at that level get: 0 outside any subprogram. */
static int index_unit(struct dwarf_file *df, struct dw_unit *u)
{
	Dwarf_Die stack[DWARF_MAX_DEPTH]; /* 8 KiB */
	uint32_t ctx_depth[DWARF_MAX_DEPTH];
	struct index_ctx c = { .df = df, .u = u };
	Dwarf_Lines *lines;
	size_t nlines, ndies = 0;
	Dwarf_Die cudie;
	int sp = 0, err = 0;

	if (!dwarf_offdie(df->dw, u->die, &cudie))
		return -EINVAL;
	/* libdw keeps the line table of the unit from now on: count it. */
	if (!dwarf_getsrclines(&cudie, &lines, &nlines))
		df->bytes += nlines * DW_LIBDW_LINE_BYTES;
	df->bytes += DW_LIBDW_UNIT_BYTES;
	if (dwarf_child(&cudie, &stack[0]) != 0)
		return 0;
	ctx_depth[0] = 0;
	sp = 1;
	while (sp > 0) {
		Dwarf_Die *d = &stack[sp - 1], child;
		uint32_t d0 = ctx_depth[sp - 1], child_depth = d0;
		bool descend = false;
		int tag = dwarf_tag(d);
		size_t before;

		if (++ndies > DWARF_MAX_UNIT_DIES) {
			err = -E2BIG;
			break;
		}
		if (tag == DW_TAG_subprogram) {
			c.die = dwarf_dieoffset(d);
			before = u->nfuncs;
			err = die_ranges(d, add_func, &c);
			/* Only a concrete function holds inlined calls. */
			descend = u->nfuncs > before;
			child_depth = 1;
		} else if (tag == DW_TAG_inlined_subroutine) {
			c.die = dwarf_dieoffset(d);
			c.depth = d0 ? d0 : 1;
			err = die_ranges(d, add_inl, &c);
			descend = true;
			child_depth = c.depth + 1;
		} else if (is_scope(tag)) {
			descend = true;
		}
		if (err)
			break;
		if (descend && sp < DWARF_MAX_DEPTH && dwarf_child(d, &child) == 0) {
			stack[sp] = child;
			ctx_depth[sp] = child_depth;
			sp++;
			continue;
		}
		/* Next sibling, climbing out of finished levels. */
		while (sp > 0) {
			Dwarf_Die sib;

			if (dwarf_siblingof(&stack[sp - 1], &sib) == 0) {
				stack[sp - 1] = sib;
				break;
			}
			sp--;
		}
	}
	if (u->nfuncs)
		qsort(u->funcs, u->nfuncs, sizeof(*u->funcs), func_cmp);
	if (u->ninls)
		qsort(u->inls, u->ninls, sizeof(*u->inls), inl_cmp);
	/* A unit cut short by its limits still serves what was read. */
	return err == -ENOMEM ? err : 0;
}

static const struct dw_func *func_find(const struct dw_unit *u, uint64_t vaddr)
{
	size_t lo = 0, hi = u->nfuncs;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (u->funcs[mid].lo <= vaddr)
			lo = mid + 1;
		else
			hi = mid;
	}
	/* The nearest start first: a nested function wins over its parent. */
	for (size_t k = 0; k < DW_FIND_BACKTRACK && lo > 0; k++, lo--)
		if (vaddr < u->funcs[lo - 1].hi)
			return &u->funcs[lo - 1];
	return NULL;
}

static const struct dw_inl *inl_find(const struct dw_unit *u, uint32_t depth, uint64_t vaddr)
{
	size_t lo = 0, hi = u->ninls;

	/* first entry > (depth, vaddr) */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct dw_inl *m = &u->inls[mid];

		if (m->depth < depth || (m->depth == depth && m->lo <= vaddr))
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo && u->inls[lo - 1].depth == depth && vaddr < u->inls[lo - 1].hi)
		return &u->inls[lo - 1];
	return NULL;
}

/* --- names and lines ----------------------------------------------------- */

static void die_names(Dwarf_Die *die, struct dwarf_line *l)
{
	Dwarf_Attribute a;

	l->name = dwarf_diename(die);
	l->linkage = dwarf_formstring(dwarf_attr_integrate(die, DW_AT_linkage_name, &a));
	if (!l->linkage)
		l->linkage = dwarf_formstring(dwarf_attr_integrate(die, DW_AT_MIPS_linkage_name, &a));
	l->decl_file = dwarf_decl_file(die);
	if (dwarf_decl_line(die, &l->decl_line) || l->decl_line < 0)
		l->decl_line = 0;
}

/* Where an inlined call was made: DW_AT_call_file/line of the call DIE. */
static const char *call_site(Dwarf_Die *cudie, Dwarf_Die *die, int *line)
{
	Dwarf_Word idx, ln;
	Dwarf_Attribute a;
	Dwarf_Files *files;
	size_t nfiles;

	*line = 0;
	if (!dwarf_formudata(dwarf_attr(die, DW_AT_call_line, &a), &ln) && ln <= INT32_MAX)
		*line = (int)ln;
	if (dwarf_formudata(dwarf_attr(die, DW_AT_call_file, &a), &idx))
		return NULL;
	if (dwarf_getsrcfiles(cudie, &files, &nfiles) || idx >= nfiles)
		return NULL;
	return dwarf_filesrc(files, idx, NULL, NULL);
}

static bool names_eq(const void *ctx, uint32_t idx, const void *key)
{
	return ((const struct dwarf_file *)ctx)->names[idx].die == *(const Dwarf_Off *)key;
}

/* The names, declaration and call site of the DIE at off, cached. */
static const struct dw_names *die_info(struct dwarf_file *df, Dwarf_Die *cudie, Dwarf_Off off)
{
	struct dwarf_line l = { 0 };
	struct dw_names dn = { .die = off };
	uint64_t h = hash_u64(off);
	Dwarf_Die die;
	uint32_t idx;

	idx = hashmap__find(&df->names_map, h, names_eq, df, &off);
	if (idx != HASHMAP_NONE)
		return &df->names[idx];
	if (!dwarf_offdie(df->dw, off, &die))
		return NULL;
	die_names(&die, &l);
	dn.name = l.name;
	dn.linkage = l.linkage;
	dn.decl_file = l.decl_file;
	dn.decl_line = l.decl_line;
	if (dwarf_tag(&die) == DW_TAG_inlined_subroutine)
		dn.call_file = call_site(cudie, &die, &dn.call_line);
	if (hashmap__reserve(&df->names_map, 1) ||
	    push((void **)&df->names, &df->nnames, &df->names_cap, sizeof(dn), &dn, &df->bytes))
		return NULL;
	hashmap__insert(&df->names_map, h, (uint32_t)(df->nnames - 1));
	df->bytes += 2 * sizeof(struct hashmap_slot);
	return &df->names[df->nnames - 1];
}

int dwarf_file__lookup(struct dwarf_file *df, uint64_t vaddr, struct dwarf_line *out,
		       size_t max)
{
	Dwarf_Off chain[DWARF_MAX_CHAIN];
	const struct dw_func *f;
	const struct dw_inl *in;
	const struct dw_names *dn;
	struct dw_unit *u;
	Dwarf_Die cudie;
	Dwarf_Line *row;
	const char *file = NULL, *comp_dir;
	Dwarf_Attribute a;
	int line = 0, err;
	size_t k = 0, n = 0;

	if (!df || !max)
		return 0;
	u = unit_find(df, vaddr);
	if (!u)
		return 0;
	if (!u->state) {
		err = index_unit(df, u);
		u->state = err ? err : 1;
	}
	if (u->state < 0 || !dwarf_offdie(df->dw, u->die, &cudie))
		return 0;
	comp_dir = dwarf_formstring(dwarf_attr(&cudie, DW_AT_comp_dir, &a));
	row = dwarf_getsrc_die(&cudie, vaddr);
	if (row) {
		file = dwarf_linesrc(row, NULL, NULL);
		if (dwarf_lineno(row, &line) || line < 0)
			line = 0;
	}
	f = func_find(u, vaddr);
	if (!f) {
		if (!row)
			return 0;
		out[0] = (struct dwarf_line){ .file = file, .line = line, .comp_dir = comp_dir };
		return 1;
	}
	chain[k++] = f->die;
	for (uint32_t depth = 1; k < DWARF_MAX_CHAIN && (in = inl_find(u, depth, vaddr)); depth++)
		chain[k++] = in->die;

	/* Innermost first: each function's line is where the next inner
	 * call was made, the innermost one's is the line table's. */
	for (size_t j = k; j-- > 0;) {
		dn = die_info(df, &cudie, chain[j]);
		if (!dn)
			break;
		if (n < max - 1 || j == 0)
			out[n++] = (struct dwarf_line){
				.name = dn->name,
				.linkage = dn->linkage,
				.file = file,
				.line = line,
				.decl_file = dn->decl_file,
				.decl_line = dn->decl_line,
				.comp_dir = comp_dir,
			};
		file = dn->call_file;
		line = dn->call_line;
	}
	return (int)n;
}
