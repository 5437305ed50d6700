// SPDX-License-Identifier: Apache-2.0
/* elf: reads function symbols, the GNU build id and the PT_LOAD table of an
 * ELF file through libelf, whose accessors (gelf_getsym, elf_strptr,
 * gelf_getnote, elf_getdata_rawchunk) bound every read by the file size;
 * this file adds no pointer arithmetic into file contents of its own. */
#include <errno.h>
#include <gelf.h>
#include <libelf.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "binary/elf.h"
#include "binary/file.h"

/* Symbols of one address collapse to one entry; this many candidates
 * (nested or overlapping symbols) are tried backwards from the nearest one. */
#define ELF_FIND_MAX_BACKTRACK 8

/* Section headers beyond this are not consulted for symbol extents. */
#define ELF_MAX_SECTIONS 65536
/* Program headers beyond this are not read. */
#define ELF_MAX_PHDRS 65536

/* A .gnu_debuglink's CRC sits at the next 4-byte boundary after the name. */
#define DEBUGLINK_CRC_ALIGN 4

struct sym_cand {
	uint64_t addr;
	uint64_t size;
	uint64_t limit; /* end of the section or segment holding addr, 0 unknown */
	const char *name;
	size_t name_len;
	unsigned char bind;
};

static void hex_encode(const unsigned char *b, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[b[i] >> 4];
		out[2 * i + 1] = digits[b[i] & 0xf];
	}
	out[2 * n] = '\0';
}

/* Scan one note area for NT_GNU_BUILD_ID; 1 when found. */
static int scan_notes(Elf_Data *data, struct elf_image *img)
{
	size_t off = 0, next, name_off, desc_off;
	GElf_Nhdr nh;

	if (!data || !data->d_buf)
		return 0;
	while (off < data->d_size &&
	       (next = gelf_getnote(data, off, &nh, &name_off, &desc_off)) > 0) {
		/* gelf_getnote checked name/desc lie within data. */
		if (nh.n_type == NT_GNU_BUILD_ID && nh.n_namesz == sizeof(ELF_NOTE_GNU) &&
		    !memcmp((const char *)data->d_buf + name_off, ELF_NOTE_GNU,
			    sizeof(ELF_NOTE_GNU)) &&
		    nh.n_descsz > 0 && nh.n_descsz <= ELF_IMAGE_MAX_BUILD_ID) {
			hex_encode((const unsigned char *)data->d_buf + desc_off, nh.n_descsz,
				   img->build_id);
			return 1;
		}
		if (next <= off)
			break;
		off = next;
	}
	return 0;
}

/* PT_NOTE first (works with section headers stripped), then SHT_NOTE. */
static void read_build_id(Elf *elf, struct elf_image *img)
{
	size_t phnum = 0, nnotes = 0;
	Elf_Scn *scn = NULL;
	GElf_Phdr ph;
	GElf_Shdr sh;

	if (elf_getphdrnum(elf, &phnum))
		phnum = 0;
	for (size_t i = 0; i < phnum && i < ELF_MAX_PHDRS && nnotes < 8; i++) {
		Elf_Type t;
		Elf_Data *d;

		if (!gelf_getphdr(elf, (int)i, &ph) || ph.p_type != PT_NOTE)
			continue;
		nnotes++;
		if (!ph.p_filesz || ph.p_offset > INT64_MAX)
			continue;
		t = ph.p_align == 8 ? ELF_T_NHDR8 : ELF_T_NHDR;
		d = elf_getdata_rawchunk(elf, (int64_t)ph.p_offset, ph.p_filesz, t);
		if (scan_notes(d, img))
			return;
	}
	while ((scn = elf_nextscn(elf, scn))) {
		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_NOTE)
			continue;
		if (scan_notes(elf_getdata(scn, NULL), img))
			return;
	}
}

int elf_read_loads(Elf *elf, struct elf_load *loads, size_t cap, size_t *n)
{
	size_t phnum = 0;
	GElf_Phdr ph;

	*n = 0;
	if (elf_getphdrnum(elf, &phnum))
		return -EINVAL;
	for (size_t i = 0; i < phnum && i < ELF_MAX_PHDRS; i++) {
		if (!gelf_getphdr(elf, (int)i, &ph))
			return -EINVAL; /* phdr table beyond the end of the file */
		if (ph.p_type != PT_LOAD || *n >= cap)
			continue;
		loads[(*n)++] = (struct elf_load){
			.offset = ph.p_offset,
			.vaddr = ph.p_vaddr,
			.filesz = ph.p_filesz,
			.memsz = ph.p_memsz,
			.flags = ph.p_flags,
		};
	}
	return 0;
}

