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

int elf_symtab__each_func(Elf *elf, uint32_t sh_type, elf_func_cb cb, void *ctx)
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
		if ((type != STT_FUNC && type != STT_GNU_IFUNC) || sym.st_shndx == SHN_UNDEF ||
		    !sym.st_value)
			continue;
		f.name = elf_strptr(elf, sh.sh_link, sym.st_name);
		if (!f.name || !f.name[0])
			continue;
		f.addr = sym.st_value;
		f.size = sym.st_size;
		f.bind = GELF_ST_BIND(sym.st_info);
		f.shndx = sym.st_shndx;
		ret = cb(&f, ctx);
		if (ret)
			return ret;
	}
	return 0;
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
	/* Names are copied out here, before elf_end() frees the strtab. */
	err = finish_syms(img, c, n);
	if (err)
		goto cleanup;
done:
	*out = img;
	img = NULL;
cleanup:
	free(c);
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
