// SPDX-License-Identifier: Apache-2.0
/* unwind table builder: hand-built CFI for every pointer encoding, augmentation
 * and CFA opcode; programs compiled here (hand-written CFI, frame-pointer
 * prologues, stack realignment, lazy PLT, .debug_frame); corrupt input; and a
 * differential test against elfutils on system libraries. */
#include <dwarf.h>
#include <elfutils/libdw.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "profd/walker.h"
#include "unwind/unwind.h"

/* ---- byte buffers for hand-built CFI ------------------------------------ */

struct buf {
	__u8 *d;
	size_t n, cap;
};

static void put(struct buf *b, const void *p, size_t n)
{
	if (b->n + n > b->cap) {
		b->cap = (b->n + n) * 2 + 256;
		b->d = realloc(b->d, b->cap);
		if (!b->d)
			abort();
	}
	memcpy(b->d + b->n, p, n);
	b->n += n;
}

static void put_uint(struct buf *b, __u64 v, int n)
{
	for (int i = 0; i < n; i++) {
		__u8 c = (__u8)(v >> (8 * i));

		put(b, &c, 1);
	}
}

static void put_uleb(struct buf *b, __u64 v)
{
	do {
		__u8 c = v & 0x7f;

		v >>= 7;
		if (v)
			c |= 0x80;
		put(b, &c, 1);
	} while (v);
}

static void put_sleb(struct buf *b, __s64 v)
{
	for (;;) {
		__u8 c = v & 0x7f;

		v >>= 7;
		if ((v == 0 && !(c & 0x40)) || (v == -1 && (c & 0x40))) {
			put(b, &c, 1);
			return;
		}
		c |= 0x80;
		put(b, &c, 1);
	}
}

/* A pointer in encoding enc, stored at vaddr `at` (for pcrel/aligned). */
static void put_enc(struct buf *b, __u8 enc, __u64 v, __u64 at)
{
	if ((enc & 0x70) == DW_EH_PE_pcrel)
		v -= at;
	if ((enc & 0x70) == DW_EH_PE_aligned)
		while (at++ & 7)
			put_uint(b, 0, 1);
	switch (enc & 0x0f) {
	case DW_EH_PE_absptr:
	case DW_EH_PE_udata8:
	case DW_EH_PE_sdata8:
		put_uint(b, v, 8);
		break;
	case DW_EH_PE_udata2:
	case DW_EH_PE_sdata2:
		put_uint(b, v, 2);
		break;
	case DW_EH_PE_udata4:
	case DW_EH_PE_sdata4:
		put_uint(b, v, 4);
		break;
	case DW_EH_PE_uleb128:
		put_uleb(b, v);
		break;
	case DW_EH_PE_sleb128:
		put_sleb(b, (__s64)v);
		break;
	}
}

/* The usual x86-64 CIE program: CFA = rsp + 8, RA at CFA - 8. */
static const __u8 std_init[] = { DW_CFA_def_cfa, 7, 8, DW_CFA_offset | 16, 1 };

struct cie_spec {
	__u8 version;	 /* 0: 1 */
	const char *aug; /* NULL: "zR" */
	__u8 fde_enc;	 /* with 'R' */
	const __u8 *augdata; /* raw augmentation data instead of the 'R' byte */
	size_t augdata_len;
	const __u8 *init; /* NULL: std_init */
	size_t init_len;
	__u64 caf;  /* 0: 1 */
	bool wide;  /* 64-bit DWARF format */
	bool debug; /* .debug_frame layout */
};

static size_t begin_entry(struct buf *b, bool wide)
{
	size_t off = b->n;

	if (wide) {
		put_uint(b, 0xffffffff, 4);
		put_uint(b, 0, 8);
	} else {
		put_uint(b, 0, 4);
	}
	return off;
}

static void end_entry(struct buf *b, size_t off, bool wide)
{
	size_t hdr = wide ? 12 : 4;
	__u64 len;

	len = b->n - off - hdr;
	for (int i = 0; i < (wide ? 8 : 4); i++)
		b->d[off + (wide ? 4 : 0) + i] = (__u8)(len >> (8 * i));
}

static size_t add_cie(struct buf *b, const struct cie_spec *c)
{
	const char *aug = c->aug ? c->aug : "zR";
	__u8 version = c->version ? c->version : 1;
	size_t off = begin_entry(b, c->wide);

	if (c->debug)
		put_uint(b, ~0ULL, c->wide ? 8 : 4);
	else
		put_uint(b, 0, c->wide ? 8 : 4);
	put(b, &version, 1);
	put(b, aug, strlen(aug) + 1);
	if (version == 4) {
		put_uint(b, 8, 1);
		put_uint(b, 0, 1);
	}
	put_uleb(b, c->caf ? c->caf : 1);
	put_sleb(b, -8);
	if (version == 1)
		put_uint(b, 16, 1);
	else
		put_uleb(b, 16);
	if (aug[0] == 'z') {
		if (c->augdata) {
			put_uleb(b, c->augdata_len);
			put(b, c->augdata, c->augdata_len);
		} else {
			put_uleb(b, 1);
			put(b, &c->fde_enc, 1);
		}
	}
	if (c->init)
		put(b, c->init, c->init_len);
	else
		put(b, std_init, sizeof(std_init));
	end_entry(b, off, c->wide);
	return off;
}

struct fde_spec {
	size_t cie;
	__u8 enc;
	__u64 start, range;
	const __u8 *prog;
	size_t prog_len;
	bool z;			  /* CIE has 'z': write the augmentation length */
	const __u8 *augdata;	  /* FDE augmentation data (LSDA pointer...) */
	size_t augdata_len;
	bool wide, debug;
};

/* sec_vaddr: where the section is loaded (pcrel base). */
static void add_fde(struct buf *b, __u64 sec_vaddr, const struct fde_spec *f)
{
	size_t off = begin_entry(b, f->wide);
	size_t idpos = b->n;

	if (f->debug)
		put_uint(b, f->cie, f->wide ? 8 : 4);
	else
		put_uint(b, idpos - f->cie, f->wide ? 8 : 4);
	put_enc(b, f->enc, f->start, sec_vaddr + b->n);
	put_enc(b, f->enc & 0x0f, f->range, sec_vaddr + b->n);
	if (f->z) {
		put_uleb(b, f->augdata_len);
		if (f->augdata_len)
			put(b, f->augdata, f->augdata_len);
	}
	put(b, f->prog, f->prog_len);
	end_entry(b, off, f->wide);
}

#define EH_VADDR 0x100ULL /* .eh_frame below the code, so pcrel values are positive */
#define FN 0x1000ULL	  /* start of the function most cases describe */
#define FN_LEN 0x100ULL
#define PCREL4 (DW_EH_PE_pcrel | DW_EH_PE_sdata4)

/* One standard CIE and one FDE [FN, FN + FN_LEN) running prog. */
static struct unwind_table *one_fde(const __u8 *prog, size_t len, struct unwind_stats *st)
{
	struct cie_spec cs = { .fde_enc = PCREL4 };
	struct buf b = { 0 };
	struct unwind_input in = { 0 };
	struct unwind_table *t;
	size_t cie = add_cie(&b, &cs);

	add_fde(&b, EH_VADDR,
		&(struct fde_spec){ .cie = cie, .enc = PCREL4, .start = FN, .range = FN_LEN,
				    .prog = prog, .prog_len = len, .z = true });
	put_uint(&b, 0, 4);
	in.eh_frame = b.d;
	in.eh_frame_size = b.n;
	in.eh_frame_vaddr = EH_VADDR;
	t = unwind_table__build_raw(&in, st);
	free(b.d);
	return t;
}

/* ---- expected rules ------------------------------------------------------ */

/* Variadic wrappers so that SAME/AT_CFA() below may expand to two arguments. */
#define RULE(...) RULE_(__VA_ARGS__)
#define REGR(...) REGR_(__VA_ARGS__)
#define RULE_(k, r, o, a, bh, bo, rh, ro)                                                   \
	((struct profd_unw_rule){ .cfa_kind = (k), .cfa_reg = (r), .cfa_off = (o), .cfa_aux = (a), \
				  .rbp_how = (bh), .rbp_off = (bo), .ra_how = (rh), .ra_off = (ro) })
/* CFA = reg + off, rbp as given, RA at CFA - 8 */
#define REGR_(r, o, bh, bo) RULE_(PROFD_UNW_CFA_REG, r, o, 0, bh, bo, PROFD_UNW_RA_AT_CFA, -8)
#define RSP(off) REGR(PROFD_UNW_REG_RSP, off, PROFD_UNW_RBP_SAME, 0)

static void rule_str(unsigned int id, const struct profd_unw_rule *r, char *s, size_t n)
{
	static const char *const cmds[] = { "FRAME_POINTER", "STOP", "SIGNAL", "INVALID" };

	if (PROFD_UNW_IS_CMD(id)) {
		unsigned int cmd = PROFD_UNW_CMD_OF(id);

		snprintf(s, n, "%s(%s)", cmd < 4 ? cmds[cmd] : "?",
			 cmd == PROFD_UNW_CMD_INVALID ? unwind_invalid__str(PROFD_UNW_ARG_OF(id)) :
							"");
		return;
	}
	snprintf(s, n, "cfa{kind %u reg %u off %d aux %d} rbp{%u %d} ra{%u %d}", r->cfa_kind,
		 r->cfa_reg, r->cfa_off, r->cfa_aux, r->rbp_how, r->rbp_off, r->ra_how, r->ra_off);
}

static bool expect_rule(const struct unwind_table *t, __u64 pc, struct profd_unw_rule want,
			const char *name)
{
	struct profd_unw_rule got = { 0 };
	unsigned int id = unwind_table__lookup(t, pc, &got);
	char a[160], b[160], d[400];
	bool ok = !PROFD_UNW_IS_CMD(id) && !memcmp(&got, &want, sizeof(got));

	rule_str(id, &got, a, sizeof(a));
	rule_str(0, &want, b, sizeof(b));
	snprintf(d, sizeof(d), "at %#llx: got %s, want %s", (unsigned long long)pc, a, b);
	return harness_check(ok, __FILE__, __LINE__, name, d);
}

static bool expect_cmd(const struct unwind_table *t, __u64 pc, unsigned int want,
		       const char *name)
{
	struct profd_unw_rule got = { 0 };
	unsigned int id = unwind_table__lookup(t, pc, &got);
	char a[160], b[160], d[400];

	rule_str(id, &got, a, sizeof(a));
	rule_str(want, NULL, b, sizeof(b));
	snprintf(d, sizeof(d), "at %#llx: got %s, want %s", (unsigned long long)pc, a, b);
	return harness_check(id == want, __FILE__, __LINE__, name, d);
}

static int rule_cmp(const void *a, const void *b)
{
	return memcmp(a, b, sizeof(struct profd_unw_rule));
}

/* Every table must satisfy the format's invariants, whatever the input. */
static bool table_sane(const struct unwind_table *t, const char *name)
{
	size_t nrows, nrules;
	const struct profd_unw_row *rows = unwind_table__rows(t, &nrows);
	bool ok = true;

	unwind_table__rules(t, &nrules);
	ok &= ASSERT_TRUE(nrows >= 2 && nrows <= PROFD_UNW_MAX_ROWS, name);
	ok &= ASSERT_TRUE(nrules <= PROFD_UNW_MAX_RULES, name);
	for (size_t i = 0; ok && i < nrows; i++) {
		if (i && rows[i].pc <= rows[i - 1].pc)
			ok = ASSERT_TRUE(rows[i].pc > rows[i - 1].pc, name);
		if (i && rows[i].rule == rows[i - 1].rule)
			ok = ASSERT_TRUE(rows[i].rule != rows[i - 1].rule, name);
		if (!PROFD_UNW_IS_CMD(rows[i].rule) && rows[i].rule >= nrules)
			ok = ASSERT_TRUE(rows[i].rule < nrules, name);
		if (rows[i].pad)
			ok = ASSERT_EQ(rows[i].pad, 0, name);
	}
	if (nrows)
		ok &= ASSERT_EQ(rows[nrows - 1].rule, PROFD_UNW_FRAME_POINTER, name);
	if (!ok)
		return false;
	/* rules are distinct, and neighbouring rows differ in content, not
	 * just in index */
	{
		const struct profd_unw_rule *rules = unwind_table__rules(t, &nrules);
		struct profd_unw_rule *copy = malloc((nrules + 1) * sizeof(*copy));

		if (nrules)
			memcpy(copy, rules, nrules * sizeof(*copy));
		qsort(copy, nrules, sizeof(*copy), rule_cmp);
		for (size_t i = 1; ok && i < nrules; i++)
			ok = ASSERT_TRUE(rule_cmp(&copy[i - 1], &copy[i]) != 0, name);
		free(copy);
		for (size_t i = 1; ok && i < nrows; i++)
			if (!PROFD_UNW_IS_CMD(rows[i].rule) && !PROFD_UNW_IS_CMD(rows[i - 1].rule))
				ok = ASSERT_TRUE(rule_cmp(&rules[rows[i].rule],
							  &rules[rows[i - 1].rule]) != 0, name);
	}
	return ok;
}

/* ---- pointer encodings, augmentations, entry formats ------------------- */