static int read_loads(Elf *elf, struct elf_image *img)
{
	int err = elf_read_loads(elf, img->loads, ELF_IMAGE_MAX_LOADS, &img->nloads);

	if (err)
		return err;
	read_build_id(elf, img);
	return 0;
}

/* End of the executable PT_LOAD holding vaddr, 0 if none. */
static uint64_t load_limit(const struct elf_image *img, uint64_t vaddr)
{
	for (size_t i = 0; i < img->nloads; i++) {
		const struct elf_load *l = &img->loads[i];

		if ((l->flags & PF_X) && vaddr >= l->vaddr && vaddr - l->vaddr < l->memsz)
			return l->vaddr + l->memsz;
	}
	return 0;
}

/* Preferred name first when several symbols share an address: global over
 * weak over local, then fewer leading underscores (malloc, not
 * __libc_malloc), then shorter, then alphabetical so the choice is stable. */
static int bind_rank(unsigned char bind)
{
	return bind == STB_GLOBAL ? 0 : bind == STB_WEAK ? 1 : 2;
}

static size_t underscores(const char *s)
{
	size_t n = 0;

	while (s[n] == '_')
		n++;
	return n;
}

static int cand_cmp(const void *pa, const void *pb)
{
	const struct sym_cand *a = pa, *b = pb;
	size_t ua, ub;

	if (a->addr != b->addr)
		return a->addr < b->addr ? -1 : 1;
	if (bind_rank(a->bind) != bind_rank(b->bind))
		return bind_rank(a->bind) - bind_rank(b->bind);
	ua = underscores(a->name);
	ub = underscores(b->name);
	if (ua != ub)
		return ua < ub ? -1 : 1;
	if (a->name_len != b->name_len)
		return a->name_len < b->name_len ? -1 : 1;
	return strcmp(a->name, b->name);
}

int elf_symtab__each_sym(Elf *elf, uint32_t sh_type, unsigned types, elf_func_cb cb, void *ctx)
{
	Elf_Scn *scn = NULL;
	Elf_Data *data;
	GElf_Shdr sh;
	int ret;

	while ((scn = elf_nextscn(elf, scn)))
		if (gelf_getshdr(scn, &sh) && sh.sh_type == sh_type)
			break;
	if (!scn)
		return 0;
	data = elf_getdata(scn, NULL);
	if (!data || !data->d_buf || !sh.sh_entsize)
		return 0; /* truncated or empty: no symbols from this table */
	for (size_t i = 1; i < data->d_size / sh.sh_entsize; i++) {
		struct elf_func f;
		GElf_Sym sym;
		int type;

		if (!gelf_getsym(data, (int)i, &sym))
			break;
		type = GELF_ST_TYPE(sym.st_info);
		if (type >= 32 || !(types & (1u << type)) || sym.st_shndx == SHN_UNDEF ||
		    !sym.st_value)
			continue;
		f.name = elf_strptr(elf, sh.sh_link, sym.st_name);
		if (!f.name || !f.name[0])
			continue;
		f.addr = sym.st_value;
		f.size = sym.st_size;
		f.bind = GELF_ST_BIND(sym.st_info);
		f.type = (unsigned char)type;
		f.shndx = sym.st_shndx;
		ret = cb(&f, ctx);
		if (ret)
			return ret;
	}
	return 0;
}

int elf_symtab__each_func(Elf *elf, uint32_t sh_type, elf_func_cb cb, void *ctx)
{
	return elf_symtab__each_sym(elf, sh_type, ELF_SYMS_FUNC, cb, ctx);
}

struct collect {
	struct sym_cand *c;
	size_t n, cap;
	const uint64_t *sec_end;
	size_t shnum;
};

static int collect_one(const struct elf_func *f, void *ctx)
{
	struct collect *col = ctx;
	struct sym_cand *nc;

	if (col->n == ELF_IMAGE_MAX_SYMS)
		return 1;
	if (col->n == col->cap) {
		col->cap = col->cap ? col->cap * 2 : 1024;
		nc = realloc(col->c, col->cap * sizeof(*col->c));
		if (!nc)
			return -ENOMEM;
		col->c = nc;
	}
	col->c[col->n] = (struct sym_cand){
		.addr = f->addr,
		.size = f->size,
		.name = f->name,
		.name_len = strnlen(f->name, ELF_IMAGE_MAX_NAME),
		.bind = f->bind,
	};
	if (col->sec_end && f->shndx < col->shnum && f->shndx < SHN_LORESERVE)
		col->c[col->n].limit = col->sec_end[f->shndx];
	col->n++;
	return 0;
}

