// SPDX-License-Identifier: Apache-2.0
/* cfi: parses .eh_frame/.debug_frame CIEs and FDEs and runs each FDE's CFA
 * program, handing the builder one row wherever the CFA, rbp or RA rule
 * changes. Every read is bounds-checked: corrupt input ends an entry with a
 * counted reason, never the process. */
#include <dwarf.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "binary/ehframe.h"
#include "unwind/internal.h"

/* remember_state nesting; compilers use 1-2 levels. */
#define CFI_STATE_STACK 16
/* CIEs cached by section offset; a miss just parses the CIE again. */
#define CFI_CIE_CACHE 256
/* Longest CFA expression we pattern-match (the PLT one has 9 operations). */
#define CFI_EXPR_MAX_OPS 12

struct cur {
	const __u8 *p, *end;
	bool err;
};

static __u8 cur_u8(struct cur *c)
{
	if (c->p >= c->end) {
		c->err = true;
		return 0;
	}
	return *c->p++;
}

static __u64 cur_uint(struct cur *c, size_t n)
{
	__u64 v = 0;

	if ((size_t)(c->end - c->p) < n) {
		c->err = true;
		c->p = c->end;
		return 0;
	}
	for (size_t i = 0; i < n; i++)
		v |= (__u64)c->p[i] << (8 * i);
	c->p += n;
	return v;
}

/* LEB128: the value's bits, how many were read (*shift) and the last byte.
 * Bits beyond 64 are dropped, as every other DWARF consumer does. */
static __u64 cur_leb(struct cur *c, unsigned int *shift, __u8 *last)
{
	__u64 v = 0;
	__u8 b;

	*shift = 0;
	do {
		b = cur_u8(c);
		if (c->err)
			return 0;
		if (*shift < 64)
			v |= (__u64)(b & 0x7f) << *shift;
		*shift += 7;
	} while (b & 0x80);
	*last = b;
	return v;
}

static __u64 cur_uleb(struct cur *c)
{
	unsigned int shift;
	__u8 last;

	return cur_leb(c, &shift, &last);
}

static __s64 cur_sleb(struct cur *c)
{
	unsigned int shift;
	__u8 last;
	__u64 v = cur_leb(c, &shift, &last);

	if (!c->err && shift < 64 && (last & 0x40))
		v |= ~0ULL << shift;
	return (__s64)v;
}

int cfi__read_encoded(const __u8 **p, const __u8 *end, __u8 enc, __u64 at_vaddr,
		      __u64 datarel_base, __u64 *out)
{
	uint64_t v;
	int err = ehframe_read_encoded(p, end, enc, at_vaddr, datarel_base, &v);

	if (!err)
		*out = v;
	return err;
}

/* ---- CFA program state ------------------------------------------------ */

enum reg_how {
	REG_UNSPEC, /* not mentioned: the x86-64 ABI default ("same value") */
	REG_UNDEF,
	REG_SAME,
	REG_OFFSET,	/* saved at CFA + val */
	REG_VAL_OFFSET, /* value is CFA + val */
	REG_REGISTER,	/* in register val */
	REG_EXPR,	/* saved at the address expr computes */
	REG_VAL_EXPR,
};

struct reg_rule {
	__u8 how;
	__s64 val;
	const __u8 *expr;
	size_t len;
};

enum cfa_how { CFA_UNSET, CFA_REGOFF, CFA_EXPR, CFA_BROKEN };

struct cfi_state {
	__u8 cfa_how;
	__u64 cfa_reg;
	__s64 cfa_off;
	const __u8 *cfa_expr;
	size_t cfa_len;
	/* Only rbp and the return-address column matter to the walker; rules
	 * for other registers are parsed and dropped. */
	struct reg_rule rbp, ra;
};

struct cie {
	size_t off; /* SIZE_MAX: empty cache slot */
	bool valid;
	__u8 err; /* enum unwind_err when !valid */
	bool aug_z;
	bool signal;
	__u8 fde_enc;
	__u64 caf;
	__s64 daf;
	__u64 ra_reg;
	const __u8 *insns, *insns_end;
	struct cfi_state init;
	__u8 init_invalid; /* PROFD_UNW_INVALID_* from the initial program */
};

