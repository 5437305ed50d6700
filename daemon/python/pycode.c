// SPDX-License-Identifier: Apache-2.0
/* pycode: CPython layouts and parsers of untrusted interpreter memory. */
#include <errno.h>
#include <string.h>

#include "profd/python.h"
#include "python/pycode.h"

/* Measured with offsetof() against Debian's 3.11.2 and pyenv's 3.11.7,
 * 3.12.1 and 3.13.0 headers (docs: PYTHON.md), and checked by
 * tests/integration/test_python.sh on each interpreter present. */
static const struct py_layout layouts[] = {
	{
		.minor = 10,
		.tss_key = 0x248 + 4,
		.gil_cond = 0x180, /* ceval.gil.cond */
		.ts_cframe = PROFD_PY_NO_CFRAME,
		.cf_current_frame = 0x18, /* tstate->frame: the PyFrameObject */
		.fr_code = 0x20,
		.fr_previous = 0x18, /* f_back */
		.fr_instr = 0x60,    /* f_lasti, in code units */
		.fr_entry = 0,
		.entry_kind = PROFD_PY_ENTRY_ONE,
		.instr_kind = PROFD_PY_INSTR_INDEX,
		.co_size = 0x80,
		.co_firstlineno = 0x28,
		.co_filename = 0x68,
		.co_name = 0x70,
		.co_qualname = 0x70, /* no co_qualname before 3.11: co_name */
		.co_linetable = 0x78,
		.ascii_data = 48,
		.bytes_data = 0x20,
	},
	{
		.minor = 11,
		.tss_key = 0x250 + 4, /* Py_tss_t { int _is_initialized; pthread_key_t _key; } */
		.gil_cond = 0x188, /* ceval.gil.cond */
		.ts_cframe = 0x38,
		.cf_current_frame = 0x8,
		.fr_code = 0x20,
		.fr_previous = 0x30,
		.fr_instr = 0x38,
		.fr_entry = 0x44, /* is_entry */
		.entry_kind = PROFD_PY_ENTRY_FLAG,
		.co_size = 184,
		.co_firstlineno = 0x48,
		.co_filename = 0x70,
		.co_name = 0x78,
		.co_qualname = 0x80,
		.co_linetable = 0x88,
		.ascii_data = 48,
		.bytes_data = 0x20,
	},
	{
		.minor = 12,
		.tss_key = 0x608 + 4,
		.gil_cond = 0x12e98, /* _main_interpreter._gil.cond */
		.ts_cframe = 0x38,
		.cf_current_frame = 0x0,
		.fr_code = 0x0,
		.fr_previous = 0x8,
		.fr_instr = 0x38,
		.fr_entry = 0x46, /* owner */
		.entry_kind = PROFD_PY_ENTRY_CSTACK,
		.co_size = 192,
		.co_firstlineno = 0x44,
		.co_filename = 0x70,
		.co_name = 0x78,
		.co_qualname = 0x80,
		.co_linetable = 0x88,
		.ascii_data = 40,
		.bytes_data = 0x20,
	},
	{
		.minor = 13,
		.tss_key = 0x870 + 4,
		.gil_cond = 0x17788, /* _main_interpreter._gil.cond */
		.ts_cframe = PROFD_PY_NO_CFRAME,
		.cf_current_frame = 0x48,
		.fr_code = 0x0, /* f_executable: the code object, or None (CSTACK) */
		.fr_previous = 0x8,
		.fr_instr = 0x38,
		.fr_entry = 0x46, /* owner */
		.entry_kind = PROFD_PY_ENTRY_CSTACK,
		.co_size = 200,
		.co_firstlineno = 0x44,
		.co_filename = 0x70,
		.co_name = 0x78,
		.co_qualname = 0x80,
		.co_linetable = 0x88,
		.ascii_data = 40,
		.bytes_data = 0x20,
	},
};

const struct py_layout *py_layout_get(int minor)
{
	for (size_t i = 0; i < sizeof(layouts) / sizeof(layouts[0]); i++)
		if (layouts[i].minor == minor)
			return &layouts[i];
	return NULL;
}

static uint64_t u64_at(const uint8_t *p, size_t off)
{
	uint64_t v;

	memcpy(&v, p + off, sizeof(v));
	return v;
}

static int user_ptr(uint64_t v)
{
	return v >= 0x1000 && v < (1ULL << 47) && !(v & 7);
}

int py_code_parse(const struct py_layout *lay, const uint8_t *hdr, size_t len,
		  struct py_code_hdr *out)
{
	int32_t line;