/* Collect defined function symbols of the first section of type sh_type. */
static int collect_syms(Elf *elf, Elf64_Word sh_type, struct sym_cand **out, size_t *nout)
{
	struct collect col = { 0 };
	uint64_t *sec_end = NULL;
	size_t shnum = 0;
	Elf_Scn *sscn;
	GElf_Shdr ssh;
	int err;

	/* Section ends bound zero-size symbols (hand-written asm often has no
	 * .size); read them once instead of once per symbol. */
	if (!elf_getshdrnum(elf, &shnum) && shnum > 0 && shnum <= ELF_MAX_SECTIONS) {
		sec_end = calloc(shnum, sizeof(*sec_end));
		if (!sec_end)
			return -ENOMEM;
		for (size_t i = 1; i < shnum; i++) {
			sscn = elf_getscn(elf, i);
			if (sscn && gelf_getshdr(sscn, &ssh) && (ssh.sh_flags & SHF_ALLOC) &&
			    ssh.sh_addr + ssh.sh_size > ssh.sh_addr)
				sec_end[i] = ssh.sh_addr + ssh.sh_size;
		}
	}
	col.sec_end = sec_end;
	col.shnum = shnum;
	err = elf_symtab__each_func(elf, sh_type, collect_one, &col);
	free(sec_end);
	if (err < 0) {
		free(col.c);
		return err;
	}
	*out = col.c;
	*nout = col.n;
	return 0;
}

/* Sort, keep one symbol per address, give zero-size symbols the extent up
 * to the next symbol (bounded by their section or segment), copy names. */
static int finish_syms(struct elf_image *img, struct sym_cand *c, size_t n)
{
	size_t m = 0, names_len = 0, pos = 0;

	if (!n)
		return 0;
	qsort(c, n, sizeof(*c), cand_cmp);
	for (size_t i = 0; i < n; i++) {
		if (m && c[m - 1].addr == c[i].addr) {
			/* The preferred name sorted first; keep the widest extent. */
			if (c[i].size > c[m - 1].size)
				c[m - 1].size = c[i].size;
			if (c[i].limit > c[m - 1].limit)
				c[m - 1].limit = c[i].limit;
			continue;
		}
		c[m++] = c[i];
	}
	/* Name offsets are 32-bit: stop adding symbols before they overflow. */
	for (size_t i = 0; i < m; i++) {
		if (names_len + c[i].name_len + 1 > ELF_IMAGE_MAX_NAMES) {
			m = i;
			break;
		}
		names_len += c[i].name_len + 1;
	}
	if (!m)
		return 0;

	img->syms = calloc(m, sizeof(*img->syms));
	img->names = malloc(names_len);
	if (!img->syms || !img->names)
		return -ENOMEM;
	for (size_t i = 0; i < m; i++) {
		struct elf_sym *s = &img->syms[i];
		uint64_t end;

		s->addr = c[i].addr;
		s->size = c[i].size;
		if (!s->size) {
			s->flags |= ELF_SYM_GUESSED_SIZE;
			end = c[i].limit > s->addr ? c[i].limit : load_limit(img, s->addr);
			if (i + 1 < m && (end <= s->addr || c[i + 1].addr < end))
				end = c[i + 1].addr;
			s->size = end > s->addr ? end - s->addr : 1;
		}
		s->name = (uint32_t)pos;
		memcpy(img->names + pos, c[i].name, c[i].name_len);
		pos += c[i].name_len;
		img->names[pos++] = '\0';
	}
	img->nsyms = m;
	img->names_len = names_len;
	return 0;
}

/* ---- PLT stubs ------------------------------------------------------------ */

struct got_name {
	uint64_t got; /* the GOT slot a stub jumps through */
	const char *name;
};

struct plt_stub {
	uint64_t addr, size;
	const char *name; /* the target's, in libelf's string table */
};