struct section {
	const __u8 *start, *end;
	__u64 vaddr;
	bool debug;
};

struct cfi_ctx {
	struct unw_builder *b;
	struct section s;
	struct cie cache[CFI_CIE_CACHE];
	struct cfi_state stack[CFI_STATE_STACK];
};

/* One running program: the CIE's initial instructions (fde_start == 0,
 * init == NULL) or an FDE's. */
struct vm {
	struct cfi_ctx *x;
	const struct cie *cie;
	const struct cfi_state *init; /* target of DW_CFA_restore */
	struct cfi_state st;
	int depth;
	__u64 fde_start, loc, end;
	bool in_cie;
};

static struct reg_rule *vm_reg(struct vm *m, __u64 reg)
{
	if (reg == PROFD_UNW_REG_RBP)
		return &m->st.rbp;
	if (reg == m->cie->ra_reg)
		return &m->st.ra;
	return NULL;
}

/* Factored offsets: an overflow saturates, so the range checks reject it
 * rather than garbage input reaching undefined behaviour. */
static __s64 factored_s(__s64 v, __s64 factor)
{
	__s64 r;

	return __builtin_mul_overflow(v, factor, &r) ? INT64_MAX : r;
}

static __s64 factored_u(__u64 v, __s64 factor)
{
	return v > INT64_MAX ? INT64_MAX : factored_s((__s64)v, factor);
}

static void vm_set(struct vm *m, __u64 reg, __u8 how, __s64 val, const __u8 *expr, size_t len)
{
	struct reg_rule *r = vm_reg(m, reg);

	if (r)
		*r = (struct reg_rule){ .how = how, .val = val, .expr = expr, .len = len };
}

/* ---- rule conversion ---------------------------------------------------- */

struct xop {
	__u8 op; /* DW_OP_bregx for every breg, DW_OP_constu for every constant */
	__u64 reg;
	__s64 n;
};

/* Decodes a DWARF expression into normalised operations; -1 if it uses an
 * operation outside the small set our patterns need. */
static int expr_decode(const __u8 *p, size_t len, struct xop *ops, int max)
{
	struct cur c = { p, p + len, false };
	int n = 0;

	while (c.p < c.end) {
		__u8 op = cur_u8(&c);
		struct xop x = { .op = op };

		if (n == max)
			return -1;
		if (op >= DW_OP_breg0 && op <= DW_OP_breg31) {
			x.op = DW_OP_bregx;
			x.reg = op - DW_OP_breg0;
			x.n = cur_sleb(&c);
		} else if (op >= DW_OP_lit0 && op <= DW_OP_lit31) {
			x.op = DW_OP_constu;
			x.n = op - DW_OP_lit0;
		} else {
			switch (op) {
			case DW_OP_bregx:
				x.reg = cur_uleb(&c);
				x.n = cur_sleb(&c);
				break;
			case DW_OP_const1u:
				x.n = cur_uint(&c, 1);
				break;
			case DW_OP_const1s:
				x.n = (__s8)cur_uint(&c, 1);
				break;
			case DW_OP_const2u:
				x.n = cur_uint(&c, 2);
				break;
			case DW_OP_const2s:
				x.n = (__s16)cur_uint(&c, 2);
				break;
			case DW_OP_const4u:
				x.n = cur_uint(&c, 4);
				break;
			case DW_OP_const4s:
				x.n = (__s32)cur_uint(&c, 4);
				break;
			case DW_OP_constu:
			case DW_OP_plus_uconst:
				x.n = (__s64)cur_uleb(&c);
				break;
			case DW_OP_consts:
				x.n = cur_sleb(&c);
				break;
			case DW_OP_deref:
			case DW_OP_and:
			case DW_OP_ge:
			case DW_OP_shl:
			case DW_OP_plus:
			case DW_OP_minus:
				break;
			default:
				return -1;
			}
			if (op != DW_OP_plus_uconst && op != DW_OP_bregx && op != DW_OP_deref &&
			    op != DW_OP_and && op != DW_OP_ge && op != DW_OP_shl &&
			    op != DW_OP_plus && op != DW_OP_minus)
				x.op = DW_OP_constu;
		}
		if (c.err)
			return -1;
		ops[n++] = x;
	}
	return n;
}

