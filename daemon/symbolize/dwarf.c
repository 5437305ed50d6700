// SPDX-License-Identifier: Apache-2.0
/* dwarf: finding the unit of an address goes through .debug_aranges when
 * the file has them (libdw's dwarf_addrdie), else through a table of every
 * unit's ranges built once. A unit's index holds the ranges of its
 * functions sorted by start, without looking inside them; the first time
 * an address falls in a function, the ranges of its inlined calls are
 * indexed, sorted by (depth, start): calls at one depth never overlap, so
 * the chain at an address is one binary search per level (the approach of
 * gimli's addr2line). A function nested in another (GNU C, Fortran, Ada)
 * joins the unit's functions when its parent is indexed, or when an
 * address falls in no known function (then every function of the unit
 * is). Names, files and lines are read from the DIEs only for the chain
 * found. The unit walk reads DIEs itself (dwreader.c), every read
 * checked against the unit; libdw checks its own reads against its
 * sections; this file bounds the loops (units, DIEs, depth, ranges) on top.
 *
 * Memory: libdw keeps a unit's line table (≈40 bytes a row, millions of
 * rows in a large C++ binary) until dwarf_end(), and dwarf_decl_file() or
 * dwarf_getsrcfiles() read it too. So line tables are read through a second,
 * scratch Dwarf handle over the same Elf (sections already mapped or
 * inflated), copied into 16-byte rows without the rows no lookup can return,
 * and the scratch handle is ended every DW_SCRATCH_ROWS rows. File names
 * (the unit's file table) are interned once per file. The unit indexes keep
 * 16 bytes a function or inlined call: the DIE as an offset into its unit
 * and the inline depth as a bucket. */
#include <dwarf.h>
#include <elfutils/libdw.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "binary/file.h"
#include "symbolize/dwarf.h"
#include "symbolize/dwreader.h"
#include "symbolize/strpool.h"
#include "util/array.h"
#include "util/hashmap.h"

/* Nested or overlapping function ranges: this many earlier entries are
 * tried when the nearest one does not cover the address. */
#define DW_FIND_BACKTRACK 16
/* libdw's own state per indexed unit, estimated: the unit's abbreviation
 * table and CU record; plus, where a line table had to be read through the
 * main handle (the scratch one failed), libdw's 64-80 bytes of heap per row
 * (elfutils 0.188, measured with mallinfo2). */
#define DW_LIBDW_LINE_BYTES 64
#define DW_LIBDW_UNIT_BYTES 4096
/* Line rows read through the scratch handle before it is ended (its heap
 * then goes back: ≈40 bytes a row). */
#define DW_SCRATCH_ROWS (256u << 10)
/* The mapped file's pages are given back after each unit indexed and
 * after this many DIEs named. */
#define DW_RELEASE_NAMES 4096
/* Files of one unit's file table kept. */
#define DW_MAX_UNIT_FILES (1u << 20)
/* A row's file field: the index in the unit's files, and end of sequence. */
#define DW_ROW_END (1u << 31)

struct dw_range {
	uint64_t lo, hi;
	uint32_t unit;
};

/* A function (subprogram) or inlined call: [lo, lo + len), its DIE at
 * unit->die + die. */
struct dw_func {
	uint64_t lo;
	uint32_t len;
	uint32_t die;
};

/* An inlined call while a unit is indexed, before it is sorted and packed. */
struct dw_inl_tmp {
	uint64_t lo, hi;
	Dwarf_Off die;
	uint32_t depth; /* 1: inlined straight into the subprogram */
};

/* One row of a unit's line table. */
struct dw_row {
	uint64_t addr;
	uint32_t line;
	uint32_t file; /* index in the unit's files | DW_ROW_END */
};

/* What a lookup reads from one DIE of a chain, read once per DIE. */
struct dw_names {
	Dwarf_Off die;
	const char *name, *linkage, *decl_file, *call_file;
	int decl_line, call_line;
};

/* A function whose inlined calls are indexed: inls[0, depth_end[ndepths
 * - 1]) sorted by (depth, lo), those of depth d + 1 ending at
 * depth_end[d]; one allocation, depth_end after the calls. */
struct dw_expanded {
	uint32_t die; /* the function's DIE, an offset in its unit */
	uint32_t ndepths;
	struct dw_func *inls;
	const uint32_t *depth_end;
};

struct dw_unit {
	Dwarf_Off die;   /* offset of the unit DIE */
	int state;       /* 0 not indexed, 1 indexed, -errno failed */
	int lines_state; /* 0 not read, 1 read, -errno failed */
	struct dw_func *funcs; /* functions with code, sorted by lo */
	uint32_t nfuncs;
	uint32_t ndies;        /* DIEs walked, bounded */
	struct dw_expanded *exps; /* functions whose inlined calls are indexed */
	uint32_t nexps;
	bool all_expanded;
	struct hashmap exp_map;   /* exps by die */
	size_t exps_cap;
	struct dw_reader *reader; /* NULL: walked through libdw */
	const char *comp_dir;     /* DW_AT_comp_dir, in the mapped file */
	bool comp_dir_read;
	struct dw_row *rows;  /* sorted as libdw sorts them */
	uint32_t nrows, nfiles;
	const char **files;   /* interned in dwarf_file.strs */
};