struct plt_scan {
	struct got_name *gots;
	size_t ngots, gots_cap;
	const char **jmprel; /* .rela.plt targets in table order (lazy IBT .plt) */
	size_t njmprel;
	struct plt_stub *stubs;
	size_t nstubs, stubs_cap;
};

static int got_cmp(const void *pa, const void *pb)
{
	const struct got_name *a = pa, *b = pb;

	return a->got < b->got ? -1 : a->got > b->got;
}

/* GOT slot → name of the dynamic symbol its relocation binds it to, from
 * every SHT_RELA section over .dynsym: R_X86_64_JUMP_SLOT (.plt, .plt.sec)
 * and R_X86_64_GLOB_DAT (.plt.got). */
static int plt_read_relocs(Elf *elf, Elf_Scn *scn, const GElf_Shdr *sh, bool is_jmprel,
			   struct plt_scan *ps)
{
	Elf_Scn *symscn = elf_getscn(elf, sh->sh_link);
	Elf_Data *rd = elf_getdata(scn, NULL), *sd;
	GElf_Shdr ssh;
	size_t nrel;

	if (!symscn || !gelf_getshdr(symscn, &ssh) || ssh.sh_type != SHT_DYNSYM || !rd ||
	    !rd->d_buf || !(sd = elf_getdata(symscn, NULL)) || !sd->d_buf)
		return 0;
	nrel = rd->d_size / sizeof(Elf64_Rela);
	if (is_jmprel && !ps->jmprel && nrel) {
		ps->jmprel = calloc(nrel, sizeof(*ps->jmprel));
		if (!ps->jmprel)
			return -ENOMEM;
		ps->njmprel = nrel;
	}
	for (size_t i = 0; i < nrel; i++) {
		const char *name;
		GElf_Rela r;
		GElf_Sym sym;
		unsigned type;

		if (!gelf_getrela(rd, (int)i, &r))
			break;
		type = (unsigned)GELF_R_TYPE(r.r_info);
		if (type != R_X86_64_JUMP_SLOT && type != R_X86_64_GLOB_DAT)
			continue;
		if (!gelf_getsym(sd, (int)GELF_R_SYM(r.r_info), &sym))
			continue;
		name = elf_strptr(elf, ssh.sh_link, sym.st_name);
		if (!name || !name[0])
			continue;
		if (is_jmprel && i < ps->njmprel && ps->jmprel)
			ps->jmprel[i] = name;
		if (ps->ngots == ps->gots_cap) {
			size_t cap = ps->gots_cap ? ps->gots_cap * 2 : 64;
			struct got_name *g = realloc(ps->gots, cap * sizeof(*g));

			if (!g)
				return -ENOMEM;
			ps->gots = g;
			ps->gots_cap = cap;
		}
		ps->gots[ps->ngots++] = (struct got_name){ r.r_offset, name };
	}
	return 0;
}

static const char *got_lookup(const struct plt_scan *ps, uint64_t got)
{
	size_t lo = 0, hi = ps->ngots;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (ps->gots[mid].got < got)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < ps->ngots && ps->gots[lo].got == got ? ps->gots[lo].name : NULL;
}

/* The target of one stub of size len at vaddr: `jmp *GOT(%rip)`, after an
 * optional endbr64 and bnd prefix (.plt without IBT, .plt.sec, .plt.got),
 * else, in a lazy .plt, `push $index` into .rela.plt (the IBT layout's
 * .plt, whose stubs .plt.sec jumps to until the target is bound). PLT0
 * (push GOT+8; jmp *GOT+16) matches neither. */
static const char *plt_target(const struct plt_scan *ps, const uint8_t *b, size_t len,
			      uint64_t vaddr, bool lazy)
{
	static const uint8_t endbr64[4] = { 0xf3, 0x0f, 0x1e, 0xfa };
	size_t i = 0;

	if (len >= 4 && !memcmp(b, endbr64, 4))
		i = 4;
	if (i < len && b[i] == 0xf2) /* bnd */
		i++;
	if (i + 6 <= len && b[i] == 0xff && b[i + 1] == 0x25) {
		int32_t disp = (int32_t)((uint32_t)b[i + 2] | (uint32_t)b[i + 3] << 8 |
					 (uint32_t)b[i + 4] << 16 | (uint32_t)b[i + 5] << 24);

		return got_lookup(ps, vaddr + i + 6 + (uint64_t)(int64_t)disp);
	}
	if (lazy && i + 5 <= len && b[i] == 0x68) {
		uint32_t idx = (uint32_t)b[i + 1] | (uint32_t)b[i + 2] << 8 |
			       (uint32_t)b[i + 3] << 16 | (uint32_t)b[i + 4] << 24;

		return idx < ps->njmprel ? ps->jmprel[idx] : NULL;
	}
	return NULL;
}

