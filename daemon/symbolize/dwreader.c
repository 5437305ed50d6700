// SPDX-License-Identifier: Apache-2.0
/* dwreader: see dwreader.h. */
#include <dwarf.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "symbolize/dwreader.h"
#include "util/array.h"

void dwreader__free(struct dw_reader *r)
{
	if (!r)
		return;
	free(r->by_code);
	free(r->abbrevs);
	free(r->forms);
	free(r);
}

static bool form_known(unsigned int form)
{
	switch (form) {
	case DW_FORM_addr: case DW_FORM_block1: case DW_FORM_block2: case DW_FORM_block4:
	case DW_FORM_block: case DW_FORM_exprloc: case DW_FORM_data1: case DW_FORM_ref1:
	case DW_FORM_flag: case DW_FORM_strx1: case DW_FORM_addrx1: case DW_FORM_data2:
	case DW_FORM_ref2: case DW_FORM_strx2: case DW_FORM_addrx2: case DW_FORM_strx3:
	case DW_FORM_addrx3: case DW_FORM_data4: case DW_FORM_ref4: case DW_FORM_strx4:
	case DW_FORM_addrx4: case DW_FORM_ref_sup4: case DW_FORM_data8: case DW_FORM_ref8:
	case DW_FORM_ref_sig8: case DW_FORM_ref_sup8: case DW_FORM_data16: case DW_FORM_string:
	case DW_FORM_sdata: case DW_FORM_udata: case DW_FORM_ref_udata: case DW_FORM_strx:
	case DW_FORM_addrx: case DW_FORM_loclistx: case DW_FORM_rnglistx:
	case DW_FORM_GNU_addr_index: case DW_FORM_GNU_str_index: case DW_FORM_strp:
	case DW_FORM_line_strp: case DW_FORM_sec_offset: case DW_FORM_strp_sup:
	case DW_FORM_GNU_ref_alt: case DW_FORM_GNU_strp_alt: case DW_FORM_ref_addr:
	case DW_FORM_flag_present: case DW_FORM_implicit_const:
		return true;
	default:
		return false;
	}
}

/* Bytes of form in r's unit, -1 when the data says (LEB128, strings,
 * blocks). */
static int form_size(const struct dw_reader *r, unsigned int form)
{
	switch (form) {
	case DW_FORM_flag_present: case DW_FORM_implicit_const:
		return 0;
	case DW_FORM_addr:
		return r->addr_size;
	case DW_FORM_data1: case DW_FORM_ref1: case DW_FORM_flag: case DW_FORM_strx1:
	case DW_FORM_addrx1:
		return 1;
	case DW_FORM_data2: case DW_FORM_ref2: case DW_FORM_strx2: case DW_FORM_addrx2:
		return 2;
	case DW_FORM_strx3: case DW_FORM_addrx3:
		return 3;
	case DW_FORM_data4: case DW_FORM_ref4: case DW_FORM_strx4: case DW_FORM_addrx4:
	case DW_FORM_ref_sup4:
		return 4;
	case DW_FORM_data8: case DW_FORM_ref8: case DW_FORM_ref_sig8: case DW_FORM_ref_sup8:
		return 8;
	case DW_FORM_data16:
		return 16;
	case DW_FORM_strp: case DW_FORM_line_strp: case DW_FORM_sec_offset:
	case DW_FORM_strp_sup: case DW_FORM_GNU_ref_alt: case DW_FORM_GNU_strp_alt:
		return r->offset_size;
	case DW_FORM_ref_addr:
		return r->ref_addr_size;
	default:
		return -1;
	}
}