void test_unwind_pointer_encodings(void)
{
	static const __u8 encs[] = {
		DW_EH_PE_absptr,
		DW_EH_PE_udata2,
		DW_EH_PE_udata4,
		DW_EH_PE_udata8,
		DW_EH_PE_sdata2,
		DW_EH_PE_sdata4,
		DW_EH_PE_sdata8,
		DW_EH_PE_uleb128,
		DW_EH_PE_sleb128,
		DW_EH_PE_pcrel | DW_EH_PE_sdata4,
		DW_EH_PE_pcrel | DW_EH_PE_sdata2,
		DW_EH_PE_pcrel | DW_EH_PE_udata8,
		DW_EH_PE_pcrel | DW_EH_PE_sleb128,
		DW_EH_PE_datarel | DW_EH_PE_sdata4, /* base 0 on x86-64, as libgcc/elfutils */
		DW_EH_PE_textrel | DW_EH_PE_udata4,
		DW_EH_PE_aligned,
	};
	static const __u8 prog[] = { DW_CFA_advance_loc | 4, DW_CFA_def_cfa_offset, 16 };

	for (size_t i = 0; i < sizeof(encs); i++) {
		struct cie_spec cs = { .fde_enc = encs[i] };
		struct buf b = { 0 };
		struct unwind_stats st;
		struct unwind_table *t;
		char name[64];
		size_t cie;

		/* two FDEs: the second one's field sits at a different alignment */
		cie = add_cie(&b, &cs);
		add_fde(&b, EH_VADDR,
			&(struct fde_spec){ .cie = cie, .enc = encs[i], .start = FN, .range = 0x40,
					    .prog = prog, .prog_len = sizeof(prog), .z = true });
		add_fde(&b, EH_VADDR,
			&(struct fde_spec){ .cie = cie, .enc = encs[i], .start = FN + 0x40,
					    .range = 0x20, .prog = prog, .prog_len = 1, .z = true });
		put_uint(&b, 0, 4);
		t = unwind_table__build_raw(&(struct unwind_input){ .eh_frame = b.d,
								    .eh_frame_size = b.n,
								    .eh_frame_vaddr = EH_VADDR },
					    &st);
		snprintf(name, sizeof(name), "encoding %#x", encs[i]);
		if (ASSERT_OK_PTR(t, name)) {
			expect_rule(t, FN, RSP(8), name);
			expect_rule(t, FN + 4, RSP(16), name);
			expect_rule(t, FN + 0x3f, RSP(16), name);
			expect_rule(t, FN + 0x40, RSP(8), name);
			expect_cmd(t, FN + 0x60, PROFD_UNW_FRAME_POINTER, name);
			expect_cmd(t, FN - 1, PROFD_UNW_FRAME_POINTER, name);
			ASSERT_EQ(st.fdes, 2, name);
			ASSERT_EQ(st.cies, 1, name);
			table_sane(t, name);
		}
		unwind_table__free(t);
		free(b.d);
	}

	/* indirect and funcrel locations make no sense for an FDE: dropped */
	static const __u8 refused[] = { DW_EH_PE_indirect | PCREL4,
					DW_EH_PE_funcrel | DW_EH_PE_udata4, 0x0f };
	for (size_t i = 0; i < sizeof(refused); i++) {
		struct cie_spec cs = { .fde_enc = refused[i] };
		struct buf b = { 0 };
		struct unwind_stats st;
		struct unwind_table *t;
		size_t cie = add_cie(&b, &cs);

		add_fde(&b, EH_VADDR,
			&(struct fde_spec){ .cie = cie, .enc = refused[i] & 0x7f, .start = FN,
					    .range = 0x40, .prog = prog, .prog_len = sizeof(prog),
					    .z = true });
		put_uint(&b, 0, 4);
		t = unwind_table__build_raw(&(struct unwind_input){ .eh_frame = b.d,
								    .eh_frame_size = b.n,
								    .eh_frame_vaddr = EH_VADDR },
					    &st);
		ASSERT_TRUE(!t && errno == ENODATA, "refused encoding: no table");
		ASSERT_EQ(st.errors[UNWIND_ERR_ENCODING], 1, "refused encoding counted");
		unwind_table__free(t);
		free(b.d);
	}
}

void test_unwind_augmentations(void)
{
	static const __u8 prog[] = { DW_CFA_advance_loc | 1, DW_CFA_def_cfa_offset, 16 };
	/* zPLR: personality via an indirect pcrel pointer, LSDA encoding, FDE enc */
	static const __u8 plr[] = { 0x9b, 0x10, 0x20, 0x30, 0x40, 0x1b, PCREL4 };
	static const __u8 lsda[] = { 0x11, 0x22, 0x33, 0x44 };
	/* 'P' with a uleb128 personality, then an unknown letter: the 'z'
	 * length lets the parser skip what it does not know */
	static const __u8 puleb[] = { DW_EH_PE_uleb128, 0x80, 0x80, 0x01, PCREL4, 0xaa, 0xbb };
	static const __u8 baddata[] = { 0x9b, 0x10 }; /* personality cut short */
	static const struct {
		const char *aug;
		const __u8 *augdata;
		size_t augdata_len;
		__u8 enc;
		const __u8 *fde_aug;
		size_t fde_aug_len;
		bool ok;
		unsigned int at1; /* rule id kind expected at FN + 1: 0 rule, else cmd */
	} cases[] = {
		{ "zR", NULL, 0, PCREL4, NULL, 0, true, 0 },
		{ "zPLR", plr, sizeof(plr), PCREL4, lsda, sizeof(lsda), true, 0 },
		{ "zPRX", puleb, sizeof(puleb), PCREL4, NULL, 0, true, 0 },
		{ "zRS", NULL, 0, PCREL4, NULL, 0, true, PROFD_UNW_SIGNAL },
		{ "zRB", NULL, 0, PCREL4, NULL, 0, true, 0 },
		{ "", NULL, 0, DW_EH_PE_absptr, NULL, 0, true, 0 },
		{ "zP", baddata, sizeof(baddata), DW_EH_PE_absptr, NULL, 0, false, 0 },
		{ "xR", NULL, 0, PCREL4, NULL, 0, false, 0 }, /* no 'z': size unknown */
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct cie_spec cs = { .aug = cases[i].aug, .fde_enc = cases[i].enc,
				       .augdata = cases[i].augdata,
				       .augdata_len = cases[i].augdata_len };
		struct buf b = { 0 };
		struct unwind_stats st;
		struct unwind_table *t;
		size_t cie = add_cie(&b, &cs);

		add_fde(&b, EH_VADDR,
			&(struct fde_spec){ .cie = cie, .enc = cases[i].enc, .start = FN,
					    .range = 0x40, .prog = prog, .prog_len = sizeof(prog),
					    .z = cases[i].aug[0] == 'z', .augdata = cases[i].fde_aug,
					    .augdata_len = cases[i].fde_aug_len });
		put_uint(&b, 0, 4);
		t = unwind_table__build_raw(&(struct unwind_input){ .eh_frame = b.d,
								    .eh_frame_size = b.n,
								    .eh_frame_vaddr = EH_VADDR },
					    &st);
		if (!cases[i].ok) {
			ASSERT_TRUE(!t, cases[i].aug);
			ASSERT_EQ(st.cies, 0, cases[i].aug);
			ASSERT_TRUE(st.errors[UNWIND_ERR_CIE] + st.errors[UNWIND_ERR_TRUNCATED] >= 2,
				    cases[i].aug);
		} else if (ASSERT_OK_PTR(t, cases[i].aug)) {
			if (cases[i].at1) {
				expect_cmd(t, FN + 1, cases[i].at1, cases[i].aug);
				expect_cmd(t, FN, cases[i].at1, cases[i].aug);
				ASSERT_EQ(st.signal_ranges, 1, cases[i].aug);
			} else {
				expect_rule(t, FN, RSP(8), cases[i].aug);
				expect_rule(t, FN + 1, RSP(16), cases[i].aug);
			}
			expect_cmd(t, FN + 0x40, PROFD_UNW_FRAME_POINTER, cases[i].aug);
		}
		unwind_table__free(t);
		free(b.d);
	}
}