static int plt_scan_section(Elf_Scn *scn, const GElf_Shdr *sh, size_t entsize, bool lazy,
			    struct plt_scan *ps)
{
	Elf_Data *d = elf_getdata(scn, NULL);

	if (!d || !d->d_buf)
		return 0;
	for (size_t off = 0; off + entsize <= d->d_size; off += entsize) {
		const char *name = plt_target(ps, (const uint8_t *)d->d_buf + off, entsize,
					      sh->sh_addr + off, lazy);

		if (!name)
			continue;
		if (ps->nstubs == ps->stubs_cap) {
			size_t cap = ps->stubs_cap ? ps->stubs_cap * 2 : 64;
			struct plt_stub *st = realloc(ps->stubs, cap * sizeof(*st));

			if (!st)
				return -ENOMEM;
			ps->stubs = st;
			ps->stubs_cap = cap;
		}
		ps->stubs[ps->nstubs++] = (struct plt_stub){ sh->sh_addr + off, entsize, name };
	}
	return 0;
}

/* Candidates "target@plt" for the stubs of .plt, .plt.sec and .plt.got of
 * an x86-64 file, appended to *c; their names go to *names (caller frees,
 * after finish_syms()). */
static int plt_syms(Elf *elf, const GElf_Ehdr *eh, struct sym_cand **c, size_t *n, char **names)
{
	struct plt_scan ps = { 0 };
	Elf_Scn *scn = NULL, *plts[3] = { NULL };
	static const char *const plt_names[3] = { ".plt", ".plt.sec", ".plt.got" };
	GElf_Shdr sh, plt_sh[3];
	size_t shstrndx, k = 0, len = 0, pos = 0;
	struct sym_cand *nc;
	int err = 0;

	*names = NULL;
	if (eh->e_machine != EM_X86_64 || elf_getshdrstrndx(elf, &shstrndx))
		return 0;
	while ((scn = elf_nextscn(elf, scn)) && k++ < ELF_MAX_SECTIONS && !err) {
		const char *name;

		if (!gelf_getshdr(scn, &sh))
			continue;
		name = elf_strptr(elf, shstrndx, sh.sh_name);
		if (!name)
			continue;
		if (sh.sh_type == SHT_RELA)
			err = plt_read_relocs(elf, scn, &sh, !strcmp(name, ".rela.plt"), &ps);
		else if (sh.sh_type == SHT_PROGBITS && (sh.sh_flags & SHF_EXECINSTR))
			for (size_t i = 0; i < 3; i++)
				if (!strcmp(name, plt_names[i]) && !plts[i]) {
					plts[i] = scn;
					plt_sh[i] = sh;
				}
	}
	if (err || !ps.ngots)
		goto cleanup;
	qsort(ps.gots, ps.ngots, sizeof(*ps.gots), got_cmp);
	for (size_t i = 0; i < 3 && !err; i++) {
		size_t entsize = 16;

		if (!plts[i])
			continue;
		if (i == 2 && plt_sh[i].sh_entsize != 16)
			entsize = 8; /* .plt.got: 8-byte stubs unless IBT makes them 16 */
		err = plt_scan_section(plts[i], &plt_sh[i], entsize, i == 0, &ps);
	}
	if (err || !ps.nstubs)
		goto cleanup;
	if (*n + ps.nstubs > ELF_IMAGE_MAX_SYMS)
		ps.nstubs = *n < ELF_IMAGE_MAX_SYMS ? ELF_IMAGE_MAX_SYMS - *n : 0;
	for (size_t i = 0; i < ps.nstubs; i++)
		len += strnlen(ps.stubs[i].name, ELF_IMAGE_MAX_NAME - 5) + sizeof("@plt");
	nc = realloc(*c, (*n + ps.nstubs + 1) * sizeof(**c));
	*names = malloc(len + 1);
	if (nc)
		*c = nc;
	if (!nc || !*names) {
		err = -ENOMEM;
		goto cleanup;
	}
	for (size_t i = 0; i < ps.nstubs; i++) {
		size_t l = strnlen(ps.stubs[i].name, ELF_IMAGE_MAX_NAME - 5);
		char *dst = *names + pos;

		memcpy(dst, ps.stubs[i].name, l);
		memcpy(dst + l, "@plt", sizeof("@plt"));
		pos += l + sizeof("@plt");
		/* local rank: a real symbol at the same address wins */
		(*c)[(*n)++] = (struct sym_cand){ .addr = ps.stubs[i].addr, .size = ps.stubs[i].size,
						 .name = dst, .name_len = l + 4, .bind = STB_LOCAL };
	}
cleanup:
	free(ps.gots);
	free(ps.jmprel);
	free(ps.stubs);
	return err;
}