struct dwarf_file {
	Elf *elf;
	Dwarf *dw;
	Dwarf *scratch;        /* line tables are read through this one */
	size_t scratch_rows;
	struct dw_unit *units; /* units seen so far, found by die offset */
	size_t nunits, units_cap;
	struct hashmap unit_map;
	bool scanned;          /* every unit's ranges are in ranges[] */
	struct dw_range *ranges;
	size_t nranges;
	struct dw_names *names; /* DIEs read by lookups, found by offset */
	size_t nnames, names_cap;
	struct hashmap names_map;
	struct strpool strs;    /* file names */
	bool mapped;            /* libelf mapped the file read-only */
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

/* Whether libelf mapped the file read-only (ELF_C_READ_MMAP maps it
 * PROT_READ, MAP_PRIVATE, but reads it into the heap where mmap fails):
 * only then may its pages be dropped. Asked of /proc/self/maps, once per
 * DWARF file opened. */
static bool is_readonly_map(Elf *elf)
{
	size_t size = 0;
	char *base = elf_rawfile(elf, &size), line[512], perms[8];
	unsigned long lo, hi, ino;
	bool ok = false;
	FILE *f;

	if (!base || !size || ((uintptr_t)base & 4095))
		return false;
	f = fopen("/proc/self/maps", "re");
	while (f && !ok && fgets(line, sizeof(line), f))
		if (sscanf(line, "%lx-%lx %7s %*s %*s %lu", &lo, &hi, perms, &ino) == 4 &&
		    lo == (uintptr_t)base)
			ok = ino && !strcmp(perms, "r--p") && hi - lo >= size;
	if (f)
		fclose(f);
	return ok;
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
	df->mapped = is_readonly_map(elf);
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
		for (size_t j = 0; j < df->units[i].nexps; j++)
			free(df->units[i].exps[j].inls);
		free(df->units[i].exps);
		dwreader__free(df->units[i].reader);
		hashmap__done(&df->units[i].exp_map);
		free(df->units[i].rows);
		free(df->units[i].files);
	}
	strpool__done(&df->strs);
	if (df->scratch)
		dwarf_end(df->scratch);
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
	return df ? df->bytes + df->strs.bytes : 0;
}

/* --- sorting ------------------------------------------------------------ */

/* A key and where its element was. */
struct sort_ent {
	uint64_t key;
	uint64_t idx;
};

/* Sort n elements of elem bytes at base by key(element), stably: an LSD
 * radix sort a byte at a time, skipping the bytes every key shares, then
 * one permutation. Stable like glibc's qsort (a merge sort) with a
 * comparator on the key, so ties keep the same order; several times faster
 * on the 10^5-entry arrays of a large unit. -ENOMEM leaves base alone. */
static int radix_sort(void *base, size_t n, size_t elem, uint64_t (*key)(const void *))
{
	struct sort_ent *e = malloc(2 * n * sizeof(*e)), *t;
	char *out = malloc(n * elem);
	uint64_t diff = 0;

	if (!e || !out) {
		free(e);
		free(out);
		return -ENOMEM;
	}
	t = e + n;
	for (size_t i = 0; i < n; i++) {
		e[i] = (struct sort_ent){ .key = key((char *)base + i * elem), .idx = i };
		diff |= e[i].key ^ e[0].key;
	}
	for (unsigned shift = 0; shift < 64; shift += 8) {
		size_t count[256] = { 0 }, sum = 0;
		struct sort_ent *x;

		if (!((diff >> shift) & 0xff))
			continue;
		for (size_t i = 0; i < n; i++)
			count[(e[i].key >> shift) & 0xff]++;
		for (size_t b = 0; b < 256; b++) {
			size_t c = count[b];

			count[b] = sum;
			sum += c;
		}
		for (size_t i = 0; i < n; i++)
			t[count[(e[i].key >> shift) & 0xff]++] = e[i];
		x = e;
		e = t;
		t = x;
	}
	for (size_t i = 0; i < n; i++)
		memcpy(out + i * elem, (char *)base + e[i].idx * elem, elem);
	memcpy(base, out, n * elem);
	free(out);
	free(e < t ? e : t);
	return 0;
}

static uint64_t range_key(const void *p)
{
	return ((const struct dw_range *)p)->lo;
}

static uint64_t func_key(const void *p)
{
	return ((const struct dw_func *)p)->lo;
}

/* (depth, lo) in one key: depth below DWARF_MAX_DEPTH, lo below 2^48 (x86-64
 * and arm64 user space); a unit outside that is sorted by qsort. */