/* The same CFI as .eh_frame and .debug_frame, narrow and 64-bit DWARF. */
void test_unwind_entry_formats(void)
{
	static const __u8 prog[] = { DW_CFA_advance_loc | 2, DW_CFA_def_cfa_offset, 24 };
	static const struct {
		const char *name;
		bool debug, wide;
		__u8 version;
	} cases[] = {
		{ "eh v1", false, false, 1 },	 { "eh v3", false, false, 3 },
		{ "eh 64-bit", false, true, 1 }, { "debug v1", true, false, 1 },
		{ "debug v3", true, false, 3 },	 { "debug v4", true, false, 4 },
		{ "debug 64-bit v4", true, true, 4 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		__u8 enc = cases[i].debug ? DW_EH_PE_absptr : PCREL4;
		struct cie_spec cs = { .version = cases[i].version, .fde_enc = enc,
				       .aug = cases[i].debug ? "" : "zR", .wide = cases[i].wide,
				       .debug = cases[i].debug };
		struct unwind_input in = { 0 };
		struct buf b = { 0 };
		struct unwind_stats st;
		struct unwind_table *t;
		size_t cie;

		/* a second CIE first, so FDE -> CIE pointers are not all 0 */
		add_cie(&b, &cs);
		cie = add_cie(&b, &cs);
		add_fde(&b, EH_VADDR,
			&(struct fde_spec){ .cie = cie, .enc = enc, .start = FN, .range = 0x30,
					    .prog = prog, .prog_len = sizeof(prog),
					    .z = !cases[i].debug, .wide = cases[i].wide,
					    .debug = cases[i].debug });
		if (cases[i].debug) {
			in.debug_frame = b.d;
			in.debug_frame_size = b.n;
		} else {
			put_uint(&b, 0, 4);
			in.eh_frame = b.d;
			in.eh_frame_size = b.n;
			in.eh_frame_vaddr = EH_VADDR;
		}
		t = unwind_table__build_raw(&in, &st);
		if (ASSERT_OK_PTR(t, cases[i].name)) {
			expect_rule(t, FN + 1, RSP(8), cases[i].name);
			expect_rule(t, FN + 2, RSP(24), cases[i].name);
			expect_cmd(t, FN + 0x30, PROFD_UNW_FRAME_POINTER, cases[i].name);
			ASSERT_EQ(st.cies, 2, cases[i].name);
			ASSERT_EQ(st.fdes_debug_frame, cases[i].debug ? 1 : 0, cases[i].name);
		}
		unwind_table__free(t);
		free(b.d);
	}

	/* versions we do not know, and a CIE pointer into nowhere */
	for (int v = 0; v < 3; v++) {
		struct cie_spec cs = { .version = v == 0 ? 2 : 4, .fde_enc = PCREL4 };
		struct buf b = { 0 };
		struct unwind_stats st;
		struct unwind_table *t;
		size_t cie = add_cie(&b, &cs);

		add_fde(&b, EH_VADDR,
			&(struct fde_spec){ .cie = v == 2 ? cie + 4 : cie, .enc = PCREL4,
					    .start = FN, .range = 0x30, .prog = prog,
					    .prog_len = sizeof(prog), .z = true });
		t = unwind_table__build_raw(&(struct unwind_input){ .eh_frame = b.d,
								    .eh_frame_size = b.n,
								    .eh_frame_vaddr = EH_VADDR },
					    &st);
		ASSERT_TRUE(!t && errno == ENODATA, "bad cie: no table");
		ASSERT_EQ(st.errors[v == 2 ? UNWIND_ERR_CIE_POINTER : UNWIND_ERR_CIE], v == 2 ? 1 : 2,
			  "bad cie counted");
		free(b.d);
	}
}

/* ---- the CFA program interpreter ---------------------------------------- */

struct chk {
	__u32 off;
	unsigned int cmd; /* 0: rule r; else the expected command */
	struct profd_unw_rule r;
};

#define CMD(off, c) { (off), (c), { 0 } }
#define RUL(off, rule) { (off), 0, rule }
#define INV(off, why) CMD(off, PROFD_UNW_INVALID(PROFD_UNW_INVALID_##why))
#define AT_CFA(off) PROFD_UNW_RBP_AT_CFA, (off)
#define SAME PROFD_UNW_RBP_SAME, 0
#define RSPR(off, ...) REGR(PROFD_UNW_REG_RSP, off, __VA_ARGS__)
#define RBPR(off, ...) REGR(PROFD_UNW_REG_RBP, off, __VA_ARGS__)

/* DW_CFA_def_cfa_expression / DW_CFA_expression payloads */
#define BREG(r, k) DW_OP_breg0 + (r), (k) & 0x7f /* k in [-64, 63] */
#define PLT_EXPR(t)                                                                          \
	11, DW_OP_breg7, 8, DW_OP_breg16, 0, DW_OP_lit15, DW_OP_and, DW_OP_lit0 + (t), DW_OP_ge, \
		DW_OP_lit3, DW_OP_shl, DW_OP_plus

static const struct op_case {
	const char *name;
	__u8 prog[48];
	size_t len; /* 0: all of prog (trailing zeros are DW_CFA_nop) */
	struct chk chk[6];
} op_cases[] = {
	{ "frame pointer prologue",
	  { DW_CFA_advance_loc | 1, DW_CFA_def_cfa_offset, 16, DW_CFA_offset | 6, 2,
	    DW_CFA_advance_loc | 3, DW_CFA_def_cfa_register, 6, DW_CFA_advance_loc | 10,
	    DW_CFA_def_cfa, 7, 8 },
	  0,
	  { RUL(0, RSP(8)), RUL(1, RSPR(16, AT_CFA(-16))), RUL(4, RBPR(16, AT_CFA(-16))),
	    RUL(13, RBPR(16, AT_CFA(-16))), RUL(14, RSPR(8, AT_CFA(-16))),
	    CMD(FN_LEN, PROFD_UNW_FRAME_POINTER) } },
	{ "remember/restore state",
	  { DW_CFA_advance_loc | 2, DW_CFA_def_cfa_offset, 32, DW_CFA_advance_loc | 2,
	    DW_CFA_remember_state, DW_CFA_def_cfa_offset, 8, DW_CFA_advance_loc | 1,
	    DW_CFA_restore_state, DW_CFA_advance_loc | 5, DW_CFA_def_cfa_offset, 8 },
	  0,
	  { RUL(0, RSP(8)), RUL(3, RSP(32)), RUL(4, RSP(8)), RUL(5, RSP(32)), RUL(9, RSP(32)),
	    RUL(10, RSP(8)) } },
	{ "restore to CIE rule",
	  { DW_CFA_offset | 6, 2, DW_CFA_advance_loc | 4, DW_CFA_restore | 6,
	    DW_CFA_advance_loc | 4, DW_CFA_offset_extended, 6, 3, DW_CFA_advance_loc | 4,
	    DW_CFA_restore_extended, 6 },
	  0,
	  { RUL(0, RSPR(8, AT_CFA(-16))), RUL(4, RSP(8)), RUL(8, RSPR(8, AT_CFA(-24))),
	    RUL(12, RSP(8)) } },
	{ "signed and factored forms",
	  { DW_CFA_def_cfa_sf, 7, 0x7e /* -2 * -8 */, DW_CFA_offset_extended_sf, 6, 2,
	    DW_CFA_advance_loc | 1, DW_CFA_def_cfa_offset_sf, 0x7d, DW_CFA_advance_loc | 1,
	    DW_CFA_GNU_negative_offset_extended, 6, 1, DW_CFA_advance_loc | 1, DW_CFA_def_cfa_sf,
	    6, 0x7c },
	  0,
	  { RUL(0, RSPR(16, AT_CFA(-16))), RUL(1, RSPR(24, AT_CFA(-16))),
	    RUL(2, RSPR(24, AT_CFA(8))), RUL(3, RBPR(32, AT_CFA(8))) } },
	{ "val_offset rbp",
	  { DW_CFA_val_offset, 6, 2, DW_CFA_advance_loc | 1, DW_CFA_val_offset_sf, 6, 0x7f },
	  0,
	  { RUL(0, RSPR(8, PROFD_UNW_RBP_VAL_CFA, -16)), RUL(1, RSPR(8, PROFD_UNW_RBP_VAL_CFA, 8)) } },
	{ "rbp undefined / same / register",
	  { DW_CFA_undefined, 6, DW_CFA_advance_loc | 1, DW_CFA_offset | 6, 2,
	    DW_CFA_advance_loc | 1, DW_CFA_same_value, 6, DW_CFA_advance_loc | 1, DW_CFA_register,
	    6, 6, DW_CFA_advance_loc | 1, DW_CFA_register, 6, 9 },
	  0,
	  { RUL(0, RSPR(8, PROFD_UNW_RBP_UNDEF, 0)), RUL(1, RSPR(8, AT_CFA(-16))),
	    RUL(2, RSP(8)), RUL(3, RSP(8)), INV(4, RBP_REG) } },
	{ "return address rules",
	  { DW_CFA_register, 16, 5, DW_CFA_advance_loc | 1, DW_CFA_offset | 16, 2,
	    DW_CFA_advance_loc | 1, DW_CFA_same_value, 16, DW_CFA_advance_loc | 1,
	    DW_CFA_val_offset, 16, 1, DW_CFA_advance_loc | 1, DW_CFA_undefined, 16,
	    DW_CFA_advance_loc | 1, DW_CFA_register, 16, 16 },
	  0,
	  { RUL(0, RULE(PROFD_UNW_CFA_REG, 7, 8, 0, SAME, PROFD_UNW_RA_REG, 5)),
	    RUL(1, RULE(PROFD_UNW_CFA_REG, 7, 8, 0, SAME, PROFD_UNW_RA_AT_CFA, -16)),
	    INV(2, RA_SAME), INV(3, RA_EXPR), CMD(4, PROFD_UNW_STOP), INV(5, RA_SAME) } },
	{ "stack realignment (DRAP)",
	  { DW_CFA_def_cfa, 10, 0, DW_CFA_advance_loc | 2, DW_CFA_expression, 6, 2, BREG(6, 0),
	    DW_CFA_advance_loc | 2, DW_CFA_def_cfa_expression, 3, BREG(6, -16), DW_OP_deref,
	    DW_CFA_advance_loc | 2, DW_CFA_expression, 6, 2, BREG(7, 24), DW_CFA_advance_loc | 2,
	    DW_CFA_def_cfa, 7, 8 },
	  0,
	  { RUL(0, REGR(10, 0, SAME)), RUL(2, REGR(10, 0, PROFD_UNW_RBP_AT_RBP, 0)),
	    RUL(4, RULE(PROFD_UNW_CFA_DEREF, 6, -16, 0, PROFD_UNW_RBP_AT_RBP, 0,
			PROFD_UNW_RA_AT_CFA, -8)),
	    RUL(6, RULE(PROFD_UNW_CFA_DEREF, 6, -16, 0, PROFD_UNW_RBP_AT_RSP, 24,
			PROFD_UNW_RA_AT_CFA, -8)),
	    RUL(8, RSPR(8, PROFD_UNW_RBP_AT_RSP, 24)) } },
	{ "deref with addend",
	  { DW_CFA_def_cfa_expression, 5, BREG(7, 8), DW_OP_deref, DW_OP_plus_uconst, 8,
	    DW_CFA_advance_loc | 1, DW_CFA_def_cfa_expression, 5, BREG(7, 16), DW_OP_deref,
	    DW_OP_lit8, DW_OP_plus, DW_CFA_advance_loc | 1, DW_CFA_def_cfa_expression, 6,
	    BREG(7, 16), DW_OP_deref, DW_OP_const1u, 16, DW_OP_minus },
	  0,
	  { RUL(0, RULE(PROFD_UNW_CFA_DEREF, 7, 8, 8, SAME, PROFD_UNW_RA_AT_CFA, -8)),
	    RUL(1, RULE(PROFD_UNW_CFA_DEREF, 7, 16, 8, SAME, PROFD_UNW_RA_AT_CFA, -8)),
	    RUL(2, RULE(PROFD_UNW_CFA_DEREF, 7, 16, -16, SAME, PROFD_UNW_RA_AT_CFA, -8)) } },
	{ "PLT expressions",
	  { DW_CFA_def_cfa_expression, PLT_EXPR(11), DW_CFA_advance_loc | 8,
	    DW_CFA_def_cfa_expression, PLT_EXPR(10), DW_CFA_advance_loc | 8,
	    DW_CFA_def_cfa_expression, 2, BREG(7, 24) },
	  0,
	  { RUL(0, RULE(PROFD_UNW_CFA_PLT, 7, 8, 11, SAME, PROFD_UNW_RA_AT_CFA, -8)),
	    RUL(8, RULE(PROFD_UNW_CFA_PLT, 7, 8, 10, SAME, PROFD_UNW_RA_AT_CFA, -8)),
	    RUL(16, RSP(24)) } },
	{ "unsupported CFA",
	  { DW_CFA_def_cfa_expression, 3, BREG(7, 8), DW_OP_neg, DW_CFA_advance_loc | 1,
	    DW_CFA_def_cfa_expression, 2, DW_OP_breg0 + 17, 0, DW_CFA_advance_loc | 1,
	    DW_CFA_def_cfa, 17, 8, DW_CFA_advance_loc | 1, DW_CFA_def_cfa_offset, 16,
	    DW_CFA_advance_loc | 1, DW_CFA_def_cfa_expression, 2, BREG(7, 8),
	    DW_CFA_def_cfa_register, 6, DW_CFA_advance_loc | 1, DW_CFA_def_cfa, 6, 16 },
	  0,
	  { INV(0, CFA_EXPR), INV(1, CFA_REG), INV(2, CFA_REG), INV(3, CFA_REG),
	    INV(4, CFA_BROKEN), RUL(5, RBPR(16, SAME)) } },
	{ "offsets out of range",
	  { DW_CFA_def_cfa, 7, 0x80, 0x80, 0x80, 0x80, 0x20 /* 2^33 */, DW_CFA_advance_loc | 1,
	    DW_CFA_def_cfa, 7, 8, DW_CFA_offset | 6, 0x88, 0x27 /* 5000 * -8 */,
	    DW_CFA_advance_loc | 1, DW_CFA_offset | 6, 2, DW_CFA_offset | 16, 0x88, 0x27 },
	  0,
	  { INV(0, CFA_RANGE), INV(1, RBP_RANGE), INV(2, RA_RANGE) } },
	{ "offsets that overflow when factored",
	  { DW_CFA_offset | 6, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
	    0x01 /* 2^63 */, DW_CFA_advance_loc | 1, DW_CFA_offset_extended_sf, 6, 0x80, 0x80,
	    0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x7f /* -2^63 */, DW_CFA_advance_loc | 1,
	    DW_CFA_def_cfa_sf, 7, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x40,
	    /* 2^62 */ DW_CFA_advance_loc | 1, DW_CFA_def_cfa, 7, 8, DW_CFA_offset | 6, 2 },
	  0,
	  { INV(0, RBP_RANGE), INV(1, RBP_RANGE), INV(2, CFA_RANGE), RUL(3, RSPR(8, AT_CFA(-16))) } },
	{ "unknown opcode",
	  { DW_CFA_advance_loc | 4, DW_CFA_def_cfa_offset, 16, DW_CFA_advance_loc | 4, 0x3f,
	    DW_CFA_def_cfa_offset, 8 },
	  0,
	  { RUL(0, RSP(8)), RUL(4, RSP(16)), INV(8, BAD_OPCODE), INV(FN_LEN - 1, BAD_OPCODE),
	    CMD(FN_LEN, PROFD_UNW_FRAME_POINTER) } },
	{ "SPARC window save",
	  { DW_CFA_advance_loc | 4, DW_CFA_GNU_window_save },
	  0,
	  { RUL(0, RSP(8)), INV(4, BAD_OPCODE) } },
	{ "truncated operand",
	  { DW_CFA_advance_loc | 4, DW_CFA_def_cfa_offset, 16, DW_CFA_advance_loc | 4,
	    DW_CFA_def_cfa, 7 },
	  6,
	  { RUL(4, RSP(16)), INV(8, TRUNCATED) } },
	{ "expression past the end",
	  { DW_CFA_advance_loc | 4, DW_CFA_def_cfa_expression, 40, DW_OP_breg7 },
	  4,
	  { RUL(0, RSP(8)), INV(4, TRUNCATED) } },
	{ "restore_state underflow",
	  { DW_CFA_advance_loc | 4, DW_CFA_restore_state },
	  0,
	  { RUL(0, RSP(8)), INV(4, STATE_STACK) } },
	{ "remember_state overflow",
	  { DW_CFA_advance_loc | 4, DW_CFA_remember_state, DW_CFA_remember_state,
	    DW_CFA_remember_state, DW_CFA_remember_state, DW_CFA_remember_state,
	    DW_CFA_remember_state, DW_CFA_remember_state, DW_CFA_remember_state,
	    DW_CFA_remember_state, DW_CFA_remember_state, DW_CFA_remember_state,
	    DW_CFA_remember_state, DW_CFA_remember_state, DW_CFA_remember_state,
	    DW_CFA_remember_state, DW_CFA_remember_state, DW_CFA_remember_state },
	  0,
	  { RUL(0, RSP(8)), INV(4, STATE_STACK) } },
	{ "advance_loc1/2/4, args_size",
	  { DW_CFA_advance_loc1, 0x10, DW_CFA_def_cfa_offset, 16, DW_CFA_GNU_args_size, 16,
	    DW_CFA_advance_loc2, 0x20, 0, DW_CFA_def_cfa_offset, 24, DW_CFA_advance_loc4, 0x30, 0,
	    0, 0, DW_CFA_def_cfa_offset, 32, DW_CFA_nop },
	  0,
	  { RUL(0xf, RSP(8)), RUL(0x10, RSP(16)), RUL(0x2f, RSP(16)), RUL(0x30, RSP(24)),
	    RUL(0x60, RSP(32)), RUL(0xff, RSP(32)) } },
	{ "advance past the end",
	  { DW_CFA_advance_loc2, 0, 2, DW_CFA_def_cfa_offset, 16 },
	  0,
	  { RUL(0, RSP(8)), RUL(FN_LEN - 1, RSP(8)), CMD(FN_LEN, PROFD_UNW_FRAME_POINTER) } },
};

void test_unwind_cfa_programs(void)
{
	for (size_t i = 0; i < sizeof(op_cases) / sizeof(op_cases[0]); i++) {
		const struct op_case *c = &op_cases[i];
		struct unwind_stats st;
		struct unwind_table *t = one_fde(c->prog, c->len ? c->len : sizeof(c->prog), &st);

		if (!ASSERT_OK_PTR(t, c->name))
			continue;
		for (size_t k = 0; k < sizeof(c->chk) / sizeof(c->chk[0]); k++) {
			const struct chk *x = &c->chk[k];

			if (k && !x->off && !x->cmd && !x->r.ra_off)
				break; /* unused slot */
			if (x->cmd)
				expect_cmd(t, FN + x->off, x->cmd, c->name);
			else
				expect_rule(t, FN + x->off, x->r, c->name);
		}
		table_sane(t, c->name);
		unwind_table__free(t);
	}
}

/* set_loc reads the FDE's pointer encoding; going backwards is an error. */
void test_unwind_set_loc(void)
{
	struct cie_spec cs = { .fde_enc = PCREL4 };
	struct buf b = { 0 };
	struct unwind_stats st;
	struct unwind_table *t;
	size_t cie = add_cie(&b, &cs);

	/* prog's vaddr is needed for the pcrel set_loc operands: build the FDE
	 * by hand with the program last */
	size_t off = begin_entry(&b, false);

	put_uint(&b, b.n - cie, 4);
	put_enc(&b, PCREL4, FN, EH_VADDR + b.n);
	put_uint(&b, FN_LEN, 4);
	put_uleb(&b, 0);
	put_uint(&b, DW_CFA_set_loc, 1);
	put_enc(&b, PCREL4, FN + 0x10, EH_VADDR + b.n);
	put_uint(&b, DW_CFA_def_cfa_offset, 1);
	put_uint(&b, 16, 1);
	put_uint(&b, DW_CFA_set_loc, 1);
	put_enc(&b, PCREL4, FN + 0x20, EH_VADDR + b.n);
	put_uint(&b, DW_CFA_def_cfa_offset, 1);
	put_uint(&b, 24, 1);
	put_uint(&b, DW_CFA_set_loc, 1);
	put_enc(&b, PCREL4, FN + 0x08, EH_VADDR + b.n);
	end_entry(&b, off, false);
	put_uint(&b, 0, 4);
	t = unwind_table__build_raw(&(struct unwind_input){ .eh_frame = b.d, .eh_frame_size = b.n,
							    .eh_frame_vaddr = EH_VADDR },
				    &st);
	if (ASSERT_OK_PTR(t, "set_loc")) {
		expect_rule(t, FN + 0xf, RSP(8), "set_loc");
		expect_rule(t, FN + 0x10, RSP(16), "set_loc");
		expect_cmd(t, FN + 0x20, PROFD_UNW_INVALID(PROFD_UNW_INVALID_BAD_LOC), "set_loc back");
		ASSERT_EQ(st.invalid_rows[PROFD_UNW_INVALID_BAD_LOC], 1, "bad loc counted");
	}
	unwind_table__free(t);
	free(b.d);
}

/* ---- table layout: gaps, overlaps, sources, dedup, limits ---------------- */

static void add_simple_fde(struct buf *b, size_t cie, __u64 start, __u64 range, __u8 cfa_off)
{
	__u8 prog[] = { DW_CFA_advance_loc | 1, DW_CFA_def_cfa_offset, cfa_off };

	add_fde(b, EH_VADDR,
		&(struct fde_spec){ .cie = cie, .enc = PCREL4, .start = start, .range = range,
				    .prog = prog, .prog_len = sizeof(prog), .z = true });
}

void test_unwind_layout(void)
{
	struct cie_spec cs = { .fde_enc = PCREL4 };
	struct buf b = { 0 };
	struct unwind_stats st;
	struct unwind_table *t;
	size_t cie = add_cie(&b, &cs), nrows;

	/* out of order on purpose: the builder sorts */
	add_simple_fde(&b, cie, 0x1040, 0x20, 40); /* gap of 0x20 before: marker */
	add_simple_fde(&b, cie, 0x1000, 0x10, 16);
	add_simple_fde(&b, cie, 0x1018, 0x08, 24); /* gap of 8: padding, no marker */
	add_simple_fde(&b, cie, 0x1070, 0x20, 48); /* overlaps the next: cut here */
	add_simple_fde(&b, cie, 0x1080, 0x20, 56);
	add_simple_fde(&b, cie, 0x1080, 0x10, 64); /* duplicate start: dropped */
	put_uint(&b, 0, 4);
	t = unwind_table__build_raw(&(struct unwind_input){ .eh_frame = b.d, .eh_frame_size = b.n,
							    .eh_frame_vaddr = EH_VADDR },
				    &st);
	if (!ASSERT_OK_PTR(t, "layout"))
		goto cleanup;
	expect_cmd(t, 0xfff, PROFD_UNW_FRAME_POINTER, "before first");
	expect_rule(t, 0x1001, RSP(16), "fde 1");
	expect_rule(t, 0x1014, RSP(16), "padding keeps the rule");
	expect_rule(t, 0x1018, RSP(8), "fde 2");
	expect_rule(t, 0x101f, RSP(24), "fde 2 end");
	expect_cmd(t, 0x1020, PROFD_UNW_FRAME_POINTER, "gap marker");
	expect_cmd(t, 0x103f, PROFD_UNW_FRAME_POINTER, "gap marker end");
	expect_rule(t, 0x1040, RSP(8), "fde 3");
	expect_cmd(t, 0x1060, PROFD_UNW_FRAME_POINTER, "gap before overlap");
	expect_rule(t, 0x107f, RSP(48), "overlapped fde");
	expect_rule(t, 0x1081, RSP(56), "overlapping fde wins");
	expect_rule(t, 0x109f, RSP(56), "duplicate ignored");
	expect_cmd(t, 0x10a0, PROFD_UNW_FRAME_POINTER, "end marker");
	expect_cmd(t, ~0ULL, PROFD_UNW_FRAME_POINTER, "far away");
	ASSERT_EQ(st.errors[UNWIND_ERR_OVERLAP], 2, "overlaps counted");
	ASSERT_EQ(st.fdes, 5, "fdes");
	ASSERT_EQ(st.gap_rows, 3, "gap rows");
	ASSERT_EQ(st.rules, 6, "rules deduped, unused ones dropped");
	unwind_table__rows(t, &nrows);
	ASSERT_EQ(st.rows, nrows, "rows stat");
	ASSERT_EQ(st.table_bytes, nrows * 8 + st.rules * 16, "table bytes");
	ASSERT_EQ(unwind_table__vaddr_base(t), 0, "base");
	table_sane(t, "layout");
cleanup:
	unwind_table__free(t);
	free(b.d);
}

/* Code above 4 GiB is rebased so row.pc stays 32 bits. */
void test_unwind_high_addresses(void)
{
	struct cie_spec cs = { .fde_enc = DW_EH_PE_udata8 };
	static const __u8 prog[] = { DW_CFA_advance_loc | 1, DW_CFA_def_cfa_offset, 16 };
	__u64 hi = 0x7f0000001000ULL;
	struct buf b = { 0 };
	struct unwind_stats st;
	struct unwind_table *t;
	size_t cie = add_cie(&b, &cs);

	add_fde(&b, 0, &(struct fde_spec){ .cie = cie, .enc = DW_EH_PE_udata8, .start = hi,
					   .range = 0x40, .prog = prog, .prog_len = 3, .z = true });
	add_fde(&b, 0, &(struct fde_spec){ .cie = cie, .enc = DW_EH_PE_udata8,
					   .start = hi + 0x100000000ULL, .range = 0x40, .prog = prog,
					   .prog_len = 3, .z = true });
	put_uint(&b, 0, 4);
	t = unwind_table__build_raw(&(struct unwind_input){ .eh_frame = b.d, .eh_frame_size = b.n },
				    &st);
	if (ASSERT_OK_PTR(t, "high")) {
		ASSERT_EQ(unwind_table__vaddr_base(t), hi, "base");
		expect_rule(t, hi + 1, RSP(16), "high fde");
		expect_cmd(t, hi + 0x100000001ULL, PROFD_UNW_FRAME_POINTER, "beyond 4 GiB");
		ASSERT_EQ(st.errors[UNWIND_ERR_FDE_RANGE], 1, "dropped");
	}
	unwind_table__free(t);
	free(b.d);
}

/* More distinct rules than the 15-bit index holds. */
void test_unwind_rule_table_full(void)
{
	struct buf p = { 0 };
	struct unwind_stats st;
	struct unwind_table *t;
	__u64 n = PROFD_UNW_MAX_RULES + 100;

	for (__u64 i = 0; i < n; i++) {
		put_uint(&p, DW_CFA_def_cfa_offset, 1);
		put_uleb(&p, 16 + 8 * i);
		put_uint(&p, DW_CFA_advance_loc | 1, 1);
	}
	{
		struct cie_spec cs = { .fde_enc = PCREL4 };
		struct buf b = { 0 };
		size_t cie = add_cie(&b, &cs);

		add_fde(&b, EH_VADDR,
			&(struct fde_spec){ .cie = cie, .enc = PCREL4, .start = FN, .range = n + 1,
					    .prog = p.d, .prog_len = p.n, .z = true });
		put_uint(&b, 0, 4);
		t = unwind_table__build_raw(&(struct unwind_input){ .eh_frame = b.d,
								    .eh_frame_size = b.n,
								    .eh_frame_vaddr = EH_VADDR },
					    &st);
		free(b.d);
	}
	if (ASSERT_OK_PTR(t, "full")) {
		ASSERT_EQ(st.rules, PROFD_UNW_MAX_RULES, "rules capped");
		expect_rule(t, FN + PROFD_UNW_MAX_RULES - 1, RSP(16 + 8 * (PROFD_UNW_MAX_RULES - 1)),
			    "last rule");
		expect_cmd(t, FN + PROFD_UNW_MAX_RULES,
			   PROFD_UNW_INVALID(PROFD_UNW_INVALID_TABLE_FULL), "overflow");
		ASSERT_EQ(st.invalid_rows[PROFD_UNW_INVALID_TABLE_FULL], 1, "counted once");
		table_sane(t, "full");
	}
	unwind_table__free(t);
	free(p.d);
}

/* .eh_frame and .debug_frame describing overlapping code: .eh_frame wins,
 * .debug_frame fills what .eh_frame lacks. */
void test_unwind_debug_frame_merge(void)
{
	struct cie_spec eh = { .fde_enc = PCREL4 };
	struct cie_spec df = { .aug = "", .debug = true };
	static const __u8 prog16[] = { DW_CFA_advance_loc | 1, DW_CFA_def_cfa_offset, 16 };
	static const __u8 prog32[] = { DW_CFA_advance_loc | 1, DW_CFA_def_cfa_offset, 32 };
	struct buf e = { 0 }, d = { 0 };
	struct unwind_stats st;
	struct unwind_table *t;
	size_t ecie = add_cie(&e, &eh), dcie = add_cie(&d, &df);

	add_fde(&e, EH_VADDR, &(struct fde_spec){ .cie = ecie, .enc = PCREL4, .start = 0x1000,
						  .range = 0x40, .prog = prog16, .prog_len = 3,
						  .z = true });
	put_uint(&e, 0, 4);
	for (__u64 s = 0x1000; s <= 0x1080; s += 0x40)
		add_fde(&d, 0, &(struct fde_spec){ .cie = dcie, .start = s, .range = 0x40,
						   .prog = prog32, .prog_len = 3, .debug = true });
	t = unwind_table__build_raw(&(struct unwind_input){ .eh_frame = e.d, .eh_frame_size = e.n,
							    .eh_frame_vaddr = EH_VADDR,
							    .debug_frame = d.d,
							    .debug_frame_size = d.n },
				    &st);
	if (ASSERT_OK_PTR(t, "merge")) {
		expect_rule(t, 0x1001, RSP(16), "eh_frame wins");
		expect_rule(t, 0x1041, RSP(32), "debug_frame fills");
		expect_rule(t, 0x1081, RSP(32), "debug_frame fills 2");
		expect_cmd(t, 0x10c0, PROFD_UNW_FRAME_POINTER, "end");
		ASSERT_EQ(st.fdes, 3, "fdes");
		ASSERT_EQ(st.fdes_debug_frame, 2, "from debug_frame");
		ASSERT_EQ(st.fdes_debug_dup, 1, "duplicate skipped");
		ASSERT_EQ(st.errors[UNWIND_ERR_OVERLAP], 0, "not an error");
	}
	unwind_table__free(t);
	free(e.d);
	free(d.d);
}

/* Signal trampolines: augmentation "S", the sigreturn bytes under an FDE
 * without "S" (and one byte early, like glibc), and bytes with no FDE at all
 * (musl). FDEs outside the code segments are dropped. */
void test_unwind_signal_frames(void)
{
	static const __u8 prog[] = { DW_CFA_advance_loc | 1, DW_CFA_def_cfa_offset, 16 };
	static const __u8 sigret[] = { 0x48, 0xc7, 0xc0, 0x0f, 0, 0, 0, 0x0f, 0x05 };
	static __u8 text[0x200], text2[0x3000];
	struct cie_spec cs = { .fde_enc = PCREL4 };
	struct unwind_segment segs[] = {
		{ .vaddr = 0x1000, .size = 0x300, .bytes = text, .nbytes = sizeof(text) },
		{ .vaddr = 0x10000, .size = sizeof(text2), .bytes = text2, .nbytes = sizeof(text2) },
	};
	struct buf b = { 0 };
	struct unwind_stats st;
	struct unwind_table *t;
	size_t cie;

	memset(text, 0xcc, sizeof(text));
	memcpy(text + 0x10, sigret, sizeof(sigret));	     /* FDE at 0x1010 */
	text[0x3f] = 0x90;				     /* nop, then */
	memcpy(text + 0x40, sigret, sizeof(sigret));	     /* FDE at 0x103f */
	memcpy(text + 0x101, sigret, sizeof(sigret));	     /* no FDE: 0x1101 */
	/* no FDE, straddling the 4 KiB chunks the gap is read in */
	memset(text2, 0xcc, sizeof(text2));
	memcpy(text2 + 0x10 + 4096 - 4, sigret, sizeof(sigret)); /* 0x1100c */
	cie = add_cie(&b, &cs);
	add_simple_fde(&b, cie, 0x1000, 0x10, 16);
	add_fde(&b, EH_VADDR, &(struct fde_spec){ .cie = cie, .enc = PCREL4, .start = 0x1010,
						  .range = 0x9, .prog = prog, .prog_len = 3,
						  .z = true });
	add_fde(&b, EH_VADDR, &(struct fde_spec){ .cie = cie, .enc = PCREL4, .start = 0x103f,
						  .range = 0xa, .prog = prog, .prog_len = 3,
						  .z = true });
	add_simple_fde(&b, cie, 0x1200, 0x10, 16);   /* past the segment's bytes: fine */
	add_simple_fde(&b, cie, 0x12f8, 0x10, 16);   /* crosses the segment end */
	add_simple_fde(&b, cie, 0x9000, 0x10, 16);   /* outside every segment */
	add_simple_fde(&b, cie, 0x10000, 0x10, 16);
	add_simple_fde(&b, cie, 0x12f00, 0x10, 16);
	put_uint(&b, 0, 4);
	t = unwind_table__build_raw(&(struct unwind_input){ .eh_frame = b.d, .eh_frame_size = b.n,
							    .eh_frame_vaddr = EH_VADDR,
							    .segs = segs, .nsegs = 2 },
				    &st);
	if (ASSERT_OK_PTR(t, "signal")) {
		expect_rule(t, 0x1001, RSP(16), "plain fde");
		expect_cmd(t, 0x1010, PROFD_UNW_SIGNAL, "sigreturn under fde");
		expect_cmd(t, 0x1018, PROFD_UNW_SIGNAL, "sigreturn under fde end");
		expect_cmd(t, 0x103f, PROFD_UNW_SIGNAL, "glibc-style nop first");
		expect_cmd(t, 0x1100, PROFD_UNW_SIGNAL, "no fde: from the byte before");
		expect_cmd(t, 0x1109, PROFD_UNW_SIGNAL, "no fde: last byte");
		expect_cmd(t, 0x110a, PROFD_UNW_FRAME_POINTER, "no fde: after");
		expect_cmd(t, 0x10ff, PROFD_UNW_FRAME_POINTER, "no fde: before");
		expect_rule(t, 0x1201, RSP(16), "no bytes needed for a normal fde");
		expect_cmd(t, 0x1100b, PROFD_UNW_SIGNAL, "across chunks");
		expect_cmd(t, 0x11014, PROFD_UNW_SIGNAL, "across chunks: last byte");
		expect_cmd(t, 0x1100a, PROFD_UNW_FRAME_POINTER, "across chunks: before");
		ASSERT_EQ(st.signal_ranges, 4, "signal ranges");
		ASSERT_EQ(st.signal_by_bytes, 4, "by bytes");
		ASSERT_EQ(st.errors[UNWIND_ERR_FDE_RANGE], 2, "outside segments");
		ASSERT_EQ(st.fdes, 6, "fdes");
		table_sane(t, "signal");
	}
	unwind_table__free(t);
	free(b.d);
}

void test_unwind_find(void)
{
	struct profd_unw_row rows[64];
	unsigned int seed = 7;

	for (__u32 n = 0; n <= 64; n++) {
		__u32 pc = 10;

		for (__u32 i = 0; i < n; i++) {
			pc += 1 + rand_r(&seed) % 5;
			rows[i] = (struct profd_unw_row){ .pc = pc };
		}
		for (__u32 x = 0; x < pc + 10; x++) {
			int want = -1;

			for (__u32 i = 0; i < n; i++)
				if (rows[i].pc <= x)
					want = (int)i;
			if (profd_unw_find(rows, n, x) != want) {
				ASSERT_EQ(profd_unw_find(rows, n, x), want, "bsearch");
				return;
			}
		}
	}
	ASSERT_EQ(profd_unw_find(rows, 0, 0), -1, "empty");
}

/* The walker's search through the page index (bpf/unwind.bpf.h, unw_step),
 * written again here: the last row at or below pc, or -1. */
static int find_paged(const struct profd_unw_row *rows, __u32 nrows,
		      const struct profd_unw_index *idx, __u32 npages, __u32 pc)
{
	__u32 page = pc >> PROFD_UNW_PAGE_SHIFT, lo = nrows, hi = nrows;

	if (page < npages) {
		lo = idx[page].first;
		hi = idx[page].end;
	}
	return profd_unw_search(rows, lo, hi, PROFD_UNW_PAGE_BSEARCH_STEPS, pc);
}

/* Rows from dense to pages apart: the page-bounded search finds what the
 * whole-table search finds, for every pc. */
void test_unwind_page_index(void)
{
	static struct profd_unw_row rows[4096];
	static struct profd_unw_index idx[4096 * 8];
	unsigned int seed = 11;

	for (__u32 n = 1; n <= 4096; n += n < 256 ? 17 : 1531) {
		__u32 pc = n > 2048 ? 4096 : rand_r(&seed) % 5000, np;

		for (__u32 i = 0; i < n; i++) {
			rows[i] = (struct profd_unw_row){ .pc = pc };
			/* runs of 1-byte rows, whole pages of them */
			pc += (n > 2048 && i < 2100) || i % 64 < 32 ? 1 : 1 + rand_r(&seed) % (i % 3 ? 40 : 9000);
		}
		np = profd_unw_pages(rows, n);
		if (!ASSERT_TRUE(np <= sizeof(idx) / sizeof(idx[0]), "index fits"))
			return;
		profd_unw_index_build(rows, n, idx);
		for (__u32 x = 0; x < pc + 5000; x++)
			if (find_paged(rows, n, idx, np, x) != profd_unw_find(rows, n, x)) {
				ASSERT_EQ(find_paged(rows, n, idx, np, x), profd_unw_find(rows, n, x),
					  "paged search");
				return;
			}
	}
}

/* ---- differential test against elfutils -------------------------------- */

enum { N_BREG, N_DEREF, N_CONST, N_AND, N_GE, N_SHL, N_PLUS, N_MINUS, N_PLUS_UCONST, N_CFA,
       N_STACK_VALUE, N_REGX, N_OTHER };

struct nop {
	int op;
	__s64 reg, n;
};

/* elfutils' decoded operations, normalised (all bregs alike, all constants). */
static size_t eu_normalise(const Dwarf_Op *ops, size_t n, struct nop *out, size_t max)
{
	size_t k;

	for (k = 0; k < n && k < max; k++) {
		unsigned int a = ops[k].atom;
		struct nop x = { .op = N_OTHER };

		if (a >= DW_OP_breg0 && a <= DW_OP_breg31)
			x = (struct nop){ N_BREG, a - DW_OP_breg0, (__s64)ops[k].number };
		else if (a == DW_OP_bregx)
			x = (struct nop){ N_BREG, (__s64)ops[k].number, (__s64)ops[k].number2 };
		else if (a >= DW_OP_lit0 && a <= DW_OP_lit31)
			x = (struct nop){ N_CONST, 0, a - DW_OP_lit0 };
		else if (a == DW_OP_const1u || a == DW_OP_const2u || a == DW_OP_const4u ||
			 a == DW_OP_constu)
			x = (struct nop){ N_CONST, 0, (__s64)ops[k].number };
		else if (a == DW_OP_deref)
			x.op = N_DEREF;
		else if (a == DW_OP_and)
			x.op = N_AND;
		else if (a == DW_OP_ge)
			x.op = N_GE;
		else if (a == DW_OP_shl)
			x.op = N_SHL;
		else if (a == DW_OP_plus)
			x.op = N_PLUS;
		else if (a == DW_OP_minus)
			x.op = N_MINUS;
		else if (a == DW_OP_plus_uconst)
			x = (struct nop){ N_PLUS_UCONST, 0, (__s64)ops[k].number };
		else if (a == DW_OP_call_frame_cfa)
			x.op = N_CFA;
		else if (a == DW_OP_stack_value)
			x.op = N_STACK_VALUE;
		else if (a == DW_OP_regx)
			x = (struct nop){ N_REGX, (__s64)ops[k].number, 0 };
		out[k] = x;
	}
	return n > max ? max + 1 : n;
}

static bool s32ok(__s64 v)
{
	return v >= INT32_MIN && v <= INT32_MAX;
}

static bool s16ok(__s64 v)
{
	return v >= INT16_MIN && v <= INT16_MAX;
}

/* What elfutils says the rule is, in our terms. */
struct want {
	unsigned int cmd; /* 0: a rule, in r */
	bool unsupported; /* elfutils knows a rule our format cannot hold */
	struct profd_unw_rule r;
};

static bool eu_cfa(Dwarf_Frame *fr, struct profd_unw_rule *r)
{
	Dwarf_Op *ops;
	size_t n;
	struct nop o[10];

	if (dwarf_frame_cfa(fr, &ops, &n) != 0 || n == 0)
		return false;
	n = eu_normalise(ops, n, o, 10);
	if (n == 9 && o[0].op == N_BREG && o[0].reg == 7 && o[1].op == N_BREG && o[1].reg == 16 &&
	    o[1].n == 0 && o[2].op == N_CONST && o[2].n == 15 && o[3].op == N_AND &&
	    o[4].op == N_CONST && o[4].n <= 15 && o[5].op == N_GE && o[6].op == N_CONST &&
	    o[6].n == 3 && o[7].op == N_SHL && o[8].op == N_PLUS && s32ok(o[0].n)) {
		r->cfa_kind = PROFD_UNW_CFA_PLT;
		r->cfa_reg = 7;
		r->cfa_off = (__s32)o[0].n;
		r->cfa_aux = (__s32)o[4].n;
		return true;
	}
	if (n < 1 || o[0].op != N_BREG || o[0].reg > 16 || !s32ok(o[0].n))
		return false;
	r->cfa_reg = (__u8)o[0].reg;
	r->cfa_off = (__s32)o[0].n;
	if (n == 1) {
		r->cfa_kind = PROFD_UNW_CFA_REG;
		return true;
	}
	r->cfa_kind = PROFD_UNW_CFA_DEREF;
	if (n == 2 && o[1].op == N_DEREF)
		return true;
	if (n == 3 && o[1].op == N_DEREF && o[2].op == N_PLUS_UCONST && s32ok(o[2].n)) {
		r->cfa_aux = (__s32)o[2].n;
		return true;
	}
	if (n == 4 && o[1].op == N_DEREF && o[2].op == N_CONST &&
	    (o[3].op == N_PLUS || o[3].op == N_MINUS) && s32ok(o[2].n)) {
		r->cfa_aux = (__s32)(o[3].op == N_PLUS ? o[2].n : -o[2].n);
		return true;
	}
	return false;
}

/* Offset rules come back as [call_frame_cfa, plus_uconst k], k == 0 as
 * [call_frame_cfa]; val_ forms end in stack_value. */
static bool eu_cfa_offset(const struct nop *o, size_t n, __s64 *k, bool *val)
{
	*val = n > 0 && o[n - 1].op == N_STACK_VALUE;
	if (*val)
		n--;
	if (n == 1 && o[0].op == N_CFA) {
		*k = 0;
		return true;
	}
	if (n == 2 && o[0].op == N_CFA && o[1].op == N_PLUS_UCONST) {
		*k = o[1].n;
		return true;
	}
	return false;
}

static bool eu_ra(Dwarf_Frame *fr, int ra, struct profd_unw_rule *r)
{
	Dwarf_Op mem[3], *ops;
	struct nop o[4];
	size_t n;
	__s64 k;
	bool val;

	if (dwarf_frame_register(fr, ra, mem, &ops, &n) != 0 || n == 0)
		return false; /* undefined is handled by the caller; same_value */
	n = eu_normalise(ops, n, o, 4);
	if (eu_cfa_offset(o, n, &k, &val)) {
		if (val || !s16ok(k))
			return false;
		r->ra_how = PROFD_UNW_RA_AT_CFA;
		r->ra_off = (__s16)k;
		return true;
	}
	if (n == 1 && o[0].op == N_REGX && o[0].reg != ra && o[0].reg <= 16) {
		r->ra_how = PROFD_UNW_RA_REG;
		r->ra_off = (__s16)o[0].reg;
		return true;
	}
	return false;
}

static bool eu_rbp(Dwarf_Frame *fr, struct profd_unw_rule *r)
{
	Dwarf_Op mem[3], *ops;
	struct nop o[4];
	size_t n;
	__s64 k;
	bool val;

	if (dwarf_frame_register(fr, 6, mem, &ops, &n) != 0)
		return false;
	if (n == 0) {
		r->rbp_how = ops ? PROFD_UNW_RBP_UNDEF : PROFD_UNW_RBP_SAME;
		return true;
	}
	n = eu_normalise(ops, n, o, 4);
	if (eu_cfa_offset(o, n, &k, &val)) {
		r->rbp_how = val ? PROFD_UNW_RBP_VAL_CFA : PROFD_UNW_RBP_AT_CFA;
		r->rbp_off = (__s16)k;
		return s16ok(k);
	}
	if (n == 1 && o[0].op == N_REGX && o[0].reg == 6) {
		r->rbp_how = PROFD_UNW_RBP_SAME;
		return true;
	}
	/* DW_CFA_expression: elfutils pushes the CFA first */
	if (n == 2 && o[0].op == N_CFA && o[1].op == N_BREG && (o[1].reg == 6 || o[1].reg == 7)) {
		r->rbp_how = o[1].reg == 6 ? PROFD_UNW_RBP_AT_RBP : PROFD_UNW_RBP_AT_RSP;
		r->rbp_off = (__s16)o[1].n;
		return s16ok(o[1].n);
	}
	return false;
}

/* 0: *w and the row [*start, *end) filled; -1: no FDE at pc; -2: elfutils
 * failed (broken CFI). */
static int eu_want(Dwarf_CFI *cfi, __u64 pc, struct want *w, __u64 *start, __u64 *end)
{
	static int no_match_errno = -1;
	Dwarf_Frame *fr = NULL;
	Dwarf_Addr s, e;
	bool sig;
	int ra, ret = 0;

	if (no_match_errno < 0) { /* learn elfutils' "no matching address range" */
		dwarf_cfi_addrframe(cfi, 0, &fr);
		no_match_errno = dwarf_errno();
		free(fr);
		fr = NULL;
	}
	if (dwarf_cfi_addrframe(cfi, pc, &fr) != 0)
		return dwarf_errno() == no_match_errno ? -1 : -2;
	ra = dwarf_frame_info(fr, &s, &e, &sig);
	*start = s;
	*end = e;
	memset(w, 0, sizeof(*w));
	if (ra < 0) {
		ret = -2;
	} else if (sig) {
		w->cmd = PROFD_UNW_SIGNAL;
	} else {
		Dwarf_Op mem[3], *ops;
		size_t n;

		if (dwarf_frame_register(fr, ra, mem, &ops, &n) == 0 && n == 0 && ops == mem)
			w->cmd = PROFD_UNW_STOP; /* RA undefined: outermost frame */
		else if (!eu_cfa(fr, &w->r) || !eu_ra(fr, ra, &w->r) || !eu_rbp(fr, &w->r))
			w->unsupported = true;
	}
	free(fr);
	return ret;
}

struct diff {
	size_t fdes, rows, mismatches, eu_errors, gaps, fde_stride;
	size_t invalid[PROFD_UNW_INVALID_MAX];
};

static void diff_report(struct diff *d, __u64 pc, unsigned int got, const struct profd_unw_rule *gr,
			const struct want *w, const char *what)
{
	char a[160], b[160];

	if (d->mismatches++ >= 5)
		return;
	rule_str(got, gr, a, sizeof(a));
	if (w && w->unsupported)
		snprintf(b, sizeof(b), "INVALID (unsupported)");
	else if (w)
		rule_str(w->cmd, &w->r, b, sizeof(b));
	else
		snprintf(b, sizeof(b), "%s", what);
	printf("    mismatch at %#llx: ours %s, elfutils %s\n", (unsigned long long)pc, a, b);
}

static void diff_point(const struct unwind_table *t, __u64 pc, const struct want *w,
		       struct diff *d)
{
	struct profd_unw_rule got = { 0 };
	unsigned int id = unwind_table__lookup(t, pc, &got);
	bool ok;

	if (w->unsupported) {
		ok = PROFD_UNW_IS_CMD(id) && PROFD_UNW_CMD_OF(id) == PROFD_UNW_CMD_INVALID;
		if (ok)
			d->invalid[PROFD_UNW_ARG_OF(id)]++;
	} else if (w->cmd) {
		ok = id == w->cmd;
	} else {
		ok = !PROFD_UNW_IS_CMD(id) && !memcmp(&got, &w->r, sizeof(got));
	}
	if (!ok)
		diff_report(d, pc, id, &got, w, NULL);
}

/* The FDE start addresses listed in .eh_frame_hdr's search table, decoded
 * here independently of the code under test (ld always writes udata4 count
 * and datarel|sdata4 pairs). */
static __u64 *hdr_fde_starts(Elf *elf, size_t *n)
{
	size_t shstrndx;
	Elf_Scn *scn = NULL;

	*n = 0;
	if (elf_getshdrstrndx(elf, &shstrndx))
		return NULL;
	while ((scn = elf_nextscn(elf, scn))) {
		GElf_Shdr sh;
		const char *name;
		Elf_Data *d;
		const __u8 *p;
		__u64 *out;
		__u32 cnt;

		if (!gelf_getshdr(scn, &sh))
			continue;
		name = elf_strptr(elf, shstrndx, sh.sh_name);
		if (!name || strcmp(name, ".eh_frame_hdr"))
			continue;
		d = elf_rawdata(scn, NULL);
		if (!d || d->d_size < 12)
			return NULL;
		p = d->d_buf;
		if (p[0] != 1 || p[2] != DW_EH_PE_udata4 || p[3] != (DW_EH_PE_datarel | DW_EH_PE_sdata4))
			return NULL;
		memcpy(&cnt, p + 8, 4);
		if (12 + (size_t)cnt * 8 > d->d_size)
			return NULL;
		out = calloc(cnt + 1, sizeof(*out));
		for (__u32 i = 0; i < cnt; i++) {
			__s32 loc;

			memcpy(&loc, p + 12 + 8 * i, 4);
			out[i] = sh.sh_addr + (__s64)loc;
		}
		*n = cnt;
		return out;
	}
	return NULL;
}

/* Compares every elfutils row of every FDE (or of every fde_stride-th FDE)
 * with the table: at the first and last byte of the row, and requires that
 * the table has no boundary inside it. Gaps between FDEs are checked too. */
static bool diff_elfutils(const char *path, const struct unwind_table *t, struct diff *d,
			  size_t *nhdr)
{
	size_t nrows, n = 0;
	const struct profd_unw_row *rows = unwind_table__rows(t, &nrows);
	__u64 base = unwind_table__vaddr_base(t), *starts = NULL;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	Elf *elf = NULL;
	Dwarf_CFI *cfi = NULL;
	bool ok = false;

	elf_version(EV_CURRENT);
	if (!ASSERT_TRUE(fd >= 0, path))
		return false;
	elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	cfi = elf ? dwarf_getcfi_elf(elf) : NULL;
	starts = elf ? hdr_fde_starts(elf, &n) : NULL;
	if (!ASSERT_OK_PTR(cfi, "dwarf_getcfi_elf") || !ASSERT_OK_PTR(starts, "eh_frame_hdr"))
		goto cleanup;
	*nhdr = n;
	if (!d->fde_stride)
		d->fde_stride = 1;
	if (n) {
		struct profd_unw_rule got;
		unsigned int id = unwind_table__lookup(t, starts[0] - 1, &got);

		if (id != PROFD_UNW_FRAME_POINTER)
			diff_report(d, starts[0] - 1, id, &got, NULL,
				    "FRAME_POINTER (before the first FDE)");
	}
	for (size_t i = 0; i < n; i += d->fde_stride) {
		__u64 lim = i + 1 < n ? starts[i + 1] : UINT64_MAX, pc = starts[i];
		int r = 0;

		d->fdes++;
		while (pc < lim) {
			struct want w;
			__u64 s, e;

			r = eu_want(cfi, pc, &w, &s, &e);
			if (r == -1)
				break;
			if (r == -2) {
				/* elfutils gives up on this part: so must we */
				struct profd_unw_rule got;
				unsigned int id = unwind_table__lookup(t, pc, &got);
				int k = profd_unw_find(rows, (__u32)nrows, (__u32)(pc - base));

				d->eu_errors++;
				if (!PROFD_UNW_IS_CMD(id) || PROFD_UNW_CMD_OF(id) != PROFD_UNW_CMD_INVALID)
					diff_report(d, pc, id, &got, NULL, "error");
				if (k < 0 || (size_t)k + 1 >= nrows)
					break;
				pc = rows[k + 1].pc + base;
				continue;
			}
			d->rows++;
			diff_point(t, pc, &w, d);
			if (e - 1 != pc)
				diff_point(t, e - 1, &w, d);
			if (profd_unw_find(rows, (__u32)nrows, (__u32)(pc - base)) !=
			    profd_unw_find(rows, (__u32)nrows, (__u32)(e - 1 - base)))
				diff_report(d, pc, 0, NULL, NULL, "no row boundary inside a row");
			if (e <= pc)
				break;
			pc = e;
		}
		/* the gap after the FDE, if the next one does not start here */
		if (r == -1 && lim != UINT64_MAX && pc < lim && d->fde_stride == 1) {
			struct profd_unw_rule got;
			unsigned int id = unwind_table__lookup(t, pc, &got);

			d->gaps++;
			if (lim - pc >= PROFD_UNW_MIN_GAP) {
				if (id != PROFD_UNW_FRAME_POINTER && id != PROFD_UNW_SIGNAL)
					diff_report(d, pc, id, &got, NULL, "FRAME_POINTER (gap)");
			} else if (id != unwind_table__lookup(t, pc - 1, NULL)) {
				diff_report(d, pc, id, &got, NULL, "previous rule (padding)");
			}
		}
	}
	ok = true;
cleanup:
	free(starts);
	dwarf_cfi_end(cfi);
	elf_end(elf);
	close(fd);
	return ok;
}

static void print_diff(const char *name, const struct diff *d)
{
	printf("    %s: compared %zu FDEs, %zu elfutils rows, %zu gaps; %zu mismatches, "
	       "%zu elfutils errors",
	       name, d->fdes, d->rows, d->gaps, d->mismatches, d->eu_errors);
	for (int i = 0; i < PROFD_UNW_INVALID_MAX; i++)
		if (d->invalid[i])
			printf(", INVALID %s: %zu", unwind_invalid__str(i), d->invalid[i]);
	printf("\n");
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void print_stats(const char *name, const struct unwind_stats *st, double ms)
{
	printf("    %s: %zu FDEs, %zu CIEs, %zu rows, %zu rules, %zu B at 8 B/row (+%zu B rules), "
	       "%zu gap rows, %zu STOP rows, %zu SIGNAL ranges, built in %.1f ms (ASan build)",
	       name, st->fdes, st->cies, st->rows, st->rules, st->rows * 8, st->rules * 16,
	       st->gap_rows, st->stop_rows, st->signal_ranges, ms);
	for (int i = 0; i < PROFD_UNW_INVALID_MAX; i++)
		if (st->invalid_rows[i])
			printf(", INVALID %s: %zu rows", unwind_invalid__str(i), st->invalid_rows[i]);
	for (int i = 0; i < UNWIND_ERR_MAX; i++)
		if (st->errors[i])
			printf(", dropped %s: %zu", unwind_err__str(i), st->errors[i]);
	printf("\n");
}

/* Builds path's table, compares it with elfutils and prints the numbers. */
static void check_library(const char *path, size_t stride)
{
	struct unwind_stats st;
	struct diff d = { .fde_stride = stride };
	struct unwind_table *t;
	size_t nhdr = 0;
	double t0 = now_ms(), ms;

	t = unwind_table__build(path, &st);
	ms = now_ms() - t0;
	if (!ASSERT_OK_PTR(t, path))
		return;
	print_stats(path, &st, ms);
	table_sane(t, path);
	t0 = now_ms();
	if (diff_elfutils(path, t, &d, &nhdr)) {
		print_diff(path, &d);
		printf("    (compare took %.0f ms)\n", now_ms() - t0);
		ASSERT_EQ(d.mismatches, 0, path);
		ASSERT_EQ(st.fdes, nhdr, "every FDE of .eh_frame_hdr is in the table");
		ASSERT_TRUE(d.rows > d.fdes, "rows compared");
	}
	unwind_table__free(t);
}

/* The largest library: libLLVM if present, else the largest .so here. */
static bool largest_library(char *out, size_t len)
{
	static const char *const llvm[] = { "/usr/lib/llvm-14/lib/libLLVM-14.so.1",
					    "/usr/lib/x86_64-linux-gnu/libLLVM-14.so.1" };
	char cmd[] = "ls -S /usr/lib/x86_64-linux-gnu/*.so* 2>/dev/null | head -1";
	FILE *f;

	for (size_t i = 0; i < 2; i++)
		if (realpath(llvm[i], out))
			return true;
	f = popen(cmd, "r");
	if (!f)
		return false;
	if (!fgets(out, (int)len, f)) {
		pclose(f);
		return false;
	}
	pclose(f);
	out[strcspn(out, "\n")] = 0;
	return true;
}

void test_unwind_system_libs(void)
{
	static const char *const libs[] = { "/usr/lib/x86_64-linux-gnu/libc.so.6",
					    "/lib64/ld-linux-x86-64.so.2",
					    "/usr/lib/x86_64-linux-gnu/libstdc++.so.6" };
	char path[PATH_MAX];

	for (size_t i = 0; i < sizeof(libs) / sizeof(libs[0]); i++) {
		if (!ASSERT_OK_PTR(realpath(libs[i], path), libs[i]))
			continue;
		check_library(path, 1);
	}
	if (ASSERT_TRUE(largest_library(path, sizeof(path)), "large library"))
		check_library(path, 1);
}

/* ---- programs compiled by the tests ------------------------------------- */

struct tmpdir {
	char path[64];
};

static bool tmpdir__make(struct tmpdir *d)
{
	snprintf(d->path, sizeof(d->path), "/tmp/profd-unwind-XXXXXX");
	return mkdtemp(d->path) != NULL;
}

static void tmpdir__remove(struct tmpdir *d)
{
	char cmd[128];

	if (!d->path[0] || strncmp(d->path, "/tmp/profd-unwind-", 18))
		return;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", d->path);
	if (system(cmd) != 0)
		fprintf(stderr, "  could not remove %s\n", d->path);
}

static bool write_file(const struct tmpdir *d, const char *name, const char *text)
{
	char path[128];
	FILE *f;
	bool ok;

	snprintf(path, sizeof(path), "%s/%s", d->path, name);
	f = fopen(path, "w");
	if (!f)
		return false;
	ok = fputs(text, f) >= 0;
	return fclose(f) == 0 && ok;
}

/* Runs cc in the directory; its output only shows on failure. */
static bool cc(const struct tmpdir *d, const char *args)
{
	char cmd[512];

	snprintf(cmd, sizeof(cmd),
		 "cd '%s' && { cc %s > cc.log 2>&1; rc=$?; [ $rc = 0 ] || cat cc.log >&2; exit $rc; }",
		 d->path, args);
	return system(cmd) == 0;
}

static void path_in(const struct tmpdir *d, const char *name, char *out, size_t len)
{
	snprintf(out, len, "%s/%s", d->path, name);
}

/* Address (and size) of a symbol in .symtab, local labels included. */
static bool sym_addr(const char *path, const char *name, __u64 *addr, __u64 *size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	Elf *elf;
	Elf_Scn *scn = NULL;
	bool found = false;

	if (fd < 0)
		return false;
	elf_version(EV_CURRENT);
	elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	while (elf && !found && (scn = elf_nextscn(elf, scn))) {
		GElf_Shdr sh;
		Elf_Data *data;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_SYMTAB)
			continue;
		data = elf_getdata(scn, NULL);
		for (size_t i = 0; data && i < sh.sh_size / sh.sh_entsize; i++) {
			GElf_Sym sym;
			const char *s;

			if (!gelf_getsym(data, (int)i, &sym))
				continue;
			s = elf_strptr(elf, sh.sh_link, sym.st_name);
			if (s && !strcmp(s, name)) {
				*addr = sym.st_value;
				if (size)
					*size = sym.st_size;
				found = true;
				break;
			}
		}
	}
	elf_end(elf);
	close(fd);
	return found;
}

/* vaddr, size and file offset of a section. */
static bool section_of(const char *path, const char *name, __u64 *addr, __u64 *size,
		       __u64 *off)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	Elf *elf;
	Elf_Scn *scn = NULL;
	size_t shstrndx;
	bool found = false;

	if (fd < 0)
		return false;
	elf_version(EV_CURRENT);
	elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	if (elf && !elf_getshdrstrndx(elf, &shstrndx)) {
		while (!found && (scn = elf_nextscn(elf, scn))) {
			GElf_Shdr sh;
			const char *s;

			if (!gelf_getshdr(scn, &sh))
				continue;
			s = elf_strptr(elf, shstrndx, sh.sh_name);
			if (s && !strcmp(s, name)) {
				*addr = sh.sh_addr;
				*size = sh.sh_size;
				if (off)
					*off = sh.sh_offset;
				found = true;
			}
		}
	}
	elf_end(elf);
	close(fd);
	return found;
}