static bool fits_s32(__s64 v)
{
	return v >= INT32_MIN && v <= INT32_MAX;
}

static bool fits_s16(__s64 v)
{
	return v >= INT16_MIN && v <= INT16_MAX;
}

/* CFA expressions we understand (reason 0) or why not. */
static __u8 cfa_expr_match(const __u8 *p, size_t len, struct profd_unw_rule *r)
{
	struct xop o[CFI_EXPR_MAX_OPS];
	int n = expr_decode(p, len, o, CFI_EXPR_MAX_OPS);
	__s64 aux = 0;

	if (n < 1 || o[0].op != DW_OP_bregx)
		return PROFD_UNW_INVALID_CFA_EXPR;
	/* rsp + k + (((rip & 15) >= T) << 3): lazy-binding PLT entries */
	if (n == 9 && o[0].reg == PROFD_UNW_REG_RSP && o[1].op == DW_OP_bregx &&
	    o[1].reg == PROFD_UNW_REG_RA && o[1].n == 0 && o[2].op == DW_OP_constu &&
	    o[2].n == 15 && o[3].op == DW_OP_and && o[4].op == DW_OP_constu &&
	    o[4].n >= 0 && o[4].n <= 15 && o[5].op == DW_OP_ge && o[6].op == DW_OP_constu &&
	    o[6].n == 3 && o[7].op == DW_OP_shl && o[8].op == DW_OP_plus) {
		if (!fits_s32(o[0].n))
			return PROFD_UNW_INVALID_CFA_RANGE;
		r->cfa_kind = PROFD_UNW_CFA_PLT;
		r->cfa_reg = PROFD_UNW_REG_RSP;
		r->cfa_off = (__s32)o[0].n;
		r->cfa_aux = (__s32)o[4].n;
		return 0;
	}
	if (o[0].reg > PROFD_UNW_REG_RA)
		return PROFD_UNW_INVALID_CFA_REG;
	if (n == 1) { /* reg + k: a def_cfa written as an expression */
		r->cfa_kind = PROFD_UNW_CFA_REG;
	} else if (o[1].op != DW_OP_deref) {
		return PROFD_UNW_INVALID_CFA_EXPR;
	} else if (n == 2) { /* *(reg + k): stack realignment (DRAP) */
		r->cfa_kind = PROFD_UNW_CFA_DEREF;
	} else if (n == 3 && o[2].op == DW_OP_plus_uconst) {
		r->cfa_kind = PROFD_UNW_CFA_DEREF;
		aux = o[2].n;
	} else if (n == 4 && o[2].op == DW_OP_constu && fits_s32(o[2].n) &&
		   (o[3].op == DW_OP_plus || o[3].op == DW_OP_minus)) {
		r->cfa_kind = PROFD_UNW_CFA_DEREF;
		aux = o[3].op == DW_OP_plus ? o[2].n : -o[2].n;
	} else {
		return PROFD_UNW_INVALID_CFA_EXPR;
	}
	if (!fits_s32(o[0].n) || !fits_s32(aux))
		return PROFD_UNW_INVALID_CFA_RANGE;
	r->cfa_reg = (__u8)o[0].reg;
	r->cfa_off = (__s32)o[0].n;
	r->cfa_aux = (__s32)aux;
	return 0;
}

