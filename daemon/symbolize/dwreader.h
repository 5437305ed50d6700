/* SPDX-License-Identifier: Apache-2.0 */
/* dwreader: the DIEs of one DWARF unit read with its abbreviation table.
 * Walking a unit through libdw (dwarf_child, dwarf_siblingof, dwarf_tag)
 * looks each DIE's abbreviation up in a locked hash table and skips its
 * attributes one form at a time, several hundred instructions a DIE: most
 * of the cost of indexing a large C++ unit. dwarf.c's walk reads the DIEs
 * through this instead, with the unit's abbreviations (read through
 * dwarf_getabbrev()) in a table by code, and hands libdw the few DIEs whose
 * attributes it needs. A unit whose abbreviations use a form not known here
 * gets no reader (dwarf.c walks it through libdw). Every read is checked
 * against the unit's end, whose place libdw confirms; a walk only moves
 * forward. Internal to symbolize/. */
#ifndef PROFD_SYMBOLIZE_DWREADER_H
#define PROFD_SYMBOLIZE_DWREADER_H

#include <elfutils/libdw.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DW_MAX_ABBREVS 65535u
#define DW_MAX_ABBREV_ATTRS 1024u

struct dw_abbrev {
	uint16_t tag;
	bool children;
	bool code;       /* has DW_AT_low_pc or DW_AT_ranges */
	bool ranges;     /* has DW_AT_ranges */
	int32_t sibling; /* index of DW_AT_sibling in its attributes, or -1 */
	int32_t low, high; /* of DW_AT_low_pc and DW_AT_high_pc, or -1 */
	/* When every form has a fixed size: the attributes' bytes, and where
	 * the sibling (sib_size bytes), low and high pc are in them; else
	 * fixed is -1 and the attributes are read one by one. */
	int32_t fixed, sib_at, low_at, high_at;
	uint8_t sib_size;
	uint32_t nattrs;
	uint32_t forms;  /* its first form in dw_reader.forms */
};

struct dw_reader {
	const unsigned char *unit, *end; /* the unit, header included */
	Dwarf_Off unit_off;              /* its offset in .debug_info */
	uint8_t addr_size, offset_size, ref_addr_size;
	uint16_t *by_code;               /* code -> abbrevs index + 1; 0 none */
	uint32_t ncodes;
	struct dw_abbrev *abbrevs;
	uint16_t *forms;
	size_t bytes;
};

/* The reader of the unit whose DIE is cudie; NULL where libdw must walk it
 * (a form not known here, too many abbreviations, a bad header, no
 * memory). */
struct dw_reader *dwreader__new(Dwarf *dw, Dwarf_Die *cudie);
void dwreader__free(struct dw_reader *r);

/* The DIE at *p: its abbreviation, *p moved past its attributes, *sib its
 * next sibling when DW_AT_sibling gives one (forward, inside the unit) or
 * NULL, and for a DIE of code where its DW_AT_low_pc and DW_AT_high_pc
 * are (pc[0], pc[1]), inside the unit. NULL for the end of a list of
 * siblings (*p past it) and when malformed (*p set to NULL). */
const struct dw_abbrev *dwreader__die(const struct dw_reader *r, const unsigned char **p,
				      const unsigned char **sib, const unsigned char *pc[2]);
/* Past the children of the DIE whose attributes end at p; NULL when
 * malformed. */
const unsigned char *dwreader__skip_children(const struct dw_reader *r, const unsigned char *p);

/* An unsigned LEB128 at *p, below end; false if it does not end there or
 * does not fit 64 bits. */
bool dwreader__uleb(const unsigned char **p, const unsigned char *end, uint64_t *v);
/* n (<= 8) bytes little-endian at p. */
uint64_t dwreader__le(const unsigned char *p, unsigned n);

#endif
