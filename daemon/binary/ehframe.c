// SPDX-License-Identifier: Apache-2.0
/* ehframe: the function table of a .eh_frame section (entry headers only),
 * found in the file through libelf. */
#include <dwarf.h>
#include <errno.h>
#include <gelf.h>
#include <libelf.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "binary/ehframe.h"
#include "binary/elf.h"
#include "binary/file.h"

/* CIEs remembered by section offset; a miss parses the CIE again. */
#define EHF_CIE_CACHE 64
#define EHF_MAX_LOADS 64

struct cur {
	const uint8_t *p, *end;
	bool err;
};

static uint8_t cur_u8(struct cur *c)
{
	if (c->p >= c->end) {
		c->err = true;
		return 0;
	}
	return *c->p++;
}

static uint64_t cur_uint(struct cur *c, size_t n)
{
	uint64_t v = 0;

	if ((size_t)(c->end - c->p) < n) {
		c->err = true;
		c->p = c->end;
		return 0;
	}
	for (size_t i = 0; i < n; i++)
		v |= (uint64_t)c->p[i] << (8 * i);
	c->p += n;
	return v;
}

/* LEB128; bits beyond 64 are dropped. */
static uint64_t cur_leb(struct cur *c, bool sign)
{
	unsigned shift = 0;
	uint64_t v = 0;
	uint8_t b;

	do {
		b = cur_u8(c);
		if (c->err)
			return 0;
		if (shift < 64)
			v |= (uint64_t)(b & 0x7f) << shift;
		shift += 7;
	} while (b & 0x80);
	if (sign && shift < 64 && (b & 0x40))
		v |= ~0ULL << shift;
	return v;
}

int ehframe_read_encoded(const uint8_t **p, const uint8_t *end, uint8_t enc, uint64_t at_vaddr,
			 uint64_t datarel_base, uint64_t *out)
{
	struct cur c = { *p, end, false };
	uint64_t base = 0, v;

	if (enc == DW_EH_PE_omit)
		return -EINVAL;
	if (enc & DW_EH_PE_indirect)
		return -EOPNOTSUPP;
	switch (enc & 0x70) {
	case DW_EH_PE_absptr:
	case DW_EH_PE_textrel: /* no base on x86-64 (libgcc, elfutils) */
		break;
	case DW_EH_PE_pcrel:
		base = at_vaddr;
		break;
	case DW_EH_PE_datarel:
		base = datarel_base;
		break;
	case DW_EH_PE_aligned: {
		size_t pad = (size_t)((8 - (at_vaddr & 7)) & 7);

		if ((size_t)(end - c.p) < pad)
			return -EINVAL;
		c.p += pad;
		if ((enc & 0x0f) != DW_EH_PE_absptr)
			return -EOPNOTSUPP;
		break;
	}
	default:
		return -EOPNOTSUPP;
	}
	switch (enc & 0x0f) {
	case DW_EH_PE_absptr:
	case DW_EH_PE_udata8:
	case DW_EH_PE_sdata8:
		v = cur_uint(&c, 8);
		break;
	case DW_EH_PE_uleb128:
		v = cur_leb(&c, false);
		break;
	case DW_EH_PE_sleb128:
		v = cur_leb(&c, true);
		break;
	case DW_EH_PE_udata2:
		v = cur_uint(&c, 2);
		break;
	case DW_EH_PE_sdata2:
		v = (uint64_t)(int64_t)(int16_t)cur_uint(&c, 2);
		break;
	case DW_EH_PE_udata4:
		v = cur_uint(&c, 4);
		break;
	case DW_EH_PE_sdata4:
		v = (uint64_t)(int64_t)(int32_t)cur_uint(&c, 4);
		break;
	default:
		return -EOPNOTSUPP;
	}
	if (c.err)
		return -EINVAL;
	*p = c.p;
	*out = base + v;
	return 0;
}

int ehframe_entry_read(const uint8_t *start, const uint8_t *end, size_t off, bool debug,
		       struct ehframe_entry *e)
{
	size_t avail = (size_t)(end - start);
	struct cur c = { start + off, end, false };
	size_t idsz = 4, id_off;
	uint64_t len, id;