static __u8 rbp_rule(const struct reg_rule *rr, struct profd_unw_rule *r)
{
	struct xop o[2];
	int n;

	switch (rr->how) {
	case REG_UNSPEC:
	case REG_SAME:
		r->rbp_how = PROFD_UNW_RBP_SAME;
		return 0;
	case REG_UNDEF:
		r->rbp_how = PROFD_UNW_RBP_UNDEF;
		return 0;
	case REG_OFFSET:
	case REG_VAL_OFFSET:
		if (!fits_s16(rr->val))
			return PROFD_UNW_INVALID_RBP_RANGE;
		r->rbp_how = rr->how == REG_OFFSET ? PROFD_UNW_RBP_AT_CFA : PROFD_UNW_RBP_VAL_CFA;
		r->rbp_off = (__s16)rr->val;
		return 0;
	case REG_REGISTER:
		if (rr->val == PROFD_UNW_REG_RBP) {
			r->rbp_how = PROFD_UNW_RBP_SAME;
			return 0;
		}
		return PROFD_UNW_INVALID_RBP_REG;
	case REG_EXPR:
		/* saved at *(rbp + k) or *(rsp + k): GCC's DRAP prologue says
		 * "DW_CFA_expression: rbp (DW_OP_breg6 0)" */
		n = expr_decode(rr->expr, rr->len, o, 2);
		if (n != 1 || o[0].op != DW_OP_bregx ||
		    (o[0].reg != PROFD_UNW_REG_RBP && o[0].reg != PROFD_UNW_REG_RSP))
			return PROFD_UNW_INVALID_RBP_EXPR;
		if (!fits_s16(o[0].n))
			return PROFD_UNW_INVALID_RBP_RANGE;
		r->rbp_how = o[0].reg == PROFD_UNW_REG_RBP ? PROFD_UNW_RBP_AT_RBP : PROFD_UNW_RBP_AT_RSP;
		r->rbp_off = (__s16)o[0].n;
		return 0;
	default:
		return PROFD_UNW_INVALID_RBP_EXPR;
	}
}

/* Turns the state at one address into a row value. */
static __u16 state_rule(struct vm *m)
{
	const struct cfi_state *s = &m->st;
	struct profd_unw_rule r = { 0 };
	__u8 why = 0;

	/* RA undefined marks the outermost frame whatever the CFA says. */
	if (s->ra.how == REG_UNDEF)
		return PROFD_UNW_STOP;

	switch (s->cfa_how) {
	case CFA_REGOFF:
		if (s->cfa_reg > PROFD_UNW_REG_RA)
			why = PROFD_UNW_INVALID_CFA_REG;
		else if (!fits_s32(s->cfa_off))
			why = PROFD_UNW_INVALID_CFA_RANGE;
		r.cfa_kind = PROFD_UNW_CFA_REG;
		r.cfa_reg = (__u8)s->cfa_reg;
		r.cfa_off = (__s32)s->cfa_off;
		break;
	case CFA_EXPR:
		why = cfa_expr_match(s->cfa_expr, s->cfa_len, &r);
		break;
	default:
		why = PROFD_UNW_INVALID_CFA_BROKEN;
		break;
	}
	if (why)
		return PROFD_UNW_INVALID(why);

	switch (s->ra.how) {
	case REG_OFFSET:
		if (!fits_s16(s->ra.val))
			return PROFD_UNW_INVALID(PROFD_UNW_INVALID_RA_RANGE);
		r.ra_how = PROFD_UNW_RA_AT_CFA;
		r.ra_off = (__s16)s->ra.val;
		break;
	case REG_REGISTER:
		if ((__u64)s->ra.val == m->cie->ra_reg)
			return PROFD_UNW_INVALID(PROFD_UNW_INVALID_RA_SAME);
		if ((__u64)s->ra.val > PROFD_UNW_REG_RA)
			return PROFD_UNW_INVALID(PROFD_UNW_INVALID_RA_RANGE);
		r.ra_how = PROFD_UNW_RA_REG;
		r.ra_off = (__s16)s->ra.val;
		break;
	case REG_UNSPEC:
	case REG_SAME:
		return PROFD_UNW_INVALID(PROFD_UNW_INVALID_RA_SAME);
	default:
		return PROFD_UNW_INVALID(PROFD_UNW_INVALID_RA_EXPR);
	}

	why = rbp_rule(&s->rbp, &r);
	if (why)
		return PROFD_UNW_INVALID(why);
	return unw_builder__intern(m->x->b, &r);
}

/* ---- the CFA program interpreter ---------------------------------------- */

