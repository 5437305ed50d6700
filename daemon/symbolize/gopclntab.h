/* SPDX-License-Identifier: Apache-2.0 */
/* gopclntab: function names, files and lines from the table Go keeps in
 * every binary for its own tracebacks (.gopclntab), so that a Go program
 * linked with -ldflags='-s -w' (no .symtab, no DWARF) still names its
 * functions and source lines. It holds no inlining information (Go's inline
 * tree lives in funcdata not read here). Internal to symbolize/ (and its unit tests). */
#ifndef PROFD_SYMBOLIZE_GOPCLNTAB_H
#define PROFD_SYMBOLIZE_GOPCLNTAB_H

#include <stddef.h>
#include <stdint.h>

struct elf_sym_in;
struct gopclntab;

/* Table magics (little-endian uint32 at offset 0), by Go release. */
#define GOPCLNTAB_MAGIC_12 0xfffffffbu  /* Go 1.2 - 1.15 */
#define GOPCLNTAB_MAGIC_116 0xfffffffau /* Go 1.16 - 1.17 */
#define GOPCLNTAB_MAGIC_118 0xfffffff0u /* Go 1.18 - 1.19 */
#define GOPCLNTAB_MAGIC_120 0xfffffff1u /* Go 1.20 and later */

/* Functions kept from one table (a large Go binary has ~100k). */
#define GOPCLNTAB_MAX_FUNCS (4u << 20)

/* The functions of tab (the section's len bytes, little-endian, as mapped
 * at run time). text is the address of .text, the base of entry offsets
 * since Go 1.18 (the table's own copy may be unrelocated); 0 to trust the
 * table. On success *out is a malloc'ed array of *n symbols whose names
 * point into tab. Returns 0, -ENOEXEC (no known magic), -EINVAL (a table
 * that points outside itself), -ENOMEM. */
int gopclntab__symbols(const uint8_t *tab, size_t len, uint64_t text, struct elf_sym_in **out,
		       size_t *n);

/* A table kept for line lookups; takes tab (malloc'ed) in every case.
 * Returns 0, -ENOEXEC, -EINVAL or -ENOMEM like gopclntab__symbols(). */
int gopclntab__open(uint8_t *tab, size_t len, uint64_t text, struct gopclntab **out);
void gopclntab__free(struct gopclntab *t);
size_t gopclntab__bytes(const struct gopclntab *t);

/* Function, file and line of pc (an address in the binary's own terms).
 * Strings point into the table (NULL when unknown), line is 0 when
 * unknown. Returns 0, -ENOENT (pc in no function) or -EINVAL. */
int gopclntab__line(const struct gopclntab *t, uint64_t pc, const char **func,
		    const char **file, int *line);

#endif