static __u8 *read_all(const char *path, size_t *size)
{
	FILE *f = fopen(path, "rb");
	__u8 *p = NULL;
	long n;

	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) > 0 && fseek(f, 0, SEEK_SET) == 0) {
		p = malloc((size_t)n);
		if (p && fread(p, 1, (size_t)n, f) != (size_t)n) {
			free(p);
			p = NULL;
		}
		*size = (size_t)n;
	}
	fclose(f);
	return p;
}

/* Hand-written CFI for every construct the walker cares about; labels mark
 * where each rule starts. */
static const char asm_src[] =
	"	.text\n"
	"	.globl	f_fp\n"
	"	.type	f_fp, @function\n"
	"f_fp:	.cfi_startproc\n"
	"	pushq	%rbp\n"
	"f_fp_1: .cfi_def_cfa_offset 16\n"
	"	.cfi_offset %rbp, -16\n"
	"	movq	%rsp, %rbp\n"
	"f_fp_2: .cfi_def_cfa_register %rbp\n"
	"	nop\n"
	"	popq	%rbp\n"
	"f_fp_3: .cfi_def_cfa %rsp, 8\n"
	"	ret\n"
	"	.cfi_endproc\n"
	"	.p2align 4\n"
	"f_state: .cfi_startproc\n"
	"	subq	$24, %rsp\n"
	"f_state_1: .cfi_def_cfa_offset 32\n"
	"	testq	%rdi, %rdi\n"
	"	je	1f\n"
	"	.cfi_remember_state\n"
	"	addq	$24, %rsp\n"
	"f_state_2: .cfi_def_cfa_offset 8\n"
	"	ret\n"
	"1:\n"
	"f_state_3: .cfi_restore_state\n"
	"	addq	$24, %rsp\n"
	"f_state_4: .cfi_def_cfa_offset 8\n"
	"	ret\n"
	"	.cfi_endproc\n"
	"	.p2align 4\n"
	"f_root:	.cfi_startproc\n"
	"	.cfi_undefined rip\n"
	"	xorl	%ebp, %ebp\n"
	"	call	f_fp\n"
	"	hlt\n"
	"	.cfi_endproc\n"
	"	.p2align 4\n"
	"f_drap:	.cfi_startproc\n"
	"	leaq	8(%rsp), %r10\n"
	"f_drap_1: .cfi_def_cfa %r10, 0\n"
	"	andq	$-64, %rsp\n"
	"	pushq	-8(%r10)\n"
	"	pushq	%rbp\n"
	"	movq	%rsp, %rbp\n"
	/* DW_CFA_expression rbp: DW_OP_breg6 0 */
	"f_drap_2: .cfi_escape 0x10, 0x06, 0x02, 0x76, 0x00\n"
	"	pushq	%r10\n"
	/* DW_CFA_def_cfa_expression: DW_OP_breg6 -8; DW_OP_deref */
	"f_drap_3: .cfi_escape 0x0f, 0x03, 0x76, 0x78, 0x06\n"
	"	nop\n"
	"	popq	%r10\n"
	"	popq	%rbp\n"
	"	leaq	-8(%r10), %rsp\n"
	"f_drap_4: .cfi_def_cfa %rsp, 8\n"
	"	ret\n"
	"	.cfi_endproc\n"
	"	.p2align 4\n"
	"f_plt:	.cfi_startproc\n"
	"	.cfi_def_cfa_offset 16\n"
	"	pushq	$0\n"
	/* the PLT expression with threshold 10 (DW_OP_lit10) */
	"f_plt_1: .cfi_escape 0x0f, 0x0b, 0x77, 0x08, 0x80, 0x00, 0x3f, 0x1a, 0x3a, 0x2a, 0x33, "
	"0x24, 0x22\n"
	"	jmp	*%rax\n"
	"	.cfi_endproc\n"
	"	.p2align 4\n"
	"f_vfork: .cfi_startproc\n"
	"	popq	%rdi\n"
	"f_vfork_1: .cfi_adjust_cfa_offset -8\n"
	"	.cfi_register rip, rdi\n"
	"	nop\n"
	"	pushq	%rdi\n"
	"f_vfork_2: .cfi_adjust_cfa_offset 8\n"
	"	.cfi_restore rip\n"
	"	ret\n"
	"	.cfi_endproc\n"
	"	.p2align 4\n"
	"f_rbpreg: .cfi_startproc\n"
	"	movq	%rbp, %r9\n"
	"f_rbpreg_1: .cfi_register rbp, r9\n"
	"	movq	%r9, %rbp\n"
	"f_rbpreg_2: .cfi_restore rbp\n"
	"	ret\n"
	"	.cfi_endproc\n"
	"	.p2align 4\n"
	"f_badexpr: .cfi_startproc\n"
	"	nop\n"
	/* DW_OP_breg7 8; DW_OP_neg */
	"f_badexpr_1: .cfi_escape 0x0f, 0x03, 0x77, 0x08, 0x1f\n"
	"	nop\n"
	"f_badexpr_2: .cfi_def_cfa %rsp, 8\n"
	"	ret\n"
	"	.cfi_endproc\n"
	"	.p2align 4\n"
	"f_val:	.cfi_startproc\n"
	"	nop\n"
	"f_val_1: .cfi_val_offset rbp, -16\n"
	"	ret\n"
	"	.cfi_endproc\n"
	"	.p2align 4\n"
	"f_sig:	.cfi_startproc\n"
	"	.cfi_signal_frame\n"
	"	nop\n"
	"	.cfi_def_cfa_offset 16\n"
	"	ret\n"
	"	.cfi_endproc\n"
	"	.p2align 4\n"
	"f_pers: .cfi_startproc\n"
	"	.cfi_personality 0x9b, DW.ref.pers\n"
	"	.cfi_lsda 0x1b, .Llsda\n"
	"	pushq	%rbx\n"
	"f_pers_1: .cfi_def_cfa_offset 16\n"
	"	.cfi_offset %rbx, -16\n"
	"	popq	%rbx\n"
	"f_pers_2: .cfi_def_cfa_offset 8\n"
	"	ret\n"
	"	.cfi_endproc\n"
	/* code without CFI, with a musl-style signal trampoline inside */
	"	.p2align 4\n"
	"f_nocfi: .fill	40, 1, 0x90\n"
	"restorer: movq	$15, %rax\n"
	"	syscall\n"
	"	.fill	40, 1, 0x90\n"
	"	.p2align 4\n"
	"f_after: .cfi_startproc\n"
	"	nop\n"
	"	ret\n"
	"	.cfi_endproc\n"
	"	.section .gcc_except_table,\"a\",@progbits\n"
	".Llsda:	.byte	0xff, 0xff, 0x01, 0x00\n"
	"	.hidden	DW.ref.pers\n"
	"	.weak	DW.ref.pers\n"
	"	.section .data.rel.local.DW.ref.pers,\"awG\",@progbits,DW.ref.pers,comdat\n"
	"	.align	8\n"
	"	.type	DW.ref.pers, @object\n"
	"	.size	DW.ref.pers, 8\n"
	"DW.ref.pers: .quad f_fp\n"
	"	.section .note.GNU-stack,\"\",@progbits\n";