static int vm_emit(struct vm *m, __u16 rule)
{
	if (m->in_cie)
		return 0;
	return unw_builder__add_row(m->x->b, m->loc - m->fde_start, rule);
}

/* vm_run() results besides 0, -errno and PROFD_UNW_INVALID_* reasons. */
#define VM_DONE 0x100 /* advanced past the end of the FDE */

/* Moves to new_loc, emitting the row for [loc, new_loc). */
static int vm_advance(struct vm *m, __u64 new_loc)
{
	int err;

	if (m->in_cie || new_loc < m->loc)
		return PROFD_UNW_INVALID_BAD_LOC;
	if (new_loc == m->loc)
		return 0;
	err = vm_emit(m, state_rule(m));
	if (err)
		return err;
	m->loc = new_loc;
	return m->loc >= m->end ? VM_DONE : 0;
}

static int vm_advance_by(struct vm *m, __u64 delta)
{
	__u64 new_loc;

	if (__builtin_mul_overflow(delta, m->cie->caf, &delta) ||
	    __builtin_add_overflow(m->loc, delta, &new_loc))
		return PROFD_UNW_INVALID_BAD_LOC;
	return vm_advance(m, new_loc);
}

static int vm_restore(struct vm *m, __u64 reg)
{
	if (!m->init) /* meaningless inside the CIE itself */
		return PROFD_UNW_INVALID_BAD_OPCODE;
	if (reg == PROFD_UNW_REG_RBP)
		m->st.rbp = m->init->rbp;
	else if (reg == m->cie->ra_reg)
		m->st.ra = m->init->ra;
	return 0;
}

/* One instruction at c. Returns 0, VM_DONE, a PROFD_UNW_INVALID_* reason
 * or -ENOMEM. */
