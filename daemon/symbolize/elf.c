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

#include "symbolize/elf.h"

/* Symbols of one address collapse to one entry; this many candidates
 * (nested or overlapping symbols) are tried backwards from the nearest one. */
#define ELF_FIND_MAX_BACKTRACK 8

/* Section headers beyond this are not consulted for symbol extents. */
#define ELF_MAX_SECTIONS 65536

struct sym_cand {
	uint64_t addr;
	uint64_t size;
	uint64_t limit; /* end of the section or segment holding addr, 0 unknown */
	const char *name;
	size_t name_len;
	unsigned char bind;
};

static int elf_init(void)
{
	static bool done;

	if (!done) {
		if (elf_version(EV_CURRENT) == EV_NONE)
			return -ENOTSUP;
		done = true;
	}
	return 0;
}

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
static void read_build_id(Elf *elf, const GElf_Phdr *notes, size_t nnotes, struct elf_image *img)
{
	Elf_Scn *scn = NULL;
	GElf_Shdr sh;

	for (size_t i = 0; i < nnotes; i++) {
		Elf_Type t = notes[i].p_align == 8 ? ELF_T_NHDR8 : ELF_T_NHDR;
		Elf_Data *d;

		if (!notes[i].p_filesz || notes[i].p_offset > INT64_MAX)
			continue;
		d = elf_getdata_rawchunk(elf, (int64_t)notes[i].p_offset, notes[i].p_filesz, t);
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

static int read_loads(Elf *elf, struct elf_image *img)
{
	GElf_Phdr notes[8];
	size_t phnum = 0, nnotes = 0;
	GElf_Phdr ph;

	if (elf_getphdrnum(elf, &phnum))
		return -EINVAL;
	for (size_t i = 0; i < phnum && i < 65536; i++) {
		if (!gelf_getphdr(elf, (int)i, &ph))
			return -EINVAL; /* phdr table beyond the end of the file */
		if (ph.p_type == PT_NOTE && nnotes < sizeof(notes) / sizeof(notes[0]))
			notes[nnotes++] = ph;
		if (ph.p_type != PT_LOAD || img->nloads >= ELF_IMAGE_MAX_LOADS)
			continue;
		img->loads[img->nloads++] = (struct elf_load){
			.offset = ph.p_offset,
			.vaddr = ph.p_vaddr,
			.filesz = ph.p_filesz,
			.memsz = ph.p_memsz,
			.flags = ph.p_flags,
		};
	}
	read_build_id(elf, notes, nnotes, img);
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

/* Collect defined function symbols of the first section of type sh_type. */
static int collect_syms(Elf *elf, Elf64_Word sh_type, struct sym_cand **out, size_t *nout)
{
	uint64_t *sec_end = NULL;
	struct sym_cand *c = NULL, *nc;
	size_t n = 0, cap = 0, shnum = 0;
	Elf_Scn *scn = NULL, *sscn;
	Elf_Data *data;
	GElf_Shdr sh, ssh;
	int err = 0;

	while ((scn = elf_nextscn(elf, scn)))
		if (gelf_getshdr(scn, &sh) && sh.sh_type == sh_type)
			break;
	if (!scn)
		goto out;
	data = elf_getdata(scn, NULL);
	if (!data || !data->d_buf || !sh.sh_entsize)
		goto out; /* truncated or empty: no symbols from this table */

	/* Section ends bound zero-size symbols (hand-written asm often has no
	 * .size); read them once instead of once per symbol. */
	if (!elf_getshdrnum(elf, &shnum) && shnum > 0 && shnum <= ELF_MAX_SECTIONS) {
		sec_end = calloc(shnum, sizeof(*sec_end));
		if (!sec_end) {
			err = -ENOMEM;
			goto out;
		}
		for (size_t i = 1; i < shnum; i++) {
			sscn = elf_getscn(elf, i);
			if (sscn && gelf_getshdr(sscn, &ssh) && (ssh.sh_flags & SHF_ALLOC) &&
			    ssh.sh_addr + ssh.sh_size > ssh.sh_addr)
				sec_end[i] = ssh.sh_addr + ssh.sh_size;
		}
	}

	for (size_t i = 1; i < data->d_size / sh.sh_entsize; i++) {
		GElf_Sym sym;
		const char *name;
		int type;

		if (!gelf_getsym(data, (int)i, &sym))
			break;
		type = GELF_ST_TYPE(sym.st_info);
		if ((type != STT_FUNC && type != STT_GNU_IFUNC) || sym.st_shndx == SHN_UNDEF ||
		    !sym.st_value)
			continue;
		name = elf_strptr(elf, sh.sh_link, sym.st_name);
		if (!name || !name[0])
			continue;
		if (n == ELF_IMAGE_MAX_SYMS)
			break;
		if (n == cap) {
			cap = cap ? cap * 2 : 1024;
			nc = realloc(c, cap * sizeof(*c));
			if (!nc) {
				err = -ENOMEM;
				goto out;
			}
			c = nc;
		}
		c[n] = (struct sym_cand){
			.addr = sym.st_value,
			.size = sym.st_size,
			.name = name,
			.name_len = strnlen(name, ELF_IMAGE_MAX_NAME),
			.bind = GELF_ST_BIND(sym.st_info),
		};
		if (sec_end && sym.st_shndx < shnum && sym.st_shndx < SHN_LORESERVE)
			c[n].limit = sec_end[sym.st_shndx];
		n++;
	}
out:
	free(sec_end);
	if (err) {
		free(c);
		return err;
	}
	*out = c;
	*nout = n;
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

static int parse(Elf *elf, struct elf_image **out)
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
	*out = img;
	img = NULL;
cleanup:
	free(c);
	elf_image__free(img);
	return err;
}

int elf_image__open_fd(int fd, struct elf_image **out)
{
	Elf *elf;
	int err;

	err = elf_init();
	if (err)
		return err;
	/* ELF_C_READ reads with pread() on demand: no mmap, so a file
	 * truncated under us gives short reads, not SIGBUS. */
	elf = elf_begin(fd, ELF_C_READ, NULL);
	err = parse(elf, out);
	elf_end(elf);
	return err;
}

int elf_image__open_mem(const void *buf, size_t len, struct elf_image **out)
{
	char *copy;
	Elf *elf;
	int err;

	err = elf_init();
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
	err = parse(elf, out);
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