static const struct {
	const char *sym;
	int delta;
	unsigned int cmd;
	struct profd_unw_rule r;
} asm_expect[] = {
	{ "f_fp", 0, 0, RSP(8) },
	{ "f_fp_1", 0, 0, RSPR(16, AT_CFA(-16)) },
	{ "f_fp_2", 0, 0, RBPR(16, AT_CFA(-16)) },
	{ "f_fp_3", 0, 0, RSPR(8, AT_CFA(-16)) },
	{ "f_state", 0, 0, RSP(8) },
	{ "f_state_1", 0, 0, RSP(32) },
	{ "f_state_2", 0, 0, RSP(8) },
	{ "f_state_3", 0, 0, RSP(32) },
	{ "f_state_4", 0, 0, RSP(8) },
	{ "f_root", 0, PROFD_UNW_STOP, { 0 } },
	{ "_start", 0, PROFD_UNW_STOP, { 0 } },
	{ "f_drap", 0, 0, RSP(8) },
	{ "f_drap_1", 0, 0, REGR(10, 0, SAME) },
	{ "f_drap_2", 0, 0, REGR(10, 0, PROFD_UNW_RBP_AT_RBP, 0) },
	{ "f_drap_3", 0, 0,
	  RULE(PROFD_UNW_CFA_DEREF, 6, -8, 0, PROFD_UNW_RBP_AT_RBP, 0, PROFD_UNW_RA_AT_CFA, -8) },
	{ "f_drap_4", 0, 0, RSPR(8, PROFD_UNW_RBP_AT_RBP, 0) },
	{ "f_plt", 0, 0, RSP(16) },
	{ "f_plt_1", 0, 0,
	  RULE(PROFD_UNW_CFA_PLT, 7, 8, 10, SAME, PROFD_UNW_RA_AT_CFA, -8) },
	{ "f_vfork_1", 0, 0, RULE(PROFD_UNW_CFA_REG, 7, 0, 0, SAME, PROFD_UNW_RA_REG, 5) },
	{ "f_vfork_2", 0, 0, RSP(8) },
	{ "f_rbpreg_1", 0, PROFD_UNW_INVALID(PROFD_UNW_INVALID_RBP_REG), { 0 } },
	{ "f_rbpreg_2", 0, 0, RSP(8) },
	{ "f_badexpr_1", 0, PROFD_UNW_INVALID(PROFD_UNW_INVALID_CFA_EXPR), { 0 } },
	{ "f_badexpr_2", 0, 0, RSP(8) },
	{ "f_val_1", 0, 0, RSPR(8, PROFD_UNW_RBP_VAL_CFA, -16) },
	{ "f_sig", 0, PROFD_UNW_SIGNAL, { 0 } },
	{ "f_sig", 1, PROFD_UNW_SIGNAL, { 0 } },
	{ "f_pers", 0, 0, RSP(8) },
	{ "f_pers_1", 0, 0, RSP(16) },
	{ "f_pers_2", 0, 0, RSP(8) },
	{ "f_nocfi", 0, PROFD_UNW_FRAME_POINTER, { 0 } },
	{ "restorer", -2, PROFD_UNW_FRAME_POINTER, { 0 } },
	{ "restorer", -1, PROFD_UNW_SIGNAL, { 0 } },
	{ "restorer", 8, PROFD_UNW_SIGNAL, { 0 } },
	{ "restorer", 9, PROFD_UNW_FRAME_POINTER, { 0 } },
	{ "f_after", 0, 0, RSP(8) },
};

