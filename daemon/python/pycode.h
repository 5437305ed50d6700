/* SPDX-License-Identifier: Apache-2.0 */
/* pycode: CPython object layouts per version and parsers of what profd reads
 * from a Python process's memory — code object headers, str objects, the
 * 3.11+ location table. The memory is the target's: every parser takes a
 * length and survives any bytes. */
#ifndef PROFD_PYCODE_H
#define PROFD_PYCODE_H

#include <stddef.h>
#include <stdint.h>

/* Offsets of one CPython minor version (release builds, x86-64). */
struct py_layout {
	int minor;
	/* interpreter (BPF walk) */
	uint16_t tss_key;           /* autoTSSkey's pthread_key_t in _PyRuntime */
	uint32_t gil_cond;          /* the main interpreter's gil->cond in _PyRuntime */
	uint16_t ts_cframe, cf_current_frame; /* ts_cframe PROFD_PY_NO_CFRAME: 3.13 */
	uint16_t fr_code, fr_previous, fr_instr, fr_entry;
	uint8_t entry_kind;         /* PROFD_PY_ENTRY_*: what fr_entry holds */
	uint8_t instr_kind;         /* PROFD_PY_INSTR_*: what fr_instr holds */
	/* PyCodeObject */
	uint16_t co_size;           /* bytes read: up to co_code_adaptive */
	uint16_t co_firstlineno, co_filename, co_name, co_qualname, co_linetable;
	/* str and bytes */
	uint16_t ascii_data;        /* sizeof(PyASCIIObject) */
	uint16_t bytes_data;        /* offsetof(PyBytesObject, ob_sval) */
};

/* The layout of 3.minor, NULL if profd does not know it. */
const struct py_layout *py_layout_get(int minor);

/* Pointers and numbers of a code object header (co_size bytes of hdr). */
struct py_code_hdr {
	uint64_t type;
	uint64_t filename, name, qualname, linetable;
	int32_t firstlineno;
};

/* Returns 0, or -EINVAL when len is short or the fields are implausible
 * (null pointers, negative first line). */
int py_code_parse(const struct py_layout *lay, const uint8_t *hdr, size_t len,
		  struct py_code_hdr *out);

/* A str object's first len bytes (its header and, for a compact ASCII
 * string, its data) → *n_out = characters, *data_off = where they start.
 * Returns 0, -ENOTSUP for a non-ASCII string, -EINVAL for garbage. */
int py_str_parse(const struct py_layout *lay, const uint8_t *obj, size_t len, size_t *n_out,
		 size_t *data_off);

/* A bytes object's header → its size (ob_size). -EINVAL for garbage. */
int py_bytes_size(const uint8_t *obj, size_t len, size_t *size);

/* 3.11+ location table: the line of code unit idx, starting from
 * firstlineno. Returns the line (> 0), 0 when the instruction has no line,
 * -ENOENT when idx is past the table, -EINVAL when the table is malformed. */
int py_linetable_line(const uint8_t *tab, size_t len, int firstlineno, uint32_t idx);

/* 3.10 co_linetable: (bytecode delta, signed line delta) pairs, a line
 * delta of -128 = no line. Same results as py_linetable_line(). */
int py_linetable310_line(const uint8_t *tab, size_t len, int firstlineno, uint32_t idx);

#endif