/* .gnu_debuglink: a base name, NUL, padding to 4, then the CRC32 of the
 * debug file in the ELF's byte order. Anything else is ignored. */
static void read_debuglink(Elf_Scn *scn, unsigned char ei_data, struct elf_image *img)
{
	Elf_Data *d = elf_getdata(scn, NULL);
	const unsigned char *b;
	size_t len, crc_off;

	if (!d || !d->d_buf)
		return;
	b = d->d_buf;
	len = strnlen((const char *)b, d->d_size);
	if (!len || len >= sizeof(img->debuglink) || len == d->d_size)
		return;
	crc_off = (len + 1 + DEBUGLINK_CRC_ALIGN - 1) & ~(size_t)(DEBUGLINK_CRC_ALIGN - 1);
	if (crc_off + 4 > d->d_size || memchr(b, '/', len) || !strcmp((const char *)b, ".") ||
	    !strcmp((const char *)b, ".."))
		return;
	memcpy(img->debuglink, b, len + 1);
	b += crc_off;
	if (ei_data == ELFDATA2MSB)
		img->debuglink_crc = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 |
				     (uint32_t)b[2] << 8 | b[3];
	else
		img->debuglink_crc = (uint32_t)b[3] << 24 | (uint32_t)b[2] << 16 |
				     (uint32_t)b[1] << 8 | b[0];
	img->sections |= ELF_IMAGE_DEBUGLINK;
}

/* Note which sections exist that point at more names or lines. */
static void read_sections(Elf *elf, const GElf_Ehdr *eh, struct elf_image *img)
{
	Elf_Scn *scn = NULL;
	size_t shstrndx, n = 0;
	const char *name;
	GElf_Shdr sh;

	if (elf_getshdrstrndx(elf, &shstrndx))
		return;
	while ((scn = elf_nextscn(elf, scn)) && n++ < ELF_MAX_SECTIONS) {
		if (!gelf_getshdr(scn, &sh) || sh.sh_type == SHT_NOBITS || !sh.sh_size)
			continue;
		if (sh.sh_type == SHT_SYMTAB)
			img->sections |= ELF_IMAGE_SYMTAB;
		name = elf_strptr(elf, shstrndx, sh.sh_name);
		if (!name)
			continue;
		if (!strcmp(name, ".debug_info") || !strcmp(name, ".zdebug_info"))
			img->sections |= ELF_IMAGE_DEBUG_INFO;
		else if (!strcmp(name, ".gnu_debugdata"))
			img->sections |= ELF_IMAGE_DEBUGDATA;
		else if (!strcmp(name, ".gopclntab") || !strcmp(name, ".data.rel.ro.gopclntab"))
			img->sections |= ELF_IMAGE_GOPCLNTAB;
		else if (!strcmp(name, ".gnu_debuglink"))
			read_debuglink(scn, eh->e_ident[EI_DATA], img);
	}
}