/* The fixed layout of a, when it has one. */
static void abbrev_layout(const struct dw_reader *r, struct dw_abbrev *a)
{
	int32_t at = 0;

	a->fixed = a->sib_at = a->low_at = a->high_at = -1;
	a->sib_size = 0;
	for (uint32_t i = 0; i < a->nattrs; i++) {
		unsigned int form = r->forms[a->forms + i];
		int n = form_size(r, form);

		if (n < 0)
			return;
		if ((int32_t)i == a->sibling && (form == DW_FORM_ref1 || form == DW_FORM_ref2 ||
						 form == DW_FORM_ref4 || form == DW_FORM_ref8)) {
			a->sib_at = at;
			a->sib_size = (uint8_t)n;
		}
		if ((int32_t)i == a->low)
			a->low_at = at;
		if ((int32_t)i == a->high)
			a->high_at = at;
		at += n;
	}
	a->fixed = at;
}

/* The reader of the unit whose DIE is cudie; NULL where libdw walks it (a
 * form not known here, too many abbreviations, no memory). */
struct dw_reader *dwreader__new(Dwarf *dw, Dwarf_Die *cudie)
{
	struct dw_reader *r = calloc(1, sizeof(*r));
	size_t nab = 0, abcap = 0, nforms = 0, formcap = 0, ncodes = 0, codecap = 0;
	Dwarf_Off die_off = dwarf_dieoffset(cudie), in_unit = dwarf_cuoffset(cudie), unit_off;
	Dwarf_Off next, aoff = 0, abbrev_off;
	uint32_t *codes = NULL, maxcode = 0;
	Dwarf_Die last;
	Dwarf_Half version;
	size_t hsize;
	uint8_t asize, osize;

	if (!r || in_unit > die_off || !cudie->addr)
		goto fail;
	unit_off = die_off - in_unit;
	if (dwarf_next_unit(dw, unit_off, &next, &hsize, &version, &abbrev_off, &asize, &osize,
			    NULL, NULL) ||
	    next <= die_off || hsize > in_unit || (asize != 4 && asize != 8) ||
	    (osize != 4 && osize != 8))
		goto fail;
	r->unit_off = unit_off;
	r->unit = (const unsigned char *)cudie->addr - in_unit;
	r->end = r->unit + (next - unit_off);
	/* The end the header says, checked with libdw, which knows where
	 * .debug_info ends: a bogus length reads nothing past it. */
	if (!dwarf_die_addr_die(dw, (void *)(r->end - 1), &last) || last.cu != cudie->cu)
		goto fail;
	r->addr_size = asize;
	r->offset_size = osize;
	r->ref_addr_size = version < 3 ? asize : osize;
	for (;;) {
		size_t len = 0, nattrs;
		Dwarf_Abbrev *ab = dwarf_getabbrev(cudie, aoff, &len);
		struct dw_abbrev a = { .sibling = -1, .low = -1, .high = -1, .forms = (uint32_t)nforms };
		uint32_t code;

		if (ab == DWARF_END_ABBREV)
			break;
		if (!ab || !len || nab >= DW_MAX_ABBREVS)
			goto fail;
		aoff += len;
		code = dwarf_getabbrevcode(ab);
		if (!code || code > DW_MAX_ABBREVS)
			goto fail;
		a.tag = (uint16_t)dwarf_getabbrevtag(ab);
		a.children = dwarf_abbrevhaschildren(ab) == 1;
		/* until the end of its list: dwarf_getattrcnt() (elfutils
		 * 0.188) misreads the value after a DW_FORM_implicit_const */
		for (nattrs = 0;; nattrs++) {
			unsigned int name, form;
			Dwarf_Sword data;
			Dwarf_Off off;
			uint16_t f;

			if (dwarf_getabbrevattr_data(ab, nattrs, &name, &form, &data, &off))
				break;
			if (nattrs >= DW_MAX_ABBREV_ATTRS || !form_known(form))
				goto fail;
			f = (uint16_t)form;
			if (name == DW_AT_low_pc || name == DW_AT_ranges)
				a.code = true;
			if (name == DW_AT_sibling && a.sibling < 0)
				a.sibling = (int32_t)nattrs;
			if (name == DW_AT_low_pc && a.low < 0)
				a.low = (int32_t)nattrs;
			if (name == DW_AT_high_pc && a.high < 0)
				a.high = (int32_t)nattrs;
			a.ranges |= name == DW_AT_ranges;
			if (array__push((void **)&r->forms, &nforms, &formcap, sizeof(f), &f, &r->bytes))
				goto fail;
		}
		a.nattrs = (uint32_t)nattrs;
		if (array__push((void **)&r->abbrevs, &nab, &abcap, sizeof(a), &a, &r->bytes) ||
		    array__push((void **)&codes, &ncodes, &codecap, sizeof(code), &code, &r->bytes))
			goto fail;
		if (code > maxcode)
			maxcode = code;
	}
	for (size_t i = 0; i < nab; i++)
		abbrev_layout(r, &r->abbrevs[i]);
	r->ncodes = maxcode + 1;
	r->by_code = calloc(r->ncodes, sizeof(*r->by_code));
	if (!r->by_code)
		goto fail;
	r->bytes += r->ncodes * sizeof(*r->by_code) + sizeof(*r);
	/* as libdw, the first abbreviation of a code wins */
	for (size_t i = 0; i < nab; i++)
		if (!r->by_code[codes[i]])
			r->by_code[codes[i]] = (uint16_t)(i + 1);
	free(codes);
	return r;
fail:
	free(codes);
	dwreader__free(r);
	return NULL;
}

