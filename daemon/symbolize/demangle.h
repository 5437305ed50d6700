/* SPDX-License-Identifier: Apache-2.0 */
/* demangle: C++ (Itanium ABI, through libstdc++'s __cxa_demangle) and Rust
 * legacy symbol names into the names pprof shows. The styles are the
 * symbolizer's option (symbolizer.h includes this header); sym_demangle()
 * is for symbolize/ and its unit tests. */
#ifndef PROFD_SYMBOLIZE_DEMANGLE_H
#define PROFD_SYMBOLIZE_DEMANGLE_H

/* Longest mangled name handed to the demangler; longer ones stay mangled
 * (the demangler's recursion grows with the input). */
#define DEMANGLE_MAX_INPUT 8192

/* How C++ names are shown in sym_line.name (Rust legacy names lose their
 * hash in every style but NONE). */
enum sym_demangle_style {
	SYM_DEMANGLE_SIMPLE, /* pprof's default: "ns::Class::method" */
	SYM_DEMANGLE_FULL,   /* "ns::Class::method(int) const" */
	SYM_DEMANGLE_NONE,   /* the mangled name (pprof demangles it itself) */
};

/* The readable form of name in the given SYM_DEMANGLE_* style (malloc'ed,
 * caller frees), or NULL when name is not a mangled name this code knows
 * (C names, Rust v0 "_R" names, which pprof demangles itself when
 * name == system_name) or memory ran out.
 *   SIMPLE: pprof's default: no parameters, template arguments, return
 *           type or clone suffix: "ns::Class::method".
 *   FULL:   the demangler's output without clone suffixes.
 * Rust legacy names lose their "::h<16 hex>" hash and "$LT$"-style escapes
 * in both styles. */
char *sym_demangle(const char *name, enum sym_demangle_style style);

#endif