static int parse(Elf *elf, unsigned flags, struct elf_image **out)
{
	struct elf_image *img = NULL;
	struct sym_cand *c = NULL;
	char *plt_names = NULL;
	GElf_Ehdr eh;
	size_t n = 0;
	int err;

	if (!elf || elf_kind(elf) != ELF_K_ELF) {
		err = -ENOEXEC;
		goto cleanup;
	}
	if (!gelf_getehdr(elf, &eh)) {
		err = -EINVAL;
		goto cleanup;
	}
	if (eh.e_type != ET_EXEC && eh.e_type != ET_DYN) {
		err = -ENOEXEC;
		goto cleanup;
	}
	img = calloc(1, sizeof(*img));
	if (!img) {
		err = -ENOMEM;
		goto cleanup;
	}
	err = read_loads(elf, img);
	if (err)
		goto cleanup;
	read_sections(elf, &eh, img);
	if (flags & ELF_IMAGE_NO_SYMS)
		goto done;
	/* .symtab is a superset of .dynsym when present; stripped files
	 * still export their dynamic symbols. */
	err = collect_syms(elf, SHT_SYMTAB, &c, &n);
	if (err)
		goto cleanup;
	if (n) {
		img->from_symtab = 1;
	} else {
		free(c);
		c = NULL;
		err = collect_syms(elf, SHT_DYNSYM, &c, &n);
		if (err)
			goto cleanup;
	}
	err = plt_syms(elf, &eh, &c, &n, &plt_names);
	if (err)
		goto cleanup;
	/* Names are copied out here, before elf_end() frees the strtab. */
	err = finish_syms(img, c, n);
	if (err)
		goto cleanup;
done:
	*out = img;
	img = NULL;
cleanup:
	free(c);
	free(plt_names);
	elf_image__free(img);
	return err;
}

int elf_image__open_fd_opts(int fd, unsigned flags, struct elf_image **out)
{
	Elf *elf;
	int err;

	err = binary_elf_init();
	if (err)
		return err;
	/* ELF_C_READ reads with pread() on demand: no mmap, so a file
	 * truncated under us gives short reads, not SIGBUS. */
	elf = elf_begin(fd, ELF_C_READ, NULL);
	err = parse(elf, flags, out);
	elf_end(elf);
	return err;
}

int elf_image__open_fd(int fd, struct elf_image **out)
{
	return elf_image__open_fd_opts(fd, 0, out);
}

int elf_image__open_mem(const void *buf, size_t len, struct elf_image **out)
{
	char *copy;
	Elf *elf;
	int err;

	err = binary_elf_init();
	if (err)
		return err;
	if (!len)
		return -ENOEXEC;
	/* elf_memory() takes a mutable image; never hand it the caller's. */
	copy = malloc(len);
	if (!copy)
		return -ENOMEM;
	memcpy(copy, buf, len);
	elf = elf_memory(copy, len);
	err = parse(elf, 0, out);
	elf_end(elf);
	free(copy);
	return err;
}

void elf_image__free(struct elf_image *img)
{
	if (!img)
		return;
	free(img->syms);
	free(img->names);
	free(img);
}

int elf_image__file_to_vaddr(const struct elf_image *img, uint64_t off, uint64_t *vaddr)
{
	const struct elf_load *l;

	for (size_t i = 0; i < img->nloads; i++) {
		l = &img->loads[i];
		if (off >= l->offset && off - l->offset < l->filesz) {
			*vaddr = l->vaddr + (off - l->offset);
			return 0;
		}
	}
	/* A mapping starts at p_offset rounded down to a page, so the bytes
	 * just before an executable segment are mapped with it too. */
	for (size_t i = 0; i < img->nloads; i++) {
		l = &img->loads[i];
		if ((l->flags & PF_X) && off < l->offset && l->offset - off < 4096 &&
		    l->filesz) {
			*vaddr = l->vaddr - (l->offset - off);
			return 0;
		}
	}
	return -ENOENT;
}

const struct elf_sym *elf_image__find(const struct elf_image *img, uint64_t vaddr)
{
	size_t lo = 0, hi = img->nsyms;

	/* First symbol with addr > vaddr. */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (img->syms[mid].addr <= vaddr)
			lo = mid + 1;
		else
			hi = mid;
	}
	/* A nested or aliased symbol may end before vaddr while an enclosing
	 * one a few entries back still covers it. */
	for (size_t k = 0; k < ELF_FIND_MAX_BACKTRACK && lo > 0; k++, lo--) {
		const struct elf_sym *s = &img->syms[lo - 1];

		if (vaddr - s->addr < s->size)
			return s;
	}
	return NULL;
}

size_t elf_image__bytes(const struct elf_image *img)
{
	return img ? sizeof(*img) + img->nsyms * sizeof(*img->syms) + img->names_len : 0;
}