	if (off >= avail)
		return 1;
	len = cur_uint(&c, 4);
	if (c.err)
		return -EINVAL;
	if (len == 0)
		return 1;
	if (len == 0xffffffffULL) { /* 64-bit DWARF */
		len = cur_uint(&c, 8);
		idsz = 8;
	}
	if (c.err || len > (uint64_t)(c.end - c.p) || len < idsz)
		return -EINVAL;
	e->end = c.p + len;
	e->next = (size_t)(e->end - start);
	id_off = (size_t)(c.p - start);
	c.end = e->end;
	id = cur_uint(&c, idsz);
	e->body = c.p;
	if (debug) {
		e->is_cie = id == (idsz == 4 ? 0xffffffffULL : ~0ULL);
		e->cie_off = (size_t)id;
		e->cie_ok = id < avail;
	} else {
		/* .eh_frame: the CIE pointer counts back from its own position */
		e->is_cie = id == 0;
		e->cie_off = id_off - (size_t)id;
		e->cie_ok = id <= id_off;
	}
	return 0;
}

int ehframe_cie_read(const uint8_t *start, uint64_t vaddr, bool debug,
		     const struct ehframe_entry *e, struct ehframe_cie *cie)
{
	struct cur c = { e->body, e->end, false };
	const char *aug;
	size_t alen;

	memset(cie, 0, sizeof(*cie));
	cie->version = cur_u8(&c);
	if (cie->version != 1 && cie->version != 3 && !(debug && cie->version == 4))
		return -EBADMSG;
	aug = (const char *)c.p;
	alen = strnlen(aug, (size_t)(c.end - c.p));
	if (alen == (size_t)(c.end - c.p))
		return -EINVAL;
	c.p += alen + 1;
	if (aug[0] == 'e' && aug[1] == 'h') { /* pre-GCC 3.0: eh_ptr follows */
		cur_uint(&c, 8);
		aug += 2;
	}
	if (cie->version == 4 && (cur_u8(&c) != 8 || cur_u8(&c) != 0))
		return -EBADMSG; /* address_size, segment_selector_size */
	cie->caf = cur_leb(&c, false);
	cie->daf = (int64_t)cur_leb(&c, true);
	cie->ra_reg = cie->version == 1 ? cur_u8(&c) : cur_leb(&c, false);
	if (c.err)
		return -EINVAL;
	cie->fde_enc = DW_EH_PE_absptr;
	if (aug[0] == 'z') {
		uint64_t len = cur_leb(&c, false);
		const uint8_t *aug_end;

		if (c.err || len > (uint64_t)(c.end - c.p))
			return -EINVAL;
		aug_end = c.p + len;
		cie->aug_z = true;
		for (const char *a = aug + 1; *a; a++) {
			struct cur d = { c.p, aug_end, false };
			uint64_t ignored;
			uint8_t enc;

			if (*a == 'R') {
				cie->fde_enc = cur_u8(&d);
			} else if (*a == 'L') {
				cur_u8(&d); /* LSDA encoding: the FDE's data is skipped whole */
			} else if (*a == 'P') {
				/* personality routine: only its size matters */
				enc = cur_u8(&d) & (uint8_t)~DW_EH_PE_indirect;
				if (!d.err && ehframe_read_encoded(&d.p, d.end, enc,
								   vaddr + (uint64_t)(d.p - start), 0,
								   &ignored))
					return -EBADMSG;
			} else if (*a == 'S') {
				cie->signal = true;
			} else if (*a != 'B' && *a != 'G') {
				break; /* unknown: the length lets us skip the rest */
			}
			if (d.err)
				return -EINVAL;
			c.p = d.p;
		}
		c.p = aug_end;
	} else if (aug[0]) {
		return -EBADMSG; /* no 'z': the size of what follows is unknown */
	}
	if (c.err)
		return -EINVAL;
	cie->insns = c.p;
	cie->insns_end = e->end;
	return 0;
}

struct cie_slot {
	size_t off; /* SIZE_MAX: empty */
	bool ok;
	uint8_t fde_enc;
};

static const struct cie_slot *cie_get(const uint8_t *start, const uint8_t *end, uint64_t vaddr,
				      struct cie_slot *cache, size_t off)
{
	struct cie_slot *slot = &cache[(off >> 2) % EHF_CIE_CACHE];
	struct ehframe_entry e;
	struct ehframe_cie cie;

	if (slot->off == off)
		return slot;
	slot->off = off;
	slot->ok = ehframe_entry_read(start, end, off, false, &e) == 0 && e.is_cie &&
		   ehframe_cie_read(start, vaddr, false, &e, &cie) == 0;
	slot->fde_enc = slot->ok ? cie.fde_enc : 0;
	return slot;
}