/* An unsigned LEB128 at *p, below end; false if it does not end there or
 * does not fit 64 bits. */
bool dwreader__uleb(const unsigned char **p, const unsigned char *end, uint64_t *v)
{
	const unsigned char *q = *p;
	uint64_t x = 0;

	for (unsigned shift = 0; q < end; shift += 7) {
		unsigned char b = *q++;

		if (shift >= 64 || (shift == 63 && (b & 0x7e)))
			return false;
		x |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80)) {
			*p = q;
			*v = x;
			return true;
		}
	}
	return false;
}

uint64_t dwreader__le(const unsigned char *p, unsigned n)
{
	uint64_t v = 0;

	for (unsigned i = n; i-- > 0;)
		v = (v << 8) | p[i];
	return v;
}

/* Skip one attribute of form at *p; a reference inside the unit (ref1-8,
 * ref_udata) is stored in *ref. false when malformed. */
static bool skip_form(const struct dw_reader *r, unsigned int form, const unsigned char **p,
		      uint64_t *ref)
{
	const unsigned char *q = *p, *end = r->end;
	uint64_t n = 0;

	switch (form) {
	case DW_FORM_flag_present: case DW_FORM_implicit_const:
		return true;
	case DW_FORM_addr:
		n = r->addr_size;
		break;
	case DW_FORM_data1: case DW_FORM_ref1: case DW_FORM_flag: case DW_FORM_strx1:
	case DW_FORM_addrx1:
		n = 1;
		break;
	case DW_FORM_data2: case DW_FORM_ref2: case DW_FORM_strx2: case DW_FORM_addrx2:
		n = 2;
		break;
	case DW_FORM_strx3: case DW_FORM_addrx3:
		n = 3;
		break;
	case DW_FORM_data4: case DW_FORM_ref4: case DW_FORM_strx4: case DW_FORM_addrx4:
	case DW_FORM_ref_sup4:
		n = 4;
		break;
	case DW_FORM_data8: case DW_FORM_ref8: case DW_FORM_ref_sig8: case DW_FORM_ref_sup8:
		n = 8;
		break;
	case DW_FORM_data16:
		n = 16;
		break;
	case DW_FORM_strp: case DW_FORM_line_strp: case DW_FORM_sec_offset:
	case DW_FORM_strp_sup: case DW_FORM_GNU_ref_alt: case DW_FORM_GNU_strp_alt:
		n = r->offset_size;
		break;
	case DW_FORM_ref_addr:
		n = r->ref_addr_size;
		break;
	case DW_FORM_sdata: case DW_FORM_udata: case DW_FORM_ref_udata: case DW_FORM_strx:
	case DW_FORM_addrx: case DW_FORM_loclistx: case DW_FORM_rnglistx:
	case DW_FORM_GNU_addr_index: case DW_FORM_GNU_str_index:
		if (!dwreader__uleb(&q, end, &n))
			return false;
		if (form == DW_FORM_ref_udata)
			*ref = n;
		*p = q;
		return true;
	case DW_FORM_string:
		q = memchr(q, 0, (size_t)(end - q));
		if (!q)
			return false;
		*p = q + 1;
		return true;
	case DW_FORM_block1: case DW_FORM_block2: case DW_FORM_block4: {
		unsigned w = form == DW_FORM_block1 ? 1 : form == DW_FORM_block2 ? 2 : 4;

		if ((size_t)(end - q) < w)
			return false;
		n = dwreader__le(q, w);
		q += w;
		break;
	}
	case DW_FORM_block: case DW_FORM_exprloc:
		if (!dwreader__uleb(&q, end, &n))
			return false;
		break;
	default:
		return false;
	}
	if (n > (uint64_t)(end - q))
		return false;
	if (form == DW_FORM_ref1 || form == DW_FORM_ref2 || form == DW_FORM_ref4 ||
	    form == DW_FORM_ref8)
		*ref = dwreader__le(q, (unsigned)n);
	*p = q + n;
	return true;
}

