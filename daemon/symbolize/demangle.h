/* SPDX-License-Identifier: Apache-2.0 */
/* demangle: C++ (Itanium ABI, through libstdc++'s __cxa_demangle) and Rust
 * legacy symbol names into the names pprof shows. Internal to symbolize/ (and its unit tests). */
#ifndef PROFD_SYMBOLIZE_DEMANGLE_H
#define PROFD_SYMBOLIZE_DEMANGLE_H

/* Longest mangled name handed to the demangler; longer ones stay mangled
 * (the demangler's recursion grows with the input). */
#define DEMANGLE_MAX_INPUT 8192

/* The readable form of name in the given SYM_DEMANGLE_* style (malloc'ed,
 * caller frees), or NULL when name is not a mangled name this code knows
 * (C names, Rust v0 "_R" names, which pprof demangles itself when
 * name == system_name) or memory ran out.
 *   SIMPLE: pprof's default: no parameters, template arguments, return
 *           type or clone suffix: "ns::Class::method".
 *   FULL:   the demangler's output without clone suffixes.
 * Rust legacy names lose their "::h<16 hex>" hash and "$LT$"-style escapes
 * in both styles. */
char *sym_demangle(const char *name, int style);

#endif