struct coll {
	struct {
		uint64_t start;
		uint32_t len;
	} *e;
	size_t n, cap;
};

static bool in_ranges(const struct ehframe_range *r, size_t nr, uint64_t start, uint64_t end)
{
	if (!nr)
		return true;
	for (size_t i = 0; i < nr; i++)
		if (start >= r[i].start && end <= r[i].end)
			return true;
	return false;
}

static int cmp_start(const void *pa, const void *pb)
{
	const uint64_t a = *(const uint64_t *)pa, b = *(const uint64_t *)pb;

	return a < b ? -1 : a > b;
}

int ehframe_funcs__parse(const void *data, size_t size, uint64_t vaddr,
			 const struct ehframe_range *ranges, size_t nranges,
			 struct ehframe_funcs **out)
{
	const uint8_t *start = data, *end = data ? start + size : NULL;
	struct cie_slot *cache;
	struct ehframe_funcs *t;
	struct coll col = { 0 };
	size_t off = 0, m = 0;
	int err = 0;

	*out = NULL;
	cache = calloc(EHF_CIE_CACHE, sizeof(*cache));
	t = calloc(1, sizeof(*t));
	if (!cache || !t) {
		err = -ENOMEM;
		goto cleanup;
	}
	for (size_t i = 0; i < EHF_CIE_CACHE; i++)
		cache[i].off = SIZE_MAX;
	while (data && col.n < EHFRAME_MAX_FUNCS) {
		const struct cie_slot *cie;
		struct ehframe_entry e;
		uint64_t fstart, range;
		const uint8_t *p;

		/* the zero terminator, or truncated: nothing after is trustworthy */
		if (ehframe_entry_read(start, end, off, false, &e))
			break;
		off = e.next;
		if (e.is_cie || !e.cie_ok)
			continue;
		cie = cie_get(start, end, vaddr, cache, e.cie_off);
		if (!cie->ok)
			continue;
		p = e.body;
		if (ehframe_read_encoded(&p, e.end, cie->fde_enc, vaddr + (uint64_t)(p - start), 0,
					 &fstart) ||
		    ehframe_read_encoded(&p, e.end, cie->fde_enc & 0x0f, 0, 0, &range))
			continue;
		if (!range || range > UINT32_MAX || fstart + range < fstart ||
		    !in_ranges(ranges, nranges, fstart, fstart + range))
			continue;
		if (col.n == col.cap) {
			size_t cap = col.cap ? col.cap * 2 : 256;
			void *ne = realloc(col.e, cap * sizeof(*col.e));

			if (!ne) {
				err = -ENOMEM;
				goto cleanup;
			}
			col.e = ne;
			col.cap = cap;
		}
		col.e[col.n].start = fstart;
		col.e[col.n].len = (uint32_t)range;
		col.n++;
	}
	if (col.n) {
		/* start is the first member: sorting by it */
		qsort(col.e, col.n, sizeof(*col.e), cmp_start);
		t->base = col.e[0].start;
		t->f = calloc(col.n, sizeof(*t->f));
		if (!t->f) {
			err = -ENOMEM;
			goto cleanup;
		}
		for (size_t i = 0; i < col.n; i++) {
			uint64_t o = col.e[i].start - t->base;

			if (o > UINT32_MAX)
				break;
			if (m && t->f[m - 1].off == (uint32_t)o) {
				if (col.e[i].len > t->f[m - 1].len)
					t->f[m - 1].len = col.e[i].len;
				continue;
			}
			t->f[m++] = (struct ehframe_func){ (uint32_t)o, col.e[i].len };
		}
		t->n = m;
	}
	*out = t;
	t = NULL;
cleanup:
	free(col.e);
	free(cache);
	ehframe_funcs__free(t);
	return err;
}

/* .eh_frame through .eh_frame_hdr's pointer; it runs to its terminator or
 * the end of the PT_LOAD holding it. */