/* The DIE at *p: its abbreviation, *p moved past its attributes, *sib its
 * next sibling when DW_AT_sibling gives one (forward, inside the unit) or
 * NULL, and for a DIE of code where its DW_AT_low_pc and DW_AT_high_pc
 * are (pc[0], pc[1]). NULL for the end of a list of siblings (*p past it)
 * and when malformed (*p set to NULL). */
const struct dw_abbrev *dwreader__die(const struct dw_reader *r, const unsigned char **p,
					const unsigned char **sib, const unsigned char *pc[2])
{
	const unsigned char *q = *p;
	const struct dw_abbrev *a;
	uint64_t code;

	*sib = NULL;
	pc[0] = pc[1] = NULL;
	if (!dwreader__uleb(&q, r->end, &code))
		goto bad;
	if (!code) {
		*p = q;
		return NULL;
	}
	if (code >= r->ncodes || !r->by_code[code])
		goto bad;
	a = &r->abbrevs[r->by_code[code] - 1];
	if (a->fixed >= 0) {
		if ((uint64_t)a->fixed > (uint64_t)(r->end - q))
			goto bad;
		if (a->sib_at >= 0) {
			uint64_t ref = dwreader__le(q + a->sib_at, a->sib_size);

			if (ref < (uint64_t)(r->end - r->unit))
				*sib = r->unit + ref;
		}
		if (a->code && a->low_at >= 0)
			pc[0] = q + a->low_at;
		if (a->code && a->high_at >= 0)
			pc[1] = q + a->high_at;
		q += a->fixed;
		goto done;
	}
	for (uint32_t i = 0; i < a->nattrs; i++) {
		uint64_t ref = UINT64_MAX;

		if (a->code && (int32_t)i == a->low)
			pc[0] = q;
		if (a->code && (int32_t)i == a->high)
			pc[1] = q;
		if (!skip_form(r, r->forms[a->forms + i], &q, &ref))
			goto bad;
		if ((int32_t)i == a->sibling && ref < (uint64_t)(r->end - r->unit))
			*sib = r->unit + ref;
	}
done:
	if (*sib && *sib <= q)
		*sib = NULL;
	*p = q;
	return a;
bad:
	*p = NULL;
	return NULL;
}

/* Past the children of the DIE whose attributes end at p; NULL when
 * malformed. Each step moves forward: bounded by the unit's size. */
const unsigned char *dwreader__skip_children(const struct dw_reader *r, const unsigned char *p)
{
	size_t level = 1;

	while (level > 0 && p) {
		const unsigned char *sib, *pc[2];
		const struct dw_abbrev *a = dwreader__die(r, &p, &sib, pc);

		if (!a) {
			level -= p != NULL; /* end of a list */
			continue;
		}
		if (a->children) {
			if (sib)
				p = sib;
			else
				level++;
		}
	}
	return p;
}