static bool build_asm_prog(struct tmpdir *d, char *prog, size_t len)
{
	if (!ASSERT_TRUE(tmpdir__make(d), "mkdtemp"))
		return false;
	if (!ASSERT_TRUE(write_file(d, "funcs.S", asm_src) &&
				 write_file(d, "main.c", "void f_fp(void);\n"
							 "int main(void) { f_fp(); return 0; }\n"),
		 "write sources"))
		return false;
	if (!ASSERT_TRUE(cc(d, "-O1 -o prog main.c funcs.S"), "cc prog"))
		return false;
	path_in(d, "prog", prog, len);
	return true;
}

void test_unwind_asm_program(void)
{
	struct tmpdir d = { 0 };
	struct unwind_stats st;
	struct unwind_table *t = NULL;
	struct diff df = { 0 };
	char prog[128];
	size_t nhdr;

	if (!build_asm_prog(&d, prog, sizeof(prog)))
		goto cleanup;
	t = unwind_table__build(prog, &st);
	if (!ASSERT_OK_PTR(t, "build prog"))
		goto cleanup;
	for (size_t i = 0; i < sizeof(asm_expect) / sizeof(asm_expect[0]); i++) {
		__u64 a;
		char name[64];

		snprintf(name, sizeof(name), "%s%+d", asm_expect[i].sym, asm_expect[i].delta);
		if (!ASSERT_TRUE(sym_addr(prog, asm_expect[i].sym, &a, NULL), name))
			continue;
		if (asm_expect[i].cmd)
			expect_cmd(t, a + asm_expect[i].delta, asm_expect[i].cmd, name);
		else
			expect_rule(t, a + asm_expect[i].delta, asm_expect[i].r, name);
	}
	ASSERT_EQ(st.signal_by_bytes, 1, "trampoline found by bytes");
	ASSERT_EQ(st.invalid_rows[PROFD_UNW_INVALID_RBP_REG], 1, "rbp-in-register row");
	ASSERT_EQ(st.invalid_rows[PROFD_UNW_INVALID_CFA_EXPR], 1, "cfa-expression row");
	ASSERT_TRUE(st.cies >= 3, "zR, zRS and zPLR CIEs");
	table_sane(t, "prog");
	/* elfutils agrees everywhere (the two INVALID rows are unsupported) */
	if (diff_elfutils(prog, t, &df, &nhdr)) {
		print_diff("asm prog", &df);
		ASSERT_EQ(df.mismatches, 0, "asm prog vs elfutils");
		ASSERT_EQ(st.fdes, nhdr, "asm prog FDEs");
		ASSERT_EQ(df.invalid[PROFD_UNW_INVALID_RBP_REG] > 0 &&
				  df.invalid[PROFD_UNW_INVALID_CFA_EXPR] > 0,
			  1, "unsupported rows seen by the comparison");
	}
cleanup:
	unwind_table__free(t);
	tmpdir__remove(&d);
}