static int vm_step(struct vm *m, struct cur *c)
{
	const struct cie *cie = m->cie;
	__u8 op = cur_u8(c);
	__u64 reg, u, new_loc;
	__s64 s;

	switch (op & 0xc0) { /* primary opcodes carry their operand in 6 bits */
	case DW_CFA_advance_loc:
		return vm_advance_by(m, op & 0x3f);
	case DW_CFA_offset:
		u = cur_uleb(c);
		vm_set(m, op & 0x3f, REG_OFFSET, factored_u(u, cie->daf), NULL, 0);
		return 0;
	case DW_CFA_restore:
		return vm_restore(m, op & 0x3f);
	}
	switch (op) {
	case DW_CFA_nop:
		return 0;
	case DW_CFA_set_loc:
		if (cfi__read_encoded(&c->p, c->end, cie->fde_enc,
				      m->x->s.vaddr + (__u64)(c->p - m->x->s.start), 0, &new_loc))
			return PROFD_UNW_INVALID_BAD_LOC;
		return vm_advance(m, new_loc);
	case DW_CFA_advance_loc1:
		u = cur_uint(c, 1);
		goto advance;
	case DW_CFA_advance_loc2:
		u = cur_uint(c, 2);
		goto advance;
	case DW_CFA_advance_loc4:
		u = cur_uint(c, 4);
		goto advance;
	case DW_CFA_MIPS_advance_loc8:
		u = cur_uint(c, 8);
advance:
		if (c->err)
			return PROFD_UNW_INVALID_TRUNCATED;
		return vm_advance_by(m, u);
	case DW_CFA_offset_extended:
		reg = cur_uleb(c);
		u = cur_uleb(c);
		vm_set(m, reg, REG_OFFSET, factored_u(u, cie->daf), NULL, 0);
		return 0;
	case DW_CFA_offset_extended_sf:
		reg = cur_uleb(c);
		s = cur_sleb(c);
		vm_set(m, reg, REG_OFFSET, factored_s(s, cie->daf), NULL, 0);
		return 0;
	case DW_CFA_GNU_negative_offset_extended:
		reg = cur_uleb(c);
		u = cur_uleb(c);
		vm_set(m, reg, REG_OFFSET, u > INT64_MAX ? INT64_MAX : factored_s(-(__s64)u, cie->daf), NULL, 0);
		return 0;
	case DW_CFA_val_offset:
		reg = cur_uleb(c);
		u = cur_uleb(c);
		vm_set(m, reg, REG_VAL_OFFSET, factored_u(u, cie->daf), NULL, 0);
		return 0;
	case DW_CFA_val_offset_sf:
		reg = cur_uleb(c);
		s = cur_sleb(c);
		vm_set(m, reg, REG_VAL_OFFSET, factored_s(s, cie->daf), NULL, 0);
		return 0;
	case DW_CFA_restore_extended:
		reg = cur_uleb(c);
		if (c->err)
			return PROFD_UNW_INVALID_TRUNCATED;
		return vm_restore(m, reg);
	case DW_CFA_undefined:
		reg = cur_uleb(c);
		vm_set(m, reg, REG_UNDEF, 0, NULL, 0);
		return 0;
	case DW_CFA_same_value:
		reg = cur_uleb(c);
		vm_set(m, reg, REG_SAME, 0, NULL, 0);
		return 0;
	case DW_CFA_register:
		reg = cur_uleb(c);
		u = cur_uleb(c);
		vm_set(m, reg, REG_REGISTER, (__s64)u, NULL, 0);
		return 0;
	case DW_CFA_remember_state:
		if (m->depth == CFI_STATE_STACK)
			return PROFD_UNW_INVALID_STATE_STACK;
		m->x->stack[m->depth++] = m->st;
		return 0;
	case DW_CFA_restore_state:
		if (m->depth == 0)
			return PROFD_UNW_INVALID_STATE_STACK;
		m->st = m->x->stack[--m->depth];
		return 0;
	case DW_CFA_def_cfa:
		m->st.cfa_reg = cur_uleb(c);
		m->st.cfa_off = (__s64)cur_uleb(c);
		m->st.cfa_how = CFA_REGOFF;
		return 0;
	case DW_CFA_def_cfa_sf:
		m->st.cfa_reg = cur_uleb(c);
		m->st.cfa_off = factored_s(cur_sleb(c), cie->daf);
		m->st.cfa_how = CFA_REGOFF;
		return 0;
	case DW_CFA_def_cfa_register:
	case DW_CFA_def_cfa_offset:
	case DW_CFA_def_cfa_offset_sf:
		if (op == DW_CFA_def_cfa_register)
			m->st.cfa_reg = cur_uleb(c);
		else if (op == DW_CFA_def_cfa_offset)
			m->st.cfa_off = (__s64)cur_uleb(c);
		else
			m->st.cfa_off = factored_s(cur_sleb(c), cie->daf);
		/* only defined on top of a register+offset CFA */
		if (m->st.cfa_how != CFA_REGOFF)
			m->st.cfa_how = CFA_BROKEN;
		return 0;
	case DW_CFA_def_cfa_expression:
		u = cur_uleb(c);
		if (c->err || u > (__u64)(c->end - c->p))
			return PROFD_UNW_INVALID_TRUNCATED;
		m->st.cfa_how = CFA_EXPR;
		m->st.cfa_expr = c->p;
		m->st.cfa_len = u;
		c->p += u;
		return 0;
	case DW_CFA_expression:
	case DW_CFA_val_expression:
		reg = cur_uleb(c);
		u = cur_uleb(c);
		if (c->err || u > (__u64)(c->end - c->p))
			return PROFD_UNW_INVALID_TRUNCATED;
		vm_set(m, reg, op == DW_CFA_expression ? REG_EXPR : REG_VAL_EXPR, 0, c->p, u);
		c->p += u;
		return 0;
	case DW_CFA_GNU_args_size:
		cur_uleb(c); /* only matters when unwinding for exceptions */
		return 0;
	default:
		/* unassigned, or SPARC/AArch64 (DW_CFA_GNU_window_save) */
		return PROFD_UNW_INVALID_BAD_OPCODE;
	}
}

/* Runs [p, end). Returns 0 (end of program or of the FDE), a
 * PROFD_UNW_INVALID_* reason that applies from m->loc on, or -ENOMEM. */