	if (!lay || len < lay->co_size || lay->co_size < lay->co_linetable + 8)
		return -EINVAL;
	out->type = u64_at(hdr, 8);
	out->filename = u64_at(hdr, lay->co_filename);
	out->name = u64_at(hdr, lay->co_name);
	out->qualname = u64_at(hdr, lay->co_qualname);
	out->linetable = u64_at(hdr, lay->co_linetable);
	memcpy(&line, hdr + lay->co_firstlineno, sizeof(line));
	out->firstlineno = line;
	if (!user_ptr(out->type) || !user_ptr(out->filename) || !user_ptr(out->name) ||
	    !user_ptr(out->qualname) || !user_ptr(out->linetable) || line < 0)
		return -EINVAL;
	return 0;
}

/* PyASCIIObject: length at 0x10, state bits at 0x20 (interned:2, kind:3,
 * compact:1, ascii:1, ready:1 from bit 0, as GCC lays them out). */
int py_str_parse(const struct py_layout *lay, const uint8_t *obj, size_t len, size_t *n_out,
		 size_t *data_off)
{
	uint64_t n;
	uint32_t state;

	if (!lay || len < lay->ascii_data || lay->ascii_data < 0x24)
		return -EINVAL;
	n = u64_at(obj, 0x10);
	memcpy(&state, obj + 0x20, sizeof(state));
	if (n > (1U << 20))
		return -EINVAL;
	if (!(state & (1U << 5)) || !(state & (1U << 6)))
		return -ENOTSUP; /* not compact ASCII */
	*n_out = n;
	*data_off = lay->ascii_data;
	return 0;
}

int py_bytes_size(const uint8_t *obj, size_t len, size_t *size)
{
	uint64_t n;

	if (len < 0x18)
		return -EINVAL;
	n = u64_at(obj, 0x10);
	if (n > (1U << 24))
		return -EINVAL;
	*size = n;
	return 0;
}

/* 6 bits a byte, bit 6 = more. Returns 0 or -EINVAL (past the end, or too
 * long to be a line delta). */
static int varint(const uint8_t *tab, size_t len, size_t *i, uint32_t *out)
{
	uint32_t v = 0;
	unsigned shift = 0;
	uint8_t b;

	do {
		if (*i >= len || shift > 24)
			return -EINVAL;
		b = tab[(*i)++];
		v |= (uint32_t)(b & 63) << shift;
		shift += 6;
	} while (b & 64);
	*out = v;
	return 0;
}

static int svarint(const uint8_t *tab, size_t len, size_t *i, int32_t *out)
{
	uint32_t v;

	if (varint(tab, len, i, &v))
		return -EINVAL;
	*out = (v & 1) ? -(int32_t)(v >> 1) : (int32_t)(v >> 1);
	return 0;
}

int py_linetable_line(const uint8_t *tab, size_t len, int firstlineno, uint32_t idx)
{
	int64_t line = firstlineno;
	uint64_t addr = 0;
	size_t i = 0;

	while (i < len) {
		uint8_t b = tab[i++];
		unsigned code = (b >> 3) & 15, units = (b & 7) + 1;
		int has_line = 1;
		int32_t d;
		uint32_t skip;

		if (!(b & 0x80))
			return -EINVAL;
		switch (code) {
		case 15: /* no location */
			has_line = 0;
			break;
		case 14: /* long form: line delta, end line delta, columns */
			if (svarint(tab, len, &i, &d) || varint(tab, len, &i, &skip) ||
			    varint(tab, len, &i, &skip) || varint(tab, len, &i, &skip))
				return -EINVAL;
			line += d;
			break;
		case 13: /* no column */
			if (svarint(tab, len, &i, &d))
				return -EINVAL;
			line += d;
			break;
		case 10:
		case 11:
		case 12: /* one line: line += code - 10, two column bytes */
			line += code - 10;
			if (len - i < 2)
				return -EINVAL;
			i += 2;
			break;
		default: /* short form: same line, one column byte */
			if (i >= len)
				return -EINVAL;
			i++;
			break;
		}
		if (line < 0 || line > INT32_MAX)
			return -EINVAL;
		if (idx < addr + units)
			return has_line ? (int)line : 0;
		addr += units;
	}
	return -ENOENT;
}

int py_linetable310_line(const uint8_t *tab, size_t len, int firstlineno, uint32_t idx)
{
	uint64_t addr = (uint64_t)idx * 2, end = 0;
	int64_t line = firstlineno;

	if (len & 1)
		return -EINVAL;
	for (size_t i = 0; i + 1 < len; i += 2) {
		int8_t ld = (int8_t)tab[i + 1];
		int has_line = ld != -128;

		end += tab[i];
		if (has_line)
			line += ld;
		if (line < 0 || line > INT32_MAX)
			return -EINVAL;
		if (addr < end)
			return has_line ? (int)line : 0;
	}
	return -ENOENT;
}