static const char c_src[] =
	"#include <stdio.h>\n"
	"#include <stdlib.h>\n"
	"#include <string.h>\n"
	"__attribute__((noinline)) int use(void *p, int n) { return ((char *)p)[n]; }\n"
	"__attribute__((noinline)) int work(int n)\n"
	"{\n"
	"	int s = 0;\n"
	"	for (int i = 0; i < n; i++)\n"
	"		s += rand() % 7;\n"
	"	return s;\n"
	"}\n"
	/* a variable-length array plus an over-aligned local: GCC realigns
	 * the stack through a DRAP register */
	"__attribute__((noinline)) int realign(int n)\n"
	"{\n"
	"	char buf[n];\n"
	"	_Alignas(64) char big[64];\n"
	"	memset(big, n, sizeof(big));\n"
	"	memset(buf, 1, n);\n"
	"	return use(big, 3) + use(buf, n - 1);\n"
	"}\n"
	"int main(int argc, char **argv)\n"
	"{\n"
	"	(void)argv;\n"
	"	printf(\"%d\\n\", work(argc) + realign(argc + 10));\n"
	"	return 0;\n"
	"}\n";

/* Real compiler output: frame-pointer code, DRAP realignment and the lazy
 * PLT, each checked at known places and then against elfutils. */
void test_unwind_compiled_c(void)
{
	static const struct {
		const char *name, *flags;
		bool fp;
	} builds[] = {
		{ "fp", "-O0 -fno-omit-frame-pointer -fcf-protection=none -Wl,-z,lazy", true },
		{ "o2", "-O2 -Wl,-z,lazy", false },
		{ "o2-nopie", "-O2 -no-pie -fno-pie -Wl,-z,lazy", false },
	};
	struct tmpdir d = { 0 };

	if (!ASSERT_TRUE(tmpdir__make(&d), "mkdtemp") ||
	    !ASSERT_TRUE(write_file(&d, "prog.c", c_src), "write"))
		goto cleanup;
	for (size_t i = 0; i < sizeof(builds) / sizeof(builds[0]); i++) {
		struct unwind_table *t;
		struct unwind_stats st;
		struct diff df = { 0 };
		char args[256], prog[128];
		__u64 a, sz, plt, plt_size;
		size_t nhdr;
		bool deref = false;

		snprintf(args, sizeof(args), "%s -o %s prog.c", builds[i].flags, builds[i].name);
		if (!ASSERT_TRUE(cc(&d, args), builds[i].name))
			continue;
		path_in(&d, builds[i].name, prog, sizeof(prog));
		t = unwind_table__build(prog, &st);
		if (!ASSERT_OK_PTR(t, builds[i].name))
			continue;
		if (builds[i].fp && ASSERT_TRUE(sym_addr(prog, "work", &a, &sz), "work"))
			expect_rule(t, a + sz / 2, RBPR(16, AT_CFA(-16)), "fp body");
		/* the stack realignment shows up as CFA = *(rbp - k) */
		if (ASSERT_TRUE(sym_addr(prog, "realign", &a, &sz), "realign")) {
			for (__u64 pc = a; pc < a + sz; pc++) {
				struct profd_unw_rule r;
				unsigned int id = unwind_table__lookup(t, pc, &r);

				if (!PROFD_UNW_IS_CMD(id) && r.cfa_kind == PROFD_UNW_CFA_DEREF &&
				    r.cfa_reg == PROFD_UNW_REG_RBP && r.rbp_how == PROFD_UNW_RBP_AT_RBP)
					deref = true;
			}
			ASSERT_TRUE(deref || builds[i].fp, "realign uses a DEREF CFA");
		}
		/* lazy binding: PLT entries after PLT0 use the PLT expression */
		if (ASSERT_TRUE(section_of(prog, ".plt", &plt, &plt_size, NULL), ".plt") &&
		    ASSERT_TRUE(plt_size >= 32, ".plt entries"))
			expect_rule(t, plt + 16,
				    RULE(PROFD_UNW_CFA_PLT, 7, 8, 11, SAME, PROFD_UNW_RA_AT_CFA, -8),
				    "plt entry");
		table_sane(t, builds[i].name);
		if (diff_elfutils(prog, t, &df, &nhdr)) {
			print_diff(builds[i].name, &df);
			ASSERT_EQ(df.mismatches, 0, builds[i].name);
			ASSERT_EQ(st.fdes, nhdr, builds[i].name);
		}
		unwind_table__free(t);
	}
cleanup:
	tmpdir__remove(&d);
}

/* Code described only by .debug_frame (no asynchronous unwind tables),
 * plain and compressed, checked byte by byte against elfutils' reading of
 * .debug_frame. */
void test_unwind_debug_frame_elf(void)
{
	static const char src[] =
		"__attribute__((noinline)) long leaf(long x) { return x * 3 + 1; }\n"
		"__attribute__((noinline)) long mid(long x)\n"
		"{\n"
		"	volatile long a[8];\n"
		"	for (int i = 0; i < 8; i++)\n"
		"		a[i] = leaf(x + i);\n"
		"	return a[x & 7];\n"
		"}\n"
		"int main(int argc, char **argv) { (void)argv; return (int)mid(argc); }\n";
	static const char *const syms[] = { "leaf", "mid", "main" };
	static const char *const names[] = { "dbg", "dbgz" };
	const char *flags = "-O1 -g -fno-asynchronous-unwind-tables -fno-unwind-tables";
	struct unwind_table *t[2] = { 0 };
	struct tmpdir d = { 0 };
	char args[256];

	if (!ASSERT_TRUE(tmpdir__make(&d), "mkdtemp") ||
	    !ASSERT_TRUE(write_file(&d, "dbg.c", src), "write"))
		goto cleanup;
	snprintf(args, sizeof(args), "%s -o dbg dbg.c", flags);
	if (!ASSERT_TRUE(cc(&d, args), "cc dbg"))
		goto cleanup;
	snprintf(args, sizeof(args), "%s -gz -o dbgz dbg.c", flags);
	if (!ASSERT_TRUE(cc(&d, args), "cc dbgz"))
		goto cleanup;

	for (int k = 0; k < 2; k++) {
		struct unwind_stats st;
		char prog[128];
		int fd;
		Elf *elf;
		Dwarf *dw;
		Dwarf_CFI *cfi;
		size_t compared = 0, mismatches = 0;

		path_in(&d, names[k], prog, sizeof(prog));
		t[k] = unwind_table__build(prog, &st);
		if (!ASSERT_OK_PTR(t[k], names[k]))
			goto cleanup;
		ASSERT_TRUE(st.fdes_debug_frame >= 3, "FDEs from .debug_frame");
		ASSERT_EQ(st.errors[UNWIND_ERR_DEBUG_FRAME], 0, "debug_frame readable");
		table_sane(t[k], names[k]);

		fd = open(prog, O_RDONLY | O_CLOEXEC);
		elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
		dw = dwarf_begin_elf(elf, DWARF_C_READ, NULL);
		cfi = dw ? dwarf_getcfi(dw) : NULL;
		if (ASSERT_OK_PTR(cfi, "dwarf_getcfi")) {
			for (size_t i = 0; i < 3; i++) {
				__u64 a, sz;

				if (!ASSERT_TRUE(sym_addr(prog, syms[i], &a, &sz) && sz, syms[i]))
					continue;
				for (__u64 pc = a; pc < a + sz; pc++) {
					struct want w;
					struct diff df = { 0 };
					__u64 s, e;

					if (!ASSERT_EQ(eu_want(cfi, pc, &w, &s, &e), 0, syms[i]))
						break;
					diff_point(t[k], pc, &w, &df);
					mismatches += df.mismatches;
					compared++;
				}
			}
		}
		printf("    %s: %zu addresses compared with elfutils' .debug_frame, %zu mismatches\n",
		       names[k], compared, mismatches);
		ASSERT_EQ(mismatches, 0, "debug_frame vs elfutils");
		ASSERT_TRUE(compared > 20, "compared");
		dwarf_end(dw);
		elf_end(elf);
		close(fd);
	}
	/* compression changes nothing in the table */
	{
		size_t n0, n1, r0, r1;
		const struct profd_unw_row *a = unwind_table__rows(t[0], &n0);
		const struct profd_unw_row *b = unwind_table__rows(t[1], &n1);
		const struct profd_unw_rule *ra = unwind_table__rules(t[0], &r0);
		const struct profd_unw_rule *rb = unwind_table__rules(t[1], &r1);

		ASSERT_TRUE(n0 == n1 && !memcmp(a, b, n0 * sizeof(*a)), "same rows");
		ASSERT_TRUE(r0 == r1 && !memcmp(ra, rb, r0 * sizeof(*ra)), "same rules");
	}
cleanup:
	unwind_table__free(t[0]);
	unwind_table__free(t[1]);
	tmpdir__remove(&d);
}

