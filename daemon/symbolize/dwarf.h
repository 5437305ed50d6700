/* SPDX-License-Identifier: Apache-2.0 */
/* dwarf: source lines and inline chains from DWARF through elfutils' libdw.
 * A compile unit's functions are indexed the first time an address falls
 * into it, a function's inlined calls the first time an address falls in
 * that function, so a large binary costs in proportion to the code a
 * profile touches. Internal to symbolize/ (and its unit tests). */
#ifndef PROFD_SYMBOLIZE_DWARF_H
#define PROFD_SYMBOLIZE_DWARF_H

#include <stddef.h>
#include <stdint.h>

/* Bounds for hostile or absurd input. */
#define DWARF_MAX_UNITS (1u << 20)          /* compile units considered */
#define DWARF_MAX_UNIT_DIES (16u << 20)     /* DIEs walked in one unit */
#define DWARF_MAX_DEPTH 256                 /* DIE nesting followed */
#define DWARF_MAX_RANGES_PER_DIE 4096       /* address ranges kept per DIE */
#define DWARF_MAX_CHAIN 64                  /* inline nesting resolved */

struct dwarf_file;

/* One function of an inline chain. Strings point into the debug file and
 * stay valid until dwarf_file__free(). */
struct dwarf_line {
	const char *name;      /* DW_AT_name (through abstract origin), NULL if none */
	const char *linkage;   /* DW_AT_linkage_name, NULL if none */
	const char *file;      /* source file of line, NULL if unknown */
	int line;              /* 0 if unknown */
	const char *decl_file; /* where the function is declared, NULL if unknown */
	int decl_line;
	const char *comp_dir;  /* the unit's DW_AT_comp_dir, base of relative files */
};

/* Open the DWARF of the ELF file on fd. The file is mapped; fd is not
 * kept and may be closed after the call. Returns 0, -ENOEXEC (not ELF),
 * -ENODATA (no DWARF), -ENOMEM. */
int dwarf_file__open(int fd, struct dwarf_file **out);
void dwarf_file__free(struct dwarf_file *df);

/* The chain at vaddr (an address in the ELF file's own terms), innermost
 * function first, the function holding the code last, at most max lines:
 * deeper chains keep their innermost max - 1 and the outermost. When a line
 * table covers vaddr but no function does (assembly), one line with name
 * NULL. Returns the number of lines, 0 when DWARF knows nothing of vaddr. */
int dwarf_file__lookup(struct dwarf_file *df, uint64_t vaddr, struct dwarf_line *out,
		       size_t max);

/* Heap bytes: our indexes plus an estimate of libdw's per-unit state and of
 * sections it inflated. The mapped file itself is not counted: its pages
 * are clean, shared and reclaimable, and unmapped by dwarf_file__free(). */
size_t dwarf_file__bytes(const struct dwarf_file *df);

#endif