#define DW_INL_KEY_BITS 48
static uint64_t inl_key(const void *p)
{
	const struct dw_inl_tmp *x = p;

	return ((uint64_t)x->depth << DW_INL_KEY_BITS) | x->lo;
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

	return array__push((void **)&c->df->ranges, &c->df->nranges, &c->cap, sizeof(r), &r,
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
		if (radix_sort(df->ranges, df->nranges, sizeof(*df->ranges), range_key))
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

/* --- line tables -------------------------------------------------------- */

struct fileptr_ctx {
	const char **src; /* libdw's name of file i */
};

static bool fileptr_eq(const void *ctx, uint32_t idx, const void *key)
{
	return ((const struct fileptr_ctx *)ctx)->src[idx] == *(const char *const *)key;
}

/* Copy the unit's file table and line rows out of libdw's. A row is
 * dropped when no lookup can return it (the same address as the next row:
 * the last of equal addresses wins) or when it says what the row kept
 * before it says: lookups answer exactly what libdw's dwarf_getsrc_die()
 * does. */
static int copy_lines(struct dwarf_file *df, struct dw_unit *u, Dwarf_Die *cudie, size_t *nread)
{
	struct fileptr_ctx fc = { 0 };
	struct hashmap fmap = { 0 };
	Dwarf_Lines *lines;
	Dwarf_Files *files;
	size_t nlines, nfiles, cap = 0;
	const char *last_src = NULL;
	uint32_t last_idx = 0;
	int err = 0;

	*nread = 0;
	if (dwarf_getsrclines(cudie, &lines, &nlines) || dwarf_getsrcfiles(cudie, &files, &nfiles))
		return -ENODATA;
	*nread = nlines;
	if (nfiles > DW_MAX_UNIT_FILES)
		nfiles = DW_MAX_UNIT_FILES;
	u->files = calloc(nfiles ? nfiles : 1, sizeof(*u->files));
	fc.src = calloc(nfiles ? nfiles : 1, sizeof(*fc.src));
	if (!u->files || !fc.src || hashmap__reserve(&fmap, nfiles)) {
		err = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < nfiles; i++) {
		const char *name = dwarf_filesrc(files, i, NULL, NULL);

		fc.src[i] = name;
		if (name && !(u->files[i] = strpool__intern(&df->strs, name))) {
			err = -ENOMEM;
			goto out;
		}
		if (name && hashmap__find(&fmap, hash_u64((uintptr_t)name), fileptr_eq, &fc, &name) ==
				    HASHMAP_NONE)
			hashmap__insert(&fmap, hash_u64((uintptr_t)name), (uint32_t)i);
	}
	u->nfiles = (uint32_t)nfiles;
	for (size_t i = 0; i < nlines && i < UINT32_MAX; i++) {
		Dwarf_Line *l = dwarf_onesrcline(lines, i);
		struct dw_row r = { 0 }, *last;
		const char *src;
		Dwarf_Addr addr;
		bool end = false;
		int line = 0;

		if (!l || dwarf_lineaddr(l, &addr))
			continue;
		if (dwarf_lineno(l, &line) || line < 0)
			line = 0;
		dwarf_lineendsequence(l, &end);
		src = dwarf_linesrc(l, NULL, NULL);
		if (src != last_src) {
			uint32_t idx = src ? hashmap__find(&fmap, hash_u64((uintptr_t)src), fileptr_eq,
							   &fc, &src)
					   : HASHMAP_NONE;

			last_src = src;
			last_idx = idx == HASHMAP_NONE ? DW_ROW_END - 1 : idx;
		}
		r = (struct dw_row){ .addr = addr, .line = (uint32_t)line,
				     .file = last_idx | (end ? DW_ROW_END : 0) };
		last = u->nrows ? &u->rows[u->nrows - 1] : NULL;
		if (last && last->addr == r.addr) {
			/* shadowed by r */
			u->nrows--;
			last = u->nrows ? &u->rows[u->nrows - 1] : NULL;
		}
		if (last && !(last->file & DW_ROW_END) && !end && last->file == r.file &&
		    last->line == r.line)
			continue;
		if (u->nrows == cap) {
			size_t ncap = cap ? cap * 2 : 256;
			struct dw_row *a = realloc(u->rows, ncap * sizeof(*a));

			if (!a) {
				err = -ENOMEM;
				goto out;
			}
			u->rows = a;
			cap = ncap;
		}
		u->rows[u->nrows++] = r;
	}
	if (u->nrows < cap) {
		struct dw_row *a = realloc(u->rows, (u->nrows ? u->nrows : 1) * sizeof(*a));

		if (a)
			u->rows = a;
	}
	df->bytes += (size_t)u->nrows * sizeof(struct dw_row) + (size_t)u->nfiles * sizeof(char *);
out:
	free(fc.src);
	hashmap__done(&fmap);
	return err;
}

/* The unit's file table and line rows, read once. */
static int unit_lines(struct dwarf_file *df, struct dw_unit *u)
{
	Dwarf_Die cudie;
	size_t nread = 0;
	int err = -ENODATA;

	if (u->lines_state)
		return u->lines_state < 0 ? u->lines_state : 0;
	if (!df->scratch)
		df->scratch = dwarf_begin_elf(df->elf, DWARF_C_READ, NULL);
	if (df->scratch && dwarf_offdie(df->scratch, u->die, &cudie)) {
		err = copy_lines(df, u, &cudie, &nread);
		df->scratch_rows += nread;
		if (df->scratch_rows >= DW_SCRATCH_ROWS) {
			dwarf_end(df->scratch);
			df->scratch = NULL;
			df->scratch_rows = 0;
		}
	}
	if (err == -ENODATA && dwarf_offdie(df->dw, u->die, &cudie)) {
		/* The scratch handle could not read it: libdw keeps the
		 * table of the main one until the file is closed. */
		free(u->files);
		free(u->rows);
		u->files = NULL;
		u->rows = NULL;
		u->nfiles = u->nrows = 0;
		err = copy_lines(df, u, &cudie, &nread);
		df->bytes += nread * DW_LIBDW_LINE_BYTES;
	}
	u->lines_state = err ? err : 1;
	return err;
}

/* The row at vaddr, as dwarf_getsrc_die() finds it: the last row at or
 * below vaddr, unless it ends a sequence. */
static const struct dw_row *row_find(const struct dw_unit *u, uint64_t vaddr)
{
	size_t lo = 0, hi = u->nrows;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (u->rows[mid].addr <= vaddr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (!lo || (u->rows[lo - 1].file & DW_ROW_END))
		return NULL;
	return &u->rows[lo - 1];
}

static const char *unit_file(const struct dw_unit *u, uint64_t idx)
{
	return idx < u->nfiles ? u->files[idx] : NULL;
}

/* Indexing a unit reads all of its DIEs and line program through the
 * mapping of the file, whose pages then count in our RSS though lookups
 * need few of them again: give them back (the mapping is read-only and
 * private, the pages stay in the page cache and fault back in on use). */
static void release_pages(struct dwarf_file *df)
{
	size_t size = 0;
	char *base = elf_rawfile(df->elf, &size);
	long page = sysconf(_SC_PAGESIZE);
	uintptr_t lo;

	if (!base || !size || page <= 0 || !df->mapped)
		return;
	lo = (uintptr_t)base & ~((uintptr_t)page - 1);
	madvise((void *)lo, size + ((uintptr_t)base - lo), MADV_DONTNEED);
}

/* --- unit index ---------------------------------------------------------- */

struct index_ctx {
	struct dwarf_file *df;
	struct dw_unit *u;
	struct dw_func *funcs; /* functions with code found */
	size_t nfuncs, funcs_cap;
	struct dw_inl_tmp *inls;
	size_t ninls, inls_cap;
	Dwarf_Off die;
	uint32_t depth;
	size_t bytes; /* scratch for array__push() */
};

static uint32_t span32(uint64_t lo, uint64_t hi)
{
	return hi - lo > UINT32_MAX ? UINT32_MAX : (uint32_t)(hi - lo);
}

static int add_func(uint64_t lo, uint64_t hi, void *arg)
{
	struct index_ctx *c = arg;
	struct dw_func f = { .lo = lo, .len = span32(lo, hi), .die = (uint32_t)(c->die - c->u->die) };

	if (c->nfuncs >= UINT32_MAX)
		return -E2BIG;
	return array__push((void **)&c->funcs, &c->nfuncs, &c->funcs_cap, sizeof(f), &f, &c->bytes);
}

static int add_inl(uint64_t lo, uint64_t hi, void *arg)
{
	struct index_ctx *c = arg;
	struct dw_inl_tmp in = { .lo = lo, .hi = hi, .die = c->die, .depth = c->depth };

	if (c->ninls >= UINT32_MAX)
		return -E2BIG;
	return array__push((void **)&c->inls, &c->ninls, &c->inls_cap, sizeof(in), &in, &c->bytes);
}

/* The ranges of a DIE of code. Most have one, as DW_AT_low_pc and
 * DW_AT_high_pc (an address, or since DWARF 4 a length): read here with two
 * attribute lookups, where dwarf_ranges() makes four (dwarf_highpc(), which
 * reads the low one too, then dwarf_lowpc()) for the same range; anything
 * else (DW_AT_ranges, known from the abbreviation) goes through
 * dwarf_ranges(). */
static int code_ranges(Dwarf_Die *die, range_cb cb, void *ctx)
{
	Dwarf_Attribute la, ha;
	Dwarf_Addr lo, hi;
	Dwarf_Word len;

	if (dwarf_hasattr(die, DW_AT_ranges) || !dwarf_attr(die, DW_AT_high_pc, &ha) ||
	    !dwarf_attr(die, DW_AT_low_pc, &la) ||
	    dwarf_formaddr(&la, &lo))
		return die_ranges(die, cb, ctx);
	if (dwarf_formaddr(&ha, &hi)) {
		if (dwarf_formudata(&ha, &len))
			return die_ranges(die, cb, ctx);
		hi = lo + len;
	}
	if (!lo || lo >= hi || lo == UINT64_MAX)
		return 0;
	return cb(lo, hi, ctx);
}

static int func_cmp(const void *a, const void *b)
{
	const struct dw_func *x = a, *y = b;

	return x->lo < y->lo ? -1 : x->lo > y->lo;
}

static int inl_cmp(const void *a, const void *b)
{
	const struct dw_inl_tmp *x = a, *y = b;

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

enum walk_mode {
	WALK_UNIT, /* a unit: its functions with code, not what is inside them */
	WALK_FUNC, /* a function: its inlined calls, and functions nested in it */
	WALK_NESTED, /* a unit: the functions nested in its functions */
};

/* Walk the DIEs under root without recursion. depth[] is the inline depth
 * that children of the DIE at that level get (1: inlined straight into the
 * function). Every walk of a unit counts against its DIE bound. */
static int walk(struct dw_unit *u, Dwarf_Die *root, enum walk_mode mode, struct index_ctx *c)
{
	Dwarf_Die stack[DWARF_MAX_DEPTH]; /* 8 KiB */
	uint32_t ctx_depth[DWARF_MAX_DEPTH];
	int sp, err = 0;

	if (dwarf_child(root, &stack[0]) != 0)
		return 0;
	ctx_depth[0] = mode == WALK_FUNC ? 1 : 0;
	sp = 1;
	while (sp > 0) {
		Dwarf_Die *d = &stack[sp - 1], child;
		uint32_t d0 = ctx_depth[sp - 1], child_depth = d0;
		bool descend = false;
		int tag = dwarf_tag(d);
		Dwarf_Off off = dwarf_dieoffset(d);

		if (++u->ndies > DWARF_MAX_UNIT_DIES) {
			err = -E2BIG;
			break;
		}
		/* DIEs are kept as offsets into their unit */
		if (off - u->die > UINT32_MAX) {
			err = -E2BIG;
			break;
		}
		if (tag == DW_TAG_subprogram) {
			/* A declaration has no code: asked of the abbreviation,
			 * without decoding the DIE's attributes. What is inside
			 * a function is read when an address falls in it. */
			c->die = off;
			if (dwarf_hasattr(d, DW_AT_low_pc) || dwarf_hasattr(d, DW_AT_ranges))
				err = code_ranges(d, add_func, c);
		} else if (tag == DW_TAG_inlined_subroutine && mode == WALK_FUNC) {
			c->die = off;
			c->depth = d0;
			err = code_ranges(d, add_inl, c);
			descend = true;
			child_depth = d0 + 1;
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
	return err;
}

/* The ranges of the DIE at die (offset off, abbreviation a, low and high
 * pc attributes at pc[]): code_ranges() does, read here when the address
 * is a DW_FORM_addr and the end an address or a length in a fixed or LEB
 * form, else through libdw. */
static int ranges_at(struct dwarf_file *df, const struct dw_reader *r, const struct dw_abbrev *a,
		     const unsigned char *die, const unsigned char *const pc[2], Dwarf_Off off,
		     range_cb cb, struct index_ctx *c)
{
	unsigned int hform = a->high >= 0 ? r->forms[a->forms + (uint32_t)a->high] : 0;
	const unsigned char *q = pc[1];
	uint64_t lo, hi, len;
	Dwarf_Die d;

	c->die = off;
	if (a->ranges || !pc[0] || !pc[1] || r->forms[a->forms + (uint32_t)a->low] != DW_FORM_addr)
		goto libdw;
	lo = dwreader__le(pc[0], r->addr_size); /* in bounds: dwreader__die skipped it */
	switch (hform) {
	case DW_FORM_addr:
		hi = dwreader__le(q, r->addr_size);
		break;
	case DW_FORM_data1: case DW_FORM_data2: case DW_FORM_data4: case DW_FORM_data8:
		len = dwreader__le(q, hform == DW_FORM_data1 ? 1 : hform == DW_FORM_data2 ? 2 :
				 hform == DW_FORM_data4 ? 4 : 8);
		hi = lo + len;
		break;
	case DW_FORM_udata:
		if (!dwreader__uleb(&q, r->end, &len))
			goto libdw;
		hi = lo + len;
		break;
	default:
		goto libdw;
	}
	if (!lo || lo >= hi || lo == UINT64_MAX)
		return 0;
	return cb(lo, hi, c);
libdw:
	if (!dwarf_die_addr_die(df->dw, (void *)die, &d))
		return 0;
	return code_ranges(&d, cb, c);
}

/* walk() through the unit's reader: the same DIEs, the same answers. */
static int walk_fast(struct dwarf_file *df, struct dw_unit *u, const struct dw_reader *r,
		     Dwarf_Off root, enum walk_mode mode, struct index_ctx *c)
{
	uint32_t ctx_depth[DWARF_MAX_DEPTH];
	const unsigned char *p, *sib, *pc[2];
	const struct dw_abbrev *a;
	int sp = 1, err = 0;

	if (root < r->unit_off || root - r->unit_off >= (Dwarf_Off)(r->end - r->unit))
		return 0;
	p = r->unit + (root - r->unit_off);
	a = dwreader__die(r, &p, &sib, pc);
	if (!a || !a->children)
		return 0;
	ctx_depth[0] = mode == WALK_FUNC ? 1 : 0;
	while (sp > 0 && p) {
		const unsigned char *die = p;
		uint32_t d0 = ctx_depth[sp - 1], child_depth = d0;
		bool descend = false;
		Dwarf_Off off;

		a = dwreader__die(r, &p, &sib, pc);
		if (!a) {
			sp -= p != NULL; /* the end of a list, or malformed: stop */
			continue;
		}
		if (++u->ndies > DWARF_MAX_UNIT_DIES) {
			err = -E2BIG;
			break;
		}
		off = r->unit_off + (Dwarf_Off)(die - r->unit);
		/* DIEs are kept as offsets into their unit */
		if (off - u->die > UINT32_MAX) {
			err = -E2BIG;
			break;
		}
		if (a->tag == DW_TAG_subprogram) {
			if (a->code && (mode != WALK_NESTED || d0 > 0))
				err = ranges_at(df, r, a, die, pc, off, add_func, c);
			descend = mode == WALK_NESTED && a->code;
			child_depth = 1;
		} else if (a->tag == DW_TAG_inlined_subroutine && mode != WALK_UNIT) {
			c->depth = d0;
			if (mode == WALK_FUNC)
				err = ranges_at(df, r, a, die, pc, off, add_inl, c);
			descend = true;
			child_depth = d0 + 1;
		} else if (is_scope(a->tag)) {
			descend = true;
		}
		if (err)
			break;
		if (!a->children)
			continue;
		if (descend && sp < DWARF_MAX_DEPTH)
			ctx_depth[sp++] = child_depth;
		else
			p = sib ? sib : dwreader__skip_children(r, p);
	}
	return err;
}

/* Add the n functions at add to u->funcs, kept sorted by lo. */
static int funcs_add(struct dwarf_file *df, struct dw_unit *u, const struct dw_func *add, size_t n)
{
	struct dw_func *a;

	if (!n)
		return 0;
	if (n > UINT32_MAX - u->nfuncs)
		return -E2BIG;
	a = realloc(u->funcs, (u->nfuncs + n) * sizeof(*a));
	if (!a)
		return -ENOMEM;
	memcpy(a + u->nfuncs, add, n * sizeof(*a));
	u->funcs = a;
	u->nfuncs += (uint32_t)n;
	if (radix_sort(u->funcs, u->nfuncs, sizeof(*u->funcs), func_key))
		qsort(u->funcs, u->nfuncs, sizeof(*u->funcs), func_cmp);
	df->bytes += n * sizeof(*a);
	return 0;
}

/* The unit's functions with code, found through namespaces and types. */
static int index_unit(struct dwarf_file *df, struct dw_unit *u)
{
	struct index_ctx c = { .df = df, .u = u };
	Dwarf_Die cudie;
	int err;

	if (!dwarf_offdie(df->dw, u->die, &cudie))
		return -EINVAL;
	df->bytes += DW_LIBDW_UNIT_BYTES;
	u->reader = dwreader__new(df->dw, &cudie);
	if (u->reader) {
		df->bytes += u->reader->bytes;
		err = walk_fast(df, u, u->reader, u->die, WALK_UNIT, &c);
	} else {
		err = walk(u, &cudie, WALK_UNIT, &c);
	}
	if (funcs_add(df, u, c.funcs, c.nfuncs))
		err = -ENOMEM;
	free(c.funcs);
	/* A unit cut short by its limits still serves what was read. */
	return err == -ENOMEM ? err : 0;
}

/* A function's inlined calls, sorted by (depth, lo), into e. */
static int pack_inls(struct dwarf_file *df, struct dw_inl_tmp *t, size_t n, Dwarf_Off unit_die,
		     struct dw_expanded *e)
{
	uint32_t maxd, *dend;
	bool fits = true;
	size_t bytes;

	if (!n)
		return 0;
	for (size_t i = 0; i < n && fits; i++)
		fits = !(t[i].lo >> DW_INL_KEY_BITS) && t[i].depth < (1u << (64 - DW_INL_KEY_BITS));
	if (!fits || radix_sort(t, n, sizeof(*t), inl_key))
		qsort(t, n, sizeof(*t), inl_cmp);
	maxd = t[n - 1].depth;
	bytes = n * sizeof(*e->inls) + (size_t)maxd * sizeof(*dend);
	e->inls = malloc(bytes);
	if (!e->inls)
		return -ENOMEM;
	dend = (uint32_t *)(e->inls + n);
	for (uint32_t d = 0; d < maxd; d++)
		dend[d] = 0;
	for (size_t i = 0; i < n; i++) {
		e->inls[i] = (struct dw_func){ .lo = t[i].lo, .len = span32(t[i].lo, t[i].hi),
					       .die = (uint32_t)(t[i].die - unit_die) };
		dend[t[i].depth - 1] = (uint32_t)(i + 1);
	}
	/* depths no call has end where the one before ends */
	for (uint32_t d = 1; d < maxd; d++)
		if (dend[d] < dend[d - 1])
			dend[d] = dend[d - 1];
	e->depth_end = dend;
	e->ndepths = maxd;
	df->bytes += bytes;
	return 0;
}

static bool exp_eq(const void *ctx, uint32_t idx, const void *key)
{
	return ((const struct dw_unit *)ctx)->exps[idx].die == *(const uint32_t *)key;
}

/* The inlined calls of the function whose DIE is at die in u, indexed the
 * first time an address falls in it; functions nested in it (GNU C,
 * Fortran, Ada) join u->funcs and set *nested. NULL without memory. */
static const struct dw_expanded *expand(struct dwarf_file *df, struct dw_unit *u, uint32_t die,
					bool *nested)
{
	struct index_ctx c = { .df = df, .u = u };
	struct dw_expanded e = { .die = die };
	uint64_t h = hash_u64(die);
	uint32_t idx;
	Dwarf_Die fd;
	int err = 0;

	*nested = false;
	idx = hashmap__find(&u->exp_map, h, exp_eq, u, &die);
	if (idx != HASHMAP_NONE)
		return &u->exps[idx];
	if (hashmap__reserve(&u->exp_map, 1) ||
	    array__reserve((void **)&u->exps, &u->exps_cap, u->nexps + 1, sizeof(*u->exps), &df->bytes))
		return NULL;
	/* a walk cut short by the unit's limits keeps what it read */
	if (u->reader)
		walk_fast(df, u, u->reader, u->die + die, WALK_FUNC, &c);
	else if (dwarf_offdie(df->dw, u->die + die, &fd))
		walk(u, &fd, WALK_FUNC, &c);
	if (c.nfuncs) {
		err = funcs_add(df, u, c.funcs, c.nfuncs);
		*nested = !err;
	}
	if (!err && c.ninls <= UINT32_MAX && pack_inls(df, c.inls, c.ninls, u->die, &e))
		err = -ENOMEM;
	free(c.funcs);
	free(c.inls);
	if (err == -ENOMEM)
		return NULL;
	u->exps[u->nexps] = e;
	hashmap__insert(&u->exp_map, h, u->nexps);
	df->bytes += 2 * sizeof(struct hashmap_slot);
	return &u->exps[u->nexps++];
}

/* The functions nested in u's functions, in u->funcs: an address no
 * function is known to hold may be in one. With the unit's reader, one
 * walk that reads no inlined call; else every function is expanded. */
static void expand_all(struct dwarf_file *df, struct dw_unit *u)
{
	bool nested = true;

	u->all_expanded = true;
	if (u->reader) {
		struct index_ctx c = { .df = df, .u = u };
		size_t k = 0;

		walk_fast(df, u, u->reader, u->die, WALK_NESTED, &c);
		/* those an expanded parent has added already are there */
		for (size_t i = 0; i < c.nfuncs; i++) {
			bool known = false;

			for (uint32_t j = 0; j < u->nfuncs && !known; j++)
				known = u->funcs[j].die == c.funcs[i].die &&
					u->funcs[j].lo == c.funcs[i].lo;
			if (!known)
				c.funcs[k++] = c.funcs[i];
		}
		funcs_add(df, u, c.funcs, k);
		free(c.funcs);
		return;
	}
	/* a nested function moves u->funcs: again until none is found */
	for (int round = 0; nested && round < DWARF_MAX_DEPTH; round++) {
		nested = false;
		for (uint32_t i = 0; i < u->nfuncs; i++) {
			bool n;

			if (!expand(df, u, u->funcs[i].die, &n))
				return;
			nested |= n;
		}
	}
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
		if (vaddr - u->funcs[lo - 1].lo < u->funcs[lo - 1].len)
			return &u->funcs[lo - 1];
	return NULL;
}

/* The inlined call of function e at depth covering vaddr. */
static const struct dw_func *inl_find(const struct dw_expanded *e, uint32_t depth, uint64_t vaddr)
{
	size_t lo, hi, first;

	if (!depth || depth > e->ndepths)
		return NULL;
	first = lo = depth > 1 ? e->depth_end[depth - 2] : 0;
	hi = e->depth_end[depth - 1];
	/* first entry of the depth starting above vaddr */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (e->inls[mid].lo <= vaddr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo > first && vaddr - e->inls[lo - 1].lo < e->inls[lo - 1].len)
		return &e->inls[lo - 1];
	return NULL;
}

/* --- names and lines ----------------------------------------------------- */

/* DW_AT_decl_file a, through the file table of the unit holding the
 * attribute (an abstract origin may be in another unit), as
 * dwarf_decl_file() does without making libdw keep the line table. */
static const char *decl_file(struct dwarf_file *df, Dwarf_Attribute *a)
{
	Dwarf_Word idx;
	Dwarf_Die cu;
	struct dw_unit *u;

	if (dwarf_formudata(a, &idx) || !dwarf_cu_die(a->cu, &cu, NULL, NULL, NULL, NULL, NULL, NULL))
		return NULL;
	u = unit_get(df, dwarf_dieoffset(&cu));
	if (!u || unit_lines(df, u))
		return NULL;
	return unit_file(u, idx);
}

/* The attributes a function's names come from, each taken from the first
 * DIE that has it along the chain dwarf_attr_integrate() follows (the DIE,
 * its abstract origin, else its specification, at most 16 references):
 * the same answers as one dwarf_attr_integrate() per attribute, with one
 * pass over each DIE of the chain instead of one per attribute. */
enum { NA_NAME, NA_LINKAGE, NA_MIPS_LINKAGE, NA_DECL_FILE, NA_DECL_LINE, NA_MAX };

struct name_attrs {
	Dwarf_Attribute a[NA_MAX];
	unsigned have;          /* bit per NA_* */
	Dwarf_Attribute origin, spec;
	bool has_origin, has_spec;
};

static int name_attr_cb(Dwarf_Attribute *a, void *arg)
{
	struct name_attrs *c = arg;
	int i;

	switch (dwarf_whatattr(a)) {
	case DW_AT_name: i = NA_NAME; break;
	case DW_AT_linkage_name: i = NA_LINKAGE; break;
	case DW_AT_MIPS_linkage_name: i = NA_MIPS_LINKAGE; break;
	case DW_AT_decl_file: i = NA_DECL_FILE; break;
	case DW_AT_decl_line: i = NA_DECL_LINE; break;
	case DW_AT_abstract_origin:
		if (!c->has_origin)
			c->origin = *a;
		c->has_origin = true;
		return DWARF_CB_OK;
	case DW_AT_specification:
		if (!c->has_spec)
			c->spec = *a;
		c->has_spec = true;
		return DWARF_CB_OK;
	default:
		return DWARF_CB_OK;
	}
	if (!(c->have & (1u << i))) {
		c->a[i] = *a;
		c->have |= 1u << i;
	}
	return DWARF_CB_OK;
}

static Dwarf_Attribute *name_attr(struct name_attrs *c, int i)
{
	return (c->have & (1u << i)) ? &c->a[i] : NULL;
}

static void die_names(struct dwarf_file *df, Dwarf_Die *die, struct dwarf_line *l)
{
	struct name_attrs c = { 0 };
	Dwarf_Die mem[2];
	Dwarf_Word line;
	int chain = 16, k = 0;

	while (die) {
		c.has_origin = c.has_spec = false;
		if (dwarf_getattrs(die, name_attr_cb, &c, 0) != 1 || c.have == (1u << NA_MAX) - 1)
			break;
		if (!c.has_origin && !c.has_spec)
			break;
		die = dwarf_formref_die(c.has_origin ? &c.origin : &c.spec, &mem[k]);
		k ^= 1;
		if (chain-- == 0)
			break;
	}
	l->name = dwarf_formstring(name_attr(&c, NA_NAME));
	l->linkage = dwarf_formstring(name_attr(&c, NA_LINKAGE));
	if (!l->linkage)
		l->linkage = dwarf_formstring(name_attr(&c, NA_MIPS_LINKAGE));
	l->decl_file = (c.have & (1u << NA_DECL_FILE)) ? decl_file(df, &c.a[NA_DECL_FILE]) : NULL;
	l->decl_line = 0;
	if (!dwarf_formudata(name_attr(&c, NA_DECL_LINE), &line) && line <= INT_MAX)
		l->decl_line = (int)line;
}

/* Where an inlined call was made: DW_AT_call_file/line of the call DIE,
 * whose unit's file table is read. */
static const char *call_site(const struct dw_unit *u, Dwarf_Die *die, int *line)
{
	Dwarf_Word idx, ln;
	Dwarf_Attribute a;

	*line = 0;
	if (!dwarf_formudata(dwarf_attr(die, DW_AT_call_line, &a), &ln) && ln <= INT32_MAX)
		*line = (int)ln;
	if (dwarf_formudata(dwarf_attr(die, DW_AT_call_file, &a), &idx))
		return NULL;
	return unit_file(u, idx);
}

static bool names_eq(const void *ctx, uint32_t idx, const void *key)
{
	return ((const struct dwarf_file *)ctx)->names[idx].die == *(const Dwarf_Off *)key;
}

/* The names, declaration and call site of the DIE at off in unit ui,
 * cached. */
static const struct dw_names *die_info(struct dwarf_file *df, size_t ui, Dwarf_Off off)
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
	die_names(df, &die, &l); /* may add units: df->units moves */
	dn.name = l.name;
	dn.linkage = l.linkage;
	dn.decl_file = l.decl_file;
	dn.decl_line = l.decl_line;
	if (dwarf_tag(&die) == DW_TAG_inlined_subroutine)
		dn.call_file = call_site(&df->units[ui], &die, &dn.call_line);
	if (hashmap__reserve(&df->names_map, 1) ||
	    array__push((void **)&df->names, &df->nnames, &df->names_cap, sizeof(dn), &dn, &df->bytes))
		return NULL;
	hashmap__insert(&df->names_map, h, (uint32_t)(df->nnames - 1));
	df->bytes += 2 * sizeof(struct hashmap_slot);
	/* Names are read once: their pages need not stay. */
	if (!(df->nnames % DW_RELEASE_NAMES))
		release_pages(df);
	return &df->names[df->nnames - 1];
}

int dwarf_file__lookup(struct dwarf_file *df, uint64_t vaddr, struct dwarf_line *out,
		       size_t max)
{
	Dwarf_Off chain[DWARF_MAX_CHAIN];
	const struct dw_func *f;
	const struct dw_func *in;
	const struct dw_expanded *e = NULL;
	const struct dw_names *dn;
	const struct dw_row *row;
	struct dw_unit *u;
	Dwarf_Die cudie;
	const char *file = NULL, *comp_dir;
	Dwarf_Attribute a;
	int line = 0, err;
	size_t k = 0, n = 0, ui;

	if (!df || !max)
		return 0;
	u = unit_find(df, vaddr);
	if (!u)
		return 0;
	if (!u->state) {
		err = index_unit(df, u);
		u->state = err ? err : 1;
		unit_lines(df, u);
		release_pages(df);
	}
	if (u->state < 0)
		return 0;
	if (!u->comp_dir_read) {
		/* once: the unit DIE's page need not come back for each lookup */
		if (!dwarf_offdie(df->dw, u->die, &cudie))
			return 0;
		u->comp_dir = dwarf_formstring(dwarf_attr(&cudie, DW_AT_comp_dir, &a));
		u->comp_dir_read = true;
	}
	ui = (size_t)(u - df->units);
	comp_dir = u->comp_dir;
	row = unit_lines(df, u) ? NULL : row_find(u, vaddr);
	if (row) {
		file = unit_file(u, row->file & ~DW_ROW_END);
		line = (int)row->line;
	}
	f = func_find(u, vaddr);
	if (!f && !u->all_expanded) {
		expand_all(df, u);
		f = func_find(u, vaddr);
	}
	/* A function nested in f, found when f is expanded, may hold vaddr. */
	for (int tries = 0; f && tries < DWARF_MAX_DEPTH; tries++) {
		bool nested;

		e = expand(df, u, f->die, &nested);
		if (!nested)
			break;
		e = NULL;
		f = func_find(u, vaddr);
	}
	if (!f) {
		if (!row)
			return 0;
		out[0] = (struct dwarf_line){ .file = file, .line = line, .comp_dir = comp_dir };
		return 1;
	}
	chain[k++] = u->die + f->die;
	for (uint32_t depth = 1; e && k < DWARF_MAX_CHAIN && (in = inl_find(e, depth, vaddr));
	     depth++)
		chain[k++] = u->die + in->die;

	/* Innermost first: each function's line is where the next inner
	 * call was made, the innermost one's is the line table's. */
	for (size_t j = k; j-- > 0;) {
		dn = die_info(df, ui, chain[j]);
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