static bool tables_equal(const struct unwind_table *a, const struct unwind_table *b)
{
	size_t n0, n1, r0, r1;
	const struct profd_unw_row *x = unwind_table__rows(a, &n0);
	const struct profd_unw_row *y = unwind_table__rows(b, &n1);
	const struct profd_unw_rule *rx = unwind_table__rules(a, &r0);
	const struct profd_unw_rule *ry = unwind_table__rules(b, &r1);

	return n0 == n1 && r0 == r1 && !memcmp(x, y, n0 * sizeof(*x)) &&
	       (!r0 || !memcmp(rx, ry, r0 * sizeof(*rx)));
}

/* An ELF image whose section headers are gone (some packers, core-dump
 * extracts, vDSO copies): .eh_frame is found through PT_GNU_EH_FRAME. */
static void strip_section_headers(__u8 *img)
{
	Elf64_Ehdr *eh = (Elf64_Ehdr *)img;

	eh->e_shoff = 0;
	eh->e_shnum = 0;
	eh->e_shstrndx = 0;
}

void test_unwind_no_section_headers(void)
{
	struct unwind_table *a = NULL, *b = NULL, *c = NULL;
	struct unwind_stats sa, sb, sc;
	struct tmpdir d = { 0 };
	char prog[128];
	__u8 *img = NULL;
	size_t size;

	if (!build_asm_prog(&d, prog, sizeof(prog)))
		goto cleanup;
	img = read_all(prog, &size);
	if (!ASSERT_OK_PTR(img, "read"))
		goto cleanup;
	a = unwind_table__build(prog, &sa);
	b = unwind_table__build_mem(img, size, &sb);
	strip_section_headers(img);
	c = unwind_table__build_mem(img, size, &sc);
	if (!ASSERT_OK_PTR(a, "file") || !ASSERT_OK_PTR(b, "mem") || !ASSERT_OK_PTR(c, "no shdrs"))
		goto cleanup;
	ASSERT_TRUE(tables_equal(a, b), "file == memory");
	ASSERT_TRUE(tables_equal(a, c), "sections == PT_GNU_EH_FRAME");
	ASSERT_EQ(sa.eh_frame_from_phdr, 0, "from sections");
	ASSERT_EQ(sc.eh_frame_from_phdr, 1, "from phdr");
	ASSERT_EQ(sc.fdes, sa.fdes, "same FDEs");
cleanup:
	unwind_table__free(a);
	unwind_table__free(b);
	unwind_table__free(c);
	free(img);
	tmpdir__remove(&d);
}

void test_unwind_not_elf(void)
{
	struct unwind_stats st;
	struct tmpdir d = { 0 };
	char path[128];
	__u8 *img = NULL;
	size_t size;

	errno = 0;
	ASSERT_TRUE(!unwind_table__build("/nonexistent/profd", &st) && errno == ENOENT, "ENOENT");
	ASSERT_TRUE(!unwind_table__build_mem("hello", 5, &st) && errno == EINVAL, "not ELF");
	ASSERT_TRUE(!unwind_table__build_mem(NULL, 0, &st) && errno == EINVAL, "empty");
	if (!ASSERT_TRUE(tmpdir__make(&d), "mkdtemp"))
		return;
	if (!ASSERT_TRUE(write_file(&d, "o.c", "int f(int x) { return x + 1; }\n"
					       "void _start(void) { for (;;) ; }\n") &&
				 cc(&d, "-O1 -c -o o.o o.c") &&
				 cc(&d, "-O1 -nostdlib -static -fno-asynchronous-unwind-tables "
					"-fno-unwind-tables -o nocfi o.c") &&
				 cc(&d, "-O1 -nostdlib -static -o withcfi o.c"),
			 "cc"))
		goto cleanup;
	path_in(&d, "o.o", path, sizeof(path));
	ASSERT_TRUE(!unwind_table__build(path, &st) && errno == EINVAL, "ET_REL refused");
	path_in(&d, "nocfi", path, sizeof(path));
	ASSERT_TRUE(!unwind_table__build(path, &st) && errno == ENODATA, "no CFI");
	path_in(&d, "withcfi", path, sizeof(path));
	img = read_all(path, &size);
	if (ASSERT_OK_PTR(img, "read")) {
		struct unwind_table *t = unwind_table__build_mem(img, size, &st);

		ASSERT_OK_PTR(t, "x86-64 accepted");
		unwind_table__free(t);
		((Elf64_Ehdr *)img)->e_machine = EM_AARCH64;
		ASSERT_TRUE(!unwind_table__build_mem(img, size, &st) && errno == EINVAL,
			    "other machine refused");
		((Elf64_Ehdr *)img)->e_machine = EM_X86_64;
		img[EI_CLASS] = ELFCLASS32;
		ASSERT_TRUE(!unwind_table__build_mem(img, size, &st) && errno == EINVAL,
			    "32-bit refused");
	}
cleanup:
	free(img);
	tmpdir__remove(&d);
}

/* ---- corrupt input ------------------------------------------------------- */

/* Builds from every truncation in [lo, hi) and a sample elsewhere, and from
 * byte-flipped copies of [lo, hi); any table that comes out must be sane. */
static size_t torture_image(const __u8 *img, size_t size, size_t lo, size_t hi,
			    unsigned int *seed, int flips, const char *name)
{
	__u8 *copy = malloc(size);
	size_t built = 0;

	for (size_t len = 0; len <= size; len += (len >= lo && len < hi) ? 1 : 1 + size / 150) {
		struct unwind_stats st;
		struct unwind_table *t = unwind_table__build_mem(img, len, &st);

		if (t) {
			built++;
			if (!table_sane(t, name)) {
				printf("    %s: truncated at %zu\n", name, len);
				unwind_table__free(t);
				break;
			}
		}
		unwind_table__free(t);
	}
	for (int i = 0; i < flips; i++) {
		struct unwind_stats st;
		struct unwind_table *t;
		int n = 1 + rand_r(seed) % 4;

		memcpy(copy, img, size);
		for (int k = 0; k < n; k++)
			copy[lo + (size_t)rand_r(seed) % (hi - lo)] = (__u8)rand_r(seed);
		t = unwind_table__build_mem(copy, size, &st);
		if (t) {
			built++;
			if (!table_sane(t, name)) {
				printf("    %s: flip round %d\n", name, i);
				unwind_table__free(t);
				break;
			}
		}
		unwind_table__free(t);
	}
	free(copy);
	return built;
}

void test_unwind_corrupt_elf(void)
{
	unsigned int seed = 20260601;
	struct tmpdir d = { 0 };
	char prog[128];
	__u8 *img = NULL;
	size_t size, built;
	__u64 ea, es, eo, ha, hs, ho;

	if (!build_asm_prog(&d, prog, sizeof(prog)))
		goto cleanup;
	img = read_all(prog, &size);
	if (!ASSERT_OK_PTR(img, "read") ||
	    !ASSERT_TRUE(section_of(prog, ".eh_frame", &ea, &es, &eo) &&
				 section_of(prog, ".eh_frame_hdr", &ha, &hs, &ho),
			 "sections"))
		goto cleanup;
	built = torture_image(img, size, eo, eo + es, &seed, 1500, "eh_frame");
	printf("    %zu tables built from truncated/flipped images with sections\n", built);
	ASSERT_TRUE(built > 1000, "most flips still build");
	/* without section headers the header table and the frame data both
	 * steer the parser */
	strip_section_headers(img);
	built = torture_image(img, size, ho, eo + es, &seed, 1500, "no shdrs");
	printf("    %zu tables built from truncated/flipped images without sections\n", built);
	ASSERT_TRUE(built > 500, "most flips still build");
cleanup:
	free(img);
	tmpdir__remove(&d);
}

/* Random bytes as .eh_frame/.debug_frame, alone and after a valid prefix. */
void test_unwind_garbage(void)
{
	unsigned int seed = 42;
	__u8 buf[600];
	struct buf valid = { 0 };
	struct cie_spec cs = { .fde_enc = PCREL4 };
	size_t cie = add_cie(&valid, &cs), built = 0;

	add_simple_fde(&valid, cie, FN, 0x40, 16);
	add_simple_fde(&valid, cie, FN + 0x40, 0x40, 24);
	for (int i = 0; i < 4000; i++) {
		struct unwind_input in = { .eh_frame_vaddr = (__u64)rand_r(&seed) << 8 };
		struct unwind_stats st;
		struct unwind_table *t;
		size_t len = (size_t)rand_r(&seed) % sizeof(buf);

		for (size_t k = 0; k < len; k++)
			buf[k] = (__u8)rand_r(&seed);
		switch (i % 4) {
		case 0: /* plausible small lengths make the parser go deeper */
			if (len >= 8)
				memcpy(buf, &(__u32){ (__u32)(len / 2) }, 4);
			break;
		case 1:
		case 2: { /* a valid start, then garbage from a random point */
			size_t cut = (size_t)rand_r(&seed) % valid.n;

			memcpy(buf, valid.d, cut < len ? cut : len);
			break;
		}
		}
		if (i % 4 == 2) {
			in.debug_frame = buf;
			in.debug_frame_size = len;
		} else {
			in.eh_frame = buf;
			in.eh_frame_size = len;
		}
		t = unwind_table__build_raw(&in, &st);
		if (t) {
			built++;
			if (!table_sane(t, "garbage")) {
				unwind_table__free(t);
				break;
			}
		}
		unwind_table__free(t);
	}
	printf("    %zu tables built from 4000 garbage inputs\n", built);
	free(valid.d);
}

/* libc's real .eh_frame with bytes flipped: many CIE/FDE shapes at once. */
void test_unwind_corrupt_libc(void)
{
	const char *libc = "/usr/lib/x86_64-linux-gnu/libc.so.6";
	unsigned int seed = 1234;
	__u64 ea, es, eo;
	__u8 *img, *frame;
	size_t size, built = 0;

	if (!ASSERT_TRUE(section_of(libc, ".eh_frame", &ea, &es, &eo), "libc .eh_frame"))
		return;
	img = read_all(libc, &size);
	if (!ASSERT_OK_PTR(img, "read libc") || !ASSERT_TRUE(eo + es <= size, "in file")) {
		free(img);
		return;
	}
	frame = malloc(es);
	for (int i = 0; i < 40; i++) {
		struct unwind_stats st;
		struct unwind_table *t;

		memcpy(frame, img + eo, es);
		for (int k = 0; k < 1 + i * 4; k++)
			frame[(size_t)rand_r(&seed) % es] = (__u8)rand_r(&seed);
		t = unwind_table__build_raw(&(struct unwind_input){ .eh_frame = frame,
								    .eh_frame_size = es,
								    .eh_frame_vaddr = ea },
					    &st);
		if (t) {
			built++;
			if (!table_sane(t, "libc flips")) {
				unwind_table__free(t);
				break;
			}
		}
		unwind_table__free(t);
	}
	ASSERT_TRUE(built > 30, "flipped libc still builds");
	free(frame);
	free(img);
}

/* The vDSO, copied out of our own address space the way the loader copies it
 * out of a target process, and compared with elfutils. */
void test_unwind_vdso(void)
{
	struct unwind_stats st;
	struct unwind_table *t = NULL;
	struct tmpdir d = { 0 };
	struct diff df = { 0 };
	unsigned long lo = 0, hi = 0;
	char line[256], path[128];
	size_t nhdr;
	FILE *f = fopen("/proc/self/maps", "r");

	while (f && fgets(line, sizeof(line), f))
		if (strstr(line, "[vdso]") && sscanf(line, "%lx-%lx", &lo, &hi) == 2)
			break;
	if (f)
		fclose(f);
	if (!lo)
		SKIP("no [vdso] mapping");
	t = unwind_table__build_mem((const void *)lo, hi - lo, &st);
	if (!ASSERT_OK_PTR(t, "vdso"))
		return;
	ASSERT_TRUE(st.fdes > 0, "vdso FDEs");
	table_sane(t, "vdso");
	print_stats("[vdso]", &st, 0);
	if (ASSERT_TRUE(tmpdir__make(&d), "mkdtemp")) {
		FILE *out;
		bool written = false;

		path_in(&d, "vdso.so", path, sizeof(path));
		out = fopen(path, "wb");
		if (ASSERT_OK_PTR(out, "write vdso")) {
			written = fwrite((const void *)lo, 1, hi - lo, out) == hi - lo;
			written &= fclose(out) == 0;
		}
		if (ASSERT_TRUE(written, "vdso written") && diff_elfutils(path, t, &df, &nhdr)) {
			print_diff("[vdso]", &df);
			ASSERT_EQ(df.mismatches, 0, "vdso vs elfutils");
			ASSERT_EQ(st.fdes, nhdr, "vdso FDEs");
		}
	}
	unwind_table__free(t);
	tmpdir__remove(&d);
}