static Elf_Data *frame_from_hdr(Elf *elf, const GElf_Phdr *hp, const struct elf_load *loads,
				size_t nloads, uint64_t *vaddr)
{
	const uint8_t *p, *end;
	Elf_Data *hd;
	uint64_t ptr;

	if (hp->p_filesz < 8 || hp->p_offset > INT64_MAX)
		return NULL;
	hd = elf_getdata_rawchunk(elf, (int64_t)hp->p_offset, hp->p_filesz, ELF_T_BYTE);
	if (!hd || !hd->d_buf || hd->d_size < 8)
		return NULL;
	p = hd->d_buf;
	end = p + hd->d_size;
	if (p[0] != 1)
		return NULL;
	{
		uint8_t enc = p[1];

		p += 4;
		if (ehframe_read_encoded(&p, end, enc, hp->p_vaddr + 4, hp->p_vaddr, &ptr))
			return NULL;
	}
	for (size_t i = 0; i < nloads; i++) {
		const struct elf_load *l = &loads[i];
		uint64_t skip, len;

		if (ptr < l->vaddr || ptr - l->vaddr >= l->filesz)
			continue;
		skip = ptr - l->vaddr;
		len = l->filesz - skip;
		if (len > EHFRAME_MAX_BYTES)
			len = EHFRAME_MAX_BYTES;
		if (l->offset + skip > INT64_MAX)
			return NULL;
		*vaddr = ptr;
		return elf_getdata_rawchunk(elf, (int64_t)(l->offset + skip), len, ELF_T_BYTE);
	}
	return NULL;
}

int ehframe_funcs__read_fd(int fd, struct ehframe_funcs **out)
{
	struct ehframe_range ranges[EHF_MAX_LOADS];
	struct elf_load loads[EHF_MAX_LOADS];
	size_t nloads = 0, nranges = 0, shstrndx, phnum = 0;
	Elf_Data *d = NULL;
	Elf_Scn *scn = NULL;
	uint64_t vaddr = 0;
	GElf_Ehdr eh;
	GElf_Shdr sh;
	GElf_Phdr ph;
	Elf *elf;
	int err;

	*out = NULL;
	err = binary_elf_init();
	if (err)
		return err;
	elf = elf_begin(fd, ELF_C_READ, NULL);
	if (!elf || elf_kind(elf) != ELF_K_ELF || !gelf_getehdr(elf, &eh) ||
	    eh.e_ident[EI_DATA] != ELFDATA2LSB) {
		err = -ENOEXEC;
		goto cleanup;
	}
	if (elf_read_loads(elf, loads, EHF_MAX_LOADS, &nloads)) {
		err = -EINVAL;
		goto cleanup;
	}
	for (size_t i = 0; i < nloads; i++)
		if ((loads[i].flags & PF_X) && loads[i].vaddr + loads[i].memsz > loads[i].vaddr)
			ranges[nranges++] = (struct ehframe_range){ loads[i].vaddr,
								    loads[i].vaddr + loads[i].memsz };
	if (!elf_getshdrstrndx(elf, &shstrndx)) {
		while ((scn = elf_nextscn(elf, scn))) {
			const char *name;

			if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_PROGBITS)
				continue;
			name = elf_strptr(elf, shstrndx, sh.sh_name);
			if (name && !strcmp(name, ".eh_frame")) {
				if (sh.sh_size <= EHFRAME_MAX_BYTES)
					d = elf_getdata(scn, NULL);
				vaddr = sh.sh_addr;
				break;
			}
		}
	}
	if (!d && !elf_getphdrnum(elf, &phnum)) {
		for (size_t i = 0; i < phnum && i < 65536 && !d; i++)
			if (gelf_getphdr(elf, (int)i, &ph) && ph.p_type == PT_GNU_EH_FRAME)
				d = frame_from_hdr(elf, &ph, loads, nloads, &vaddr);
	}
	if (!d || !d->d_buf || !d->d_size) {
		err = -ENOENT;
		goto cleanup;
	}
	err = ehframe_funcs__parse(d->d_buf, d->d_size, vaddr, ranges, nranges, out);
cleanup:
	elf_end(elf);
	return err;
}

int ehframe_funcs__find(const struct ehframe_funcs *t, uint64_t vaddr, uint64_t *start)
{
	size_t lo = 0, hi;
	uint64_t o;

	if (!t || !t->n || vaddr < t->base || vaddr - t->base > UINT32_MAX)
		return -ENOENT;
	o = vaddr - t->base;
	hi = t->n;
	/* first with off > o */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (t->f[mid].off <= o)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (!lo || o - t->f[lo - 1].off >= t->f[lo - 1].len)
		return -ENOENT;
	*start = t->base + t->f[lo - 1].off;
	return 0;
}

size_t ehframe_funcs__bytes(const struct ehframe_funcs *t)
{
	return t ? sizeof(*t) + t->n * sizeof(*t->f) : 0;
}

void ehframe_funcs__free(struct ehframe_funcs *t)
{
	if (!t)
		return;
	free(t->f);
	free(t);
}