static int vm_run(struct vm *m, const __u8 *p, const __u8 *end)
{
	struct cur c = { p, end, false };

	while (c.p < c.end) {
		int err = vm_step(m, &c);

		if (err == VM_DONE)
			return 0;
		if (err)
			return err;
		if (c.err)
			return PROFD_UNW_INVALID_TRUNCATED;
	}
	return 0;
}

/* ---- entries ------------------------------------------------------------ */

/* Entries of the section, read by binary/ehframe.c. */
static int entry_read(const struct section *s, size_t off, struct ehframe_entry *e)
{
	return ehframe_entry_read(s->start, s->end, off, s->debug, e);
}

static void count_err(struct cfi_ctx *x, enum unwind_err err)
{
	if (x->b->st)
		x->b->st->errors[err]++;
}

/* The x86-64 ABI defaults elfutils also starts from: callee-saved registers
 * (rbp) keep their value, the CFA is undefined until the CIE says. */
static void state_init(struct cfi_state *s)
{
	memset(s, 0, sizeof(*s));
	s->cfa_how = CFA_UNSET;
	s->rbp.how = REG_UNSPEC;
	s->ra.how = REG_UNSPEC;
}

/* Parses the CIE at off into cie; on error cie->valid is false and cie->err
 * says why. */
static void cie_parse(struct cfi_ctx *x, size_t off, struct cie *cie)
{
	const struct section *s = &x->s;
	struct ehframe_entry e;
	struct ehframe_cie h;
	struct vm m;
	int err;

	memset(cie, 0, sizeof(*cie));
	cie->off = off;
	if (entry_read(s, off, &e) != 0 || !e.is_cie) {
		cie->err = UNWIND_ERR_CIE_POINTER;
		return;
	}
	err = ehframe_cie_read(s->start, s->vaddr, s->debug, &e, &h);
	if (err == -EINVAL)
		goto truncated;
	if (err)
		goto bad;
	if (h.ra_reg > PROFD_UNW_REG_RA || h.ra_reg == PROFD_UNW_REG_RBP)
		goto bad;
	cie->caf = h.caf;
	cie->daf = h.daf;
	cie->ra_reg = h.ra_reg;
	cie->fde_enc = h.fde_enc;
	cie->aug_z = h.aug_z;
	cie->signal = h.signal;
	cie->insns = h.insns;
	cie->insns_end = h.insns_end;

	state_init(&cie->init);
	m = (struct vm){ .x = x, .cie = cie, .in_cie = true };
	state_init(&m.st);
	err = vm_run(&m, cie->insns, cie->insns_end);
	if (err < 0)
		goto bad;
	if (m.depth) /* a remember_state without restore in the CIE */
		err = PROFD_UNW_INVALID_STATE_STACK;
	cie->init = m.st;
	cie->init_invalid = (__u8)err;
	cie->valid = true;
	return;
truncated:
	cie->err = UNWIND_ERR_TRUNCATED;
	return;
bad:
	cie->err = UNWIND_ERR_CIE;
}

static const struct cie *cie_get(struct cfi_ctx *x, size_t off)
{
	struct cie *cie = &x->cache[(off >> 2) % CFI_CIE_CACHE];

	if (cie->off != off)
		cie_parse(x, off, cie);
	return cie;
}

static bool in_segments(const struct unw_builder *b, __u64 start, __u64 end)
{
	const struct unwind_input *in = b->in;

	if (!in->nsegs)
		return true;
	for (size_t i = 0; i < in->nsegs; i++)
		if (start >= in->segs[i].vaddr && end - in->segs[i].vaddr <= in->segs[i].size)
			return true;
	return false;
}