int elf_image__add_syms(struct elf_image *img, const struct elf_sym_in *in, size_t n)
{
	struct elf_image old = *img;
	size_t m = 0, room = old.nsyms < ELF_IMAGE_MAX_SYMS ? ELF_IMAGE_MAX_SYMS - old.nsyms : 0;
	struct sym_cand *c;
	int err;

	if (n > room)
		n = room;
	if (!n)
		return 0;
	c = calloc(old.nsyms + n + 1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	/* The names already chosen keep the rank of a global; a guessed size
	 * is guessed again among the new neighbours, within the old extent. */
	for (size_t i = 0; i < old.nsyms; i++) {
		const char *name = old.names + old.syms[i].name;
		bool guessed = old.syms[i].flags & ELF_SYM_GUESSED_SIZE;

		c[m++] = (struct sym_cand){ .addr = old.syms[i].addr,
					    .size = guessed ? 0 : old.syms[i].size,
					    .limit = guessed ? old.syms[i].addr + old.syms[i].size : 0,
					    .name = name, .name_len = strlen(name),
					    .bind = STB_GLOBAL };
	}
	for (size_t i = 0; i < n; i++) {
		if (!in[i].name || !in[i].name[0] || !in[i].addr)
			continue;
		c[m++] = (struct sym_cand){ .addr = in[i].addr, .size = in[i].size,
					    .name = in[i].name,
					    .name_len = strnlen(in[i].name, ELF_IMAGE_MAX_NAME),
					    .bind = in[i].global ? STB_GLOBAL : STB_LOCAL };
	}
	img->syms = NULL;
	img->names = NULL;
	img->nsyms = 0;
	img->names_len = 0;
	err = finish_syms(img, c, m);
	free(c);
	if (err) {
		free(img->syms);
		free(img->names);
		img->syms = old.syms;
		img->names = old.names;
		img->nsyms = old.nsyms;
		img->names_len = old.names_len;
		return err;
	}
	free(old.syms);
	free(old.names);
	return 0;
}

int elf_image__merge(struct elf_image *img, const struct elf_image *from)
{
	struct elf_sym_in *in;
	int err;

	if (!from || !from->nsyms)
		return 0;
	in = calloc(from->nsyms, sizeof(*in));
	if (!in)
		return -ENOMEM;
	for (size_t i = 0; i < from->nsyms; i++)
		in[i] = (struct elf_sym_in){ .addr = from->syms[i].addr,
					     .size = from->syms[i].size,
					     .name = from->names + from->syms[i].name,
					     .global = 1 };
	err = elf_image__add_syms(img, in, from->nsyms);
	free(in);
	return err;
}

int elf_file__section(int fd, const char *name, size_t max, void **buf, size_t *len,
		      uint64_t *addr)
{
	Elf_Scn *scn = NULL;
	size_t shstrndx, n = 0;
	Elf *elf = NULL;
	Elf_Data *d;
	GElf_Shdr sh;
	int err;

	err = binary_elf_init();
	if (err)
		return err;
	elf = elf_begin(fd, ELF_C_READ, NULL);
	if (!elf || elf_kind(elf) != ELF_K_ELF) {
		err = -ENOEXEC;
		goto cleanup;
	}
	if (elf_getshdrstrndx(elf, &shstrndx)) {
		err = -EINVAL;
		goto cleanup;
	}
	err = -ENOENT;
	while ((scn = elf_nextscn(elf, scn)) && n++ < ELF_MAX_SECTIONS) {
		const char *sn;

		if (!gelf_getshdr(scn, &sh))
			continue;
		sn = elf_strptr(elf, shstrndx, sh.sh_name);
		if (sn && !strcmp(sn, name))
			break;
	}
	if (!scn)
		goto cleanup;
	if (!buf) {
		if (len)
			*len = sh.sh_size;
		if (addr)
			*addr = sh.sh_addr;
		err = 0;
		goto cleanup;
	}
	if (sh.sh_type == SHT_NOBITS)
		goto cleanup;
	if ((sh.sh_flags & SHF_COMPRESSED) && elf_compress(scn, 0, 0) < 0) {
		err = -EINVAL;
		goto cleanup;
	}
	/* libelf refuses data that lies beyond the end of the file. */
	d = elf_getdata(scn, NULL);
	if (!d || (!d->d_buf && d->d_size)) {
		err = -EINVAL;
		goto cleanup;
	}
	if (d->d_size > max) {
		err = -EFBIG;
		goto cleanup;
	}
	*buf = malloc(d->d_size ? d->d_size : 1);
	if (!*buf) {
		err = -ENOMEM;
		goto cleanup;
	}
	if (d->d_size)
		memcpy(*buf, d->d_buf, d->d_size);
	*len = d->d_size;
	if (addr)
		*addr = sh.sh_addr;
	err = 0;
cleanup:
	elf_end(elf);
	return err;
}