/* Returns 0, or -ENOMEM. */
static int fde_parse(struct cfi_ctx *x, const struct ehframe_entry *e)
{
	const struct section *s = &x->s;
	struct unw_builder *b = x->b;
	struct cur c = { e->body, e->end, false };
	const struct cie *cie;
	__u64 start, range, end;
	struct vm m;
	int err;

	if (!e->cie_ok) {
		count_err(x, UNWIND_ERR_CIE_POINTER);
		return 0;
	}
	cie = cie_get(x, e->cie_off);
	if (!cie->valid) {
		count_err(x, cie->err);
		return 0;
	}
	err = cfi__read_encoded(&c.p, c.end, cie->fde_enc, s->vaddr + (__u64)(c.p - s->start), 0,
				&start);
	if (!err) /* the range is a plain number in the same format */
		err = cfi__read_encoded(&c.p, c.end, cie->fde_enc & 0x0f, 0, 0, &range);
	if (err) {
		count_err(x, err == -EOPNOTSUPP ? UNWIND_ERR_ENCODING : UNWIND_ERR_TRUNCATED);
		return 0;
	}
	if (cie->aug_z) {
		__u64 len = cur_uleb(&c);

		if (c.err || len > (__u64)(c.end - c.p)) {
			count_err(x, UNWIND_ERR_TRUNCATED);
			return 0;
		}
		c.p += len;
	}
	if (range == 0 || __builtin_add_overflow(start, range, &end) || range > UINT32_MAX ||
	    !in_segments(b, start, end)) {
		count_err(x, UNWIND_ERR_FDE_RANGE);
		return 0;
	}

	err = unw_builder__begin_fde(b, start, end,
				     s->debug ? UNW_SRC_DEBUG_FRAME : UNW_SRC_EH_FRAME);
	if (err)
		return err == -ENOSPC ? 0 : err;
	m = (struct vm){ .x = x, .cie = cie, .init = &cie->init, .fde_start = start,
			 .loc = start, .end = end };
	/* only short FDEs can be trampolines: reading the first bytes of every
	 * function would page in the whole text of a large library */
	if (cie->signal || (range <= UNW_SIGRETURN_MAX_FDE && unw_builder__is_sigreturn(b, start))) {
		if (b->st) {
			b->st->signal_ranges++;
			if (!cie->signal)
				b->st->signal_by_bytes++;
		}
		err = vm_emit(&m, PROFD_UNW_SIGNAL);
	} else if (cie->init_invalid) {
		err = vm_emit(&m, PROFD_UNW_INVALID(cie->init_invalid));
	} else {
		m.st = cie->init;
		err = vm_run(&m, c.p, c.end);
		if (err > 0) /* the rest of the FDE is unusable */
			err = vm_emit(&m, PROFD_UNW_INVALID(err));
		else if (!err && m.loc < m.end)
			err = vm_emit(&m, state_rule(&m));
	}
	unw_builder__end_fde(b);
	return err < 0 ? err : 0;
}

int cfi__parse_section(struct unw_builder *b, const void *data, size_t size, __u64 vaddr,
		       bool debug, size_t max_fdes)
{
	struct cfi_ctx *x;
	size_t off = 0, nfdes = 0;
	int err = 0;

	x = calloc(1, sizeof(*x));
	if (!x)
		return -ENOMEM;
	x->b = b;
	x->s = (struct section){ data, (const __u8 *)data + size, vaddr, debug };
	for (size_t i = 0; i < CFI_CIE_CACHE; i++)
		x->cache[i].off = SIZE_MAX;

	while (off < size) {
		struct ehframe_entry e;
		int r = entry_read(&x->s, off, &e);

		if (r < 0) {
			count_err(x, UNWIND_ERR_TRUNCATED);
			break;
		}
		if (r > 0) {
			/* .eh_frame ends at a zero terminator; in .debug_frame a
			 * zero length is padding */
			if (!debug)
				break;
			off += 4;
			continue;
		}
		if (e.is_cie) {
			struct cie *cie = &x->cache[(off >> 2) % CFI_CIE_CACHE];

			/* parsed (and counted) once here; FDEs re-parse it
			 * after a cache eviction */
			cie_parse(x, off, cie);
			if (cie->valid) {
				if (b->st)
					b->st->cies++;
			} else {
				count_err(x, cie->err);
			}
		} else {
			if (max_fdes && nfdes == max_fdes)
				break;
			nfdes++;
			err = fde_parse(x, &e);
			if (err)
				break;
		}
		off = e.next;
	}
	free(x);
	return err;
}
