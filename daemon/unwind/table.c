// SPDX-License-Identifier: Apache-2.0
/* table: the table builder (collects per-FDE rows that cfi.c feeds it,
 * dedups rules, then sorts FDEs and lays out the final rows with gap
 * markers); lookups and accessors. Calls nothing in cfi.c: build.c runs
 * the parser into the builder. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "unwind/internal.h"

/* Rule hash: open addressing, kept at most half full (short probes). A
 * file has tens to hundreds of distinct rules: the table starts small and
 * doubles (a table sized for the rule limit, 256 KiB cleared and touched
 * at random, cost more than the rest of building a small library). */
#define RULE_HASH_MIN 1024
#define RULE_HASH_MAX (2 * PROFD_UNW_MAX_RULES)
/* Trampolines found by their bytes outside FDEs; a real file has 0 or 1. */
#define MAX_SYNTHETIC_SIGNALS 64
/* Bytes of FDE-less code searched for trampolines per file. */
#define SIGNAL_SCAN_BUDGET (1u << 20)

const __u8 unw_sigreturn_bytes[UNW_SIGRETURN_LEN] = {
	0x48, 0xc7, 0xc0, 0x0f, 0x00, 0x00, 0x00, /* mov $0xf,%rax */
	0x0f, 0x05,				  /* syscall */
};

struct unwind_table {
	struct profd_unw_row *rows;
	size_t nrows;
	struct profd_unw_rule *rules;
	size_t nrules;
	__u64 vaddr_base;
};

int unw_builder__init(struct unw_builder *b, const struct unwind_input *in,
		      struct unwind_stats *st)
{
	memset(b, 0, sizeof(*b));
	b->in = in;
	b->st = st;
	b->rule_hash = calloc(RULE_HASH_MIN, sizeof(*b->rule_hash));
	b->rule_hash_size = RULE_HASH_MIN;
	return b->rule_hash ? 0 : -ENOMEM;
}

void unw_builder__done(struct unw_builder *b)
{
	free(b->fdes);
	free(b->rows);
	free(b->rules);
	free(b->rule_hash);
	memset(b, 0, sizeof(*b));
}

static __u32 rule_hash(const struct profd_unw_rule *r)
{
	__u64 w[2];
	__u64 h;

	memcpy(w, r, sizeof(w));
	h = (w[0] ^ (w[1] * 0x9e3779b97f4a7c15ULL)) * 0xff51afd7ed558ccdULL;
	return (__u32)(h >> 32);
}

/* Double the rule hash (rules stay where they are: slots are re-placed). */
static int rule_hash_grow(struct unw_builder *b)
{
	size_t n = 2 * b->rule_hash_size;
	__u32 *h = calloc(n, sizeof(*h));

	if (!h)
		return -ENOMEM;
	for (size_t k = 0; k < b->nrules; k++) {
		__u32 i = rule_hash(&b->rules[k]) & (n - 1);

		while (h[i])
			i = (i + 1) & (n - 1);
		h[i] = (__u32)k + 1;
	}
	free(b->rule_hash);
	b->rule_hash = h;
	b->rule_hash_size = n;
	return 0;
}

__u16 unw_builder__intern(struct unw_builder *b, const struct profd_unw_rule *r)
{
	size_t mask = b->rule_hash_size - 1;
	__u32 i = rule_hash(r) & mask;

	for (;; i = (i + 1) & mask) {
		__u32 slot = b->rule_hash[i];

		if (!slot)
			break;
		if (!memcmp(&b->rules[slot - 1], r, sizeof(*r)))
			return (__u16)(slot - 1);
	}
	if (b->nrules == PROFD_UNW_MAX_RULES)
		return PROFD_UNW_INVALID(PROFD_UNW_INVALID_TABLE_FULL);
	if (b->nrules == b->rules_cap) {
		size_t cap = b->rules_cap ? 2 * b->rules_cap : 256;
		struct profd_unw_rule *p = realloc(b->rules, cap * sizeof(*p));

		if (!p) /* a rule we cannot store is a rule we cannot use */
			return PROFD_UNW_INVALID(PROFD_UNW_INVALID_TABLE_FULL);
		b->rules = p;
		b->rules_cap = cap;
	}
	b->rules[b->nrules] = *r;
	b->rule_hash[i] = (__u32)++b->nrules;
	if (2 * b->nrules > b->rule_hash_size && b->rule_hash_size < RULE_HASH_MAX &&
	    rule_hash_grow(b)) {
		/* No room to grow: forget the rule (it is stored, not findable;
		 * an equal one later gets a second index, which is harmless). */
		b->rule_hash[i] = 0;
	}
	return (__u16)(b->nrules - 1);
}

int unw_builder__begin_fde(struct unw_builder *b, __u64 start, __u64 end, enum unw_source src)
{
	struct unw_fde *f;

	/* Every FDE may add a gap row, so reserve one row per FDE. */
	if (b->rows_full || b->nrows + b->nfdes + 2 >= PROFD_UNW_MAX_ROWS ||
	    b->nfdes >= UNW_MAX_FDES) {
		b->rows_full = true;
		if (b->st)
			b->st->errors[UNWIND_ERR_ROWS_FULL]++;
		return -ENOSPC;
	}
	if (b->nfdes == b->fdes_cap) {
		size_t cap = b->fdes_cap ? 2 * b->fdes_cap : 1024;
		struct unw_fde *p = realloc(b->fdes, cap * sizeof(*p));

		if (!p)
			return -ENOMEM;
		b->fdes = p;
		b->fdes_cap = cap;
	}
	f = &b->fdes[b->nfdes];
	*f = (struct unw_fde){ .start = start, .end = end, .first_row = (__u32)b->nrows,
			       .seq = (__u32)b->nfdes, .source = (__u8)src };
	b->in_fde = true;
	return 0;
}

int unw_builder__add_row(struct unw_builder *b, __u64 off, __u16 rule)
{
	struct unw_fde *f;

	if (!b->in_fde)
		return 0;
	f = &b->fdes[b->nfdes];
	if (f->nrows) {
		struct profd_unw_row *last = &b->rows[b->nrows - 1];

		if (last->rule == rule)
			return 0;
		if (last->pc == off) {
			last->rule = rule;
			return 0;
		}
	}
	if (b->nrows + b->nfdes + 2 >= PROFD_UNW_MAX_ROWS) {
		/* A truncated FDE would be wrong after its last row: drop it. */
		b->nrows = f->first_row;
		f->nrows = 0;
		b->in_fde = false;
		b->rows_full = true;
		if (b->st)
			b->st->errors[UNWIND_ERR_ROWS_FULL]++;
		return 0;
	}
	if (b->nrows == b->rows_cap) {
		size_t cap = b->rows_cap ? 2 * b->rows_cap : 4096;
		struct profd_unw_row *p = realloc(b->rows, cap * sizeof(*p));

		if (!p)
			return -ENOMEM;
		b->rows = p;
		b->rows_cap = cap;
	}
	b->rows[b->nrows++] = (struct profd_unw_row){ .pc = (__u32)off, .rule = rule };
	f->nrows++;
	return 0;
}

void unw_builder__end_fde(struct unw_builder *b)
{
	if (b->in_fde && b->fdes[b->nfdes].nrows)
		b->nfdes++;
	b->in_fde = false;
}

static bool seg_read(const struct unwind_segment *s, __u64 off, void *buf, size_t len)
{
	if (off > s->nbytes || s->nbytes - off < len)
		return false;
	if (s->bytes) {
		memcpy(buf, (const __u8 *)s->bytes + off, len);
		return true;
	}
	return pread(s->fd, buf, len, (off_t)(s->offset + off)) == (ssize_t)len;
}

bool unw_builder__read_text(const struct unw_builder *b, __u64 vaddr, void *buf, size_t len)
{
	for (size_t i = 0; i < b->in->nsegs; i++) {
		const struct unwind_segment *s = &b->in->segs[i];

		if (vaddr >= s->vaddr && vaddr - s->vaddr < s->size)
			return seg_read(s, vaddr - s->vaddr, buf, len);
	}
	return false;
}

/* Finds the sigreturn bytes in [pos, pos + len) of s, a chunk at a time. */
static bool seg_find_sigreturn(const struct unwind_segment *s, __u64 pos, __u64 len, __u64 *at)
{
	__u8 chunk[4096];

	for (__u64 done = 0; done + UNW_SIGRETURN_LEN <= len;) {
		size_t n = len - done < sizeof(chunk) ? (size_t)(len - done) : sizeof(chunk);
		const __u8 *hit;

		if (!seg_read(s, pos - s->vaddr + done, chunk, n))
			return false;
		hit = memmem(chunk, n, unw_sigreturn_bytes, UNW_SIGRETURN_LEN);
		if (hit) {
			*at = pos + done + (__u64)(hit - chunk);
			return true;
		}
		if (done + n == len)
			break;
		done += n - (UNW_SIGRETURN_LEN - 1); /* a match may straddle chunks */
	}
	return false;
}

bool unw_builder__is_sigreturn(const struct unw_builder *b, __u64 start)
{
	__u8 code[UNW_SIGRETURN_LEN + 1];

	if (!unw_builder__read_text(b, start, code, sizeof(code)))
		return false;
	/* glibc starts __restore_rt's FDE one byte early, on a nop, so that
	 * the return-address-minus-one lookup still lands inside it */
	return !memcmp(code, unw_sigreturn_bytes, UNW_SIGRETURN_LEN) ||
	       (code[0] == 0x90 && !memcmp(code + 1, unw_sigreturn_bytes, UNW_SIGRETURN_LEN));
}

static int fde_cmp(const void *a, const void *b)
{
	const struct unw_fde *x = a, *y = b;

	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	if (x->source != y->source) /* .eh_frame wins over .debug_frame */
		return x->source < y->source ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Sort FDEs by fde_cmp; most files list them in address order already
 * (the linker keeps .text's order), which one pass tells. */
static void fdes_sort(struct unw_fde *f, size_t n)
{
	for (size_t i = 1; i < n; i++)
		if (fde_cmp(&f[i - 1], &f[i]) > 0) {
			qsort(f, n, sizeof(*f), fde_cmp);
			return;
		}
}

/* Adds a SIGNAL range for each rt_sigreturn trampoline in code no FDE covers
 * (musl's __restore_rt has no CFI). The range starts one byte early for the
 * return-address-minus-one lookup. fdes must be sorted.
 *
 * Only gaps of PROFD_UNW_MIN_GAP or more between the first and the last FDE
 * of a segment are searched, at most SIGNAL_SCAN_BUDGET bytes in all: single
 * R+X segments (libLLVM) also hold .dynsym, .rela.dyn and .rodata, and
 * reading them would page in most of the file. */
static int add_synthetic_signals(struct unw_builder *b)
{
	size_t nfound = 0, nfdes = b->nfdes, budget = SIGNAL_SCAN_BUDGET;
	int err = 0;

	for (size_t i = 0; i < b->in->nsegs && nfound < MAX_SYNTHETIC_SIGNALS; i++) {
		const struct unwind_segment *s = &b->in->segs[i];
		__u64 seg_end = s->vaddr + s->size, pos, end = 0;
		size_t f = 0;

		if (!s->nbytes)
			continue;
		while (f < nfdes && b->fdes[f].start < s->vaddr)
			f++;
		if (f == nfdes || b->fdes[f].start >= seg_end)
			continue;
		pos = b->fdes[f].start;
		for (size_t k = f; k < nfdes && b->fdes[k].start < seg_end; k++)
			if (b->fdes[k].end > end)
				end = b->fdes[k].end;
		if (end > s->vaddr + s->nbytes) /* only bytes we have */
			end = s->vaddr + s->nbytes;

		while (pos < end && nfound < MAX_SYNTHETIC_SIGNALS && budget) {
			__u64 gap_end = end, at, start, len;
			bool hit = false;

			/* skip code an FDE covers */
			while (f < nfdes && b->fdes[f].end <= pos)
				f++;
			if (f < nfdes && b->fdes[f].start <= pos) {
				pos = b->fdes[f].end;
				continue;
			}
			if (f < nfdes && b->fdes[f].start < gap_end)
				gap_end = b->fdes[f].start;
			len = gap_end - pos;
			if (len >= PROFD_UNW_MIN_GAP) {
				if (len > budget)
					len = budget;
				budget -= len;
				hit = seg_find_sigreturn(s, pos, len, &at);
			}
			if (!hit) {
				pos = gap_end;
				continue;
			}
			start = at > pos ? at - 1 : at;

			err = unw_builder__begin_fde(b, start, at + UNW_SIGRETURN_LEN,
						     UNW_SRC_SYNTHETIC);
			if (err)
				return err == -ENOSPC ? 0 : err;
			b->fdes[b->nfdes].seq = UINT32_MAX; /* after every real FDE */
			err = unw_builder__add_row(b, 0, PROFD_UNW_SIGNAL);
			unw_builder__end_fde(b);
			if (err)
				return err;
			if (b->st) {
				b->st->signal_ranges++;
				b->st->signal_by_bytes++;
			}
			nfound++;
			pos = at + UNW_SIGRETURN_LEN;
		}
	}
	return 0;
}

static void count_row(struct unwind_stats *st, __u16 rule)
{
	if (!st || !PROFD_UNW_IS_CMD(rule))
		return;
	switch (PROFD_UNW_CMD_OF(rule)) {
	case PROFD_UNW_CMD_STOP:
		st->stop_rows++;
		break;
	case PROFD_UNW_CMD_INVALID:
		if (PROFD_UNW_ARG_OF(rule) < PROFD_UNW_INVALID_MAX)
			st->invalid_rows[PROFD_UNW_ARG_OF(rule)]++;
		break;
	case PROFD_UNW_CMD_FRAME_POINTER:
		st->gap_rows++;
		break;
	}
}

static void emit(struct unwind_table *t, __u64 pc, __u16 rule)
{
	if (t->nrows && t->rows[t->nrows - 1].rule == rule)
		return;
	if (t->nrows && t->rows[t->nrows - 1].pc == pc) {
		t->rows[t->nrows - 1].rule = rule;
		/* the replaced row may now repeat its predecessor */
		if (t->nrows > 1 && t->rows[t->nrows - 2].rule == rule)
			t->nrows--;
		return;
	}
	t->rows[t->nrows++] = (struct profd_unw_row){ .pc = (__u32)pc, .rule = rule };
}

/* Drops rows at or after pc (an earlier FDE cut short by an overlap). */
static void cut(struct unwind_table *t, __u64 pc)
{
	while (t->nrows && t->rows[t->nrows - 1].pc >= pc)
		t->nrows--;
}

/* Moves the rules the rows use into the table, renumbered in order of first
 * use: rules of dropped or overlapped FDEs are not worth map space. */
static int compact_rules(struct unw_builder *b, struct unwind_table *t)
{
	struct profd_unw_rule *rules = NULL;
	__u16 *map = NULL;
	size_t n = 0;

	if (b->nrules) {
		map = malloc(b->nrules * sizeof(*map));
		rules = malloc(b->nrules * sizeof(*rules));
		if (!map || !rules) {
			free(map);
			free(rules);
			return -ENOMEM;
		}
		memset(map, 0xff, b->nrules * sizeof(*map));
	}
	for (size_t i = 0; i < t->nrows; i++) {
		__u16 id = t->rows[i].rule;

		if (PROFD_UNW_IS_CMD(id))
			continue;
		if (map[id] == 0xffff) {
			map[id] = (__u16)n;
			rules[n++] = b->rules[id];
		}
		t->rows[i].rule = map[id];
	}
	free(map);
	t->rules = rules;
	t->nrules = n;
	return 0;
}

static int finalize(struct unw_builder *b, struct unwind_table *t)
{
	struct unwind_stats *st = b->st;
	const struct unw_fde *prev = NULL;
	__u64 base = 0, max_end = 0;
	size_t nreal;
	int err;

	fdes_sort(b->fdes, b->nfdes);
	nreal = b->nfdes;
	err = add_synthetic_signals(b);
	if (err)
		return err;
	if (b->nfdes != nreal)
		fdes_sort(b->fdes, b->nfdes);

	for (size_t i = 0; i < b->nfdes; i++)
		if (b->fdes[i].end > max_end)
			max_end = b->fdes[i].end;
	/* row.pc is 32 bits: rebase only files whose code lies above 4 GiB */
	if (b->nfdes && max_end > UINT32_MAX)
		base = b->fdes[0].start & ~0xfffULL;

	t->rows = malloc((b->nrows + b->nfdes + 1) * sizeof(*t->rows));
	if (!t->rows)
		return -ENOMEM;
	t->vaddr_base = base;

	for (size_t i = 0; i < b->nfdes; i++) {
		const struct unw_fde *f = &b->fdes[i];

		if (f->end - base > UINT32_MAX) {
			if (st)
				st->errors[UNWIND_ERR_FDE_RANGE]++;
			continue;
		}
		if (prev && f->start < prev->end) {
			if (f->source == UNW_SRC_DEBUG_FRAME && prev->source == UNW_SRC_EH_FRAME) {
				/* unstripped files describe most code twice */
				if (st)
					st->fdes_debug_dup++;
				continue;
			}
			if (st)
				st->errors[UNWIND_ERR_OVERLAP]++;
			if (f->start == prev->start && f->source == prev->source)
				continue; /* duplicate: the first one wins */
			/* like a binary search over FDE starts, the later one
			 * owns the addresses from its start on */
			cut(t, f->start - base);
		} else if (prev && f->start - prev->end >= PROFD_UNW_MIN_GAP) {
			emit(t, prev->end - base, PROFD_UNW_FRAME_POINTER);
		}
		for (__u32 r = 0; r < f->nrows; r++) {
			const struct profd_unw_row *row = &b->rows[f->first_row + r];

			emit(t, f->start - base + row->pc, row->rule);
		}
		if (st && f->source != UNW_SRC_SYNTHETIC) {
			st->fdes++;
			if (f->source == UNW_SRC_DEBUG_FRAME)
				st->fdes_debug_frame++;
		}
		prev = f;
	}
	if (!prev)
		return -ENODATA; /* every FDE was out of range */
	emit(t, prev->end - base, PROFD_UNW_FRAME_POINTER);

	err = compact_rules(b, t);
	if (err)
		return err;
	if (st) {
		for (size_t i = 0; i < t->nrows; i++)
			count_row(st, t->rows[i].rule);
		st->rows = t->nrows;
		st->rules = t->nrules;
		st->table_bytes = t->nrows * sizeof(*t->rows) + t->nrules * sizeof(*t->rules);
	}
	return 0;
}

struct unwind_table *unw_builder__finish(struct unw_builder *b)
{
	struct unwind_table *t;
	int err;

	if (!b->nfdes) {
		errno = ENODATA;
		return NULL;
	}
	t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	err = finalize(b, t);
	if (err) {
		unwind_table__free(t);
		errno = -err;
		return NULL;
	}
	return t;
}

void unwind_table__free(struct unwind_table *t)
{
	if (!t)
		return;
	free(t->rows);
	free(t->rules);
	free(t);
}

const struct profd_unw_row *unwind_table__rows(const struct unwind_table *t, size_t *n)
{
	*n = t->nrows;
	return t->rows;
}

const struct profd_unw_rule *unwind_table__rules(const struct unwind_table *t, size_t *n)
{
	*n = t->nrules;
	return t->rules;
}

__u64 unwind_table__vaddr_base(const struct unwind_table *t)
{
	return t->vaddr_base;
}

unsigned int unwind_table__lookup(const struct unwind_table *t, __u64 vaddr,
				  struct profd_unw_rule *rule)
{
	int i;
	__u16 id;

	if (vaddr < t->vaddr_base || vaddr - t->vaddr_base > UINT32_MAX)
		return PROFD_UNW_FRAME_POINTER;
	i = profd_unw_find(t->rows, (__u32)t->nrows, (__u32)(vaddr - t->vaddr_base));
	if (i < 0)
		return PROFD_UNW_FRAME_POINTER;
	id = t->rows[i].rule;
	if (!PROFD_UNW_IS_CMD(id) && rule)
		*rule = t->rules[id];
	return id;
}

const char *unwind_err__str(enum unwind_err err)
{
	static const char *const names[UNWIND_ERR_MAX] = {
		[UNWIND_ERR_TRUNCATED] = "truncated",
		[UNWIND_ERR_CIE] = "bad-cie",
		[UNWIND_ERR_CIE_POINTER] = "bad-cie-pointer",
		[UNWIND_ERR_ENCODING] = "pointer-encoding",
		[UNWIND_ERR_FDE_RANGE] = "fde-range",
		[UNWIND_ERR_OVERLAP] = "fde-overlap",
		[UNWIND_ERR_ROWS_FULL] = "rows-full",
		[UNWIND_ERR_DEBUG_FRAME] = "debug-frame",
		[UNWIND_ERR_EH_FRAME_HDR] = "eh-frame-hdr",
	};

	return (unsigned int)err < UNWIND_ERR_MAX ? names[err] : "?";
}

const char *unwind_invalid__str(unsigned int reason)
{
	static const char *const names[PROFD_UNW_INVALID_MAX] = {
		[PROFD_UNW_INVALID_NONE] = "none",
		[PROFD_UNW_INVALID_CFA_EXPR] = "cfa-expression",
		[PROFD_UNW_INVALID_CFA_REG] = "cfa-register",
		[PROFD_UNW_INVALID_CFA_BROKEN] = "cfa-undefined",
		[PROFD_UNW_INVALID_CFA_RANGE] = "cfa-offset-range",
		[PROFD_UNW_INVALID_RBP_REG] = "rbp-in-register",
		[PROFD_UNW_INVALID_RBP_EXPR] = "rbp-expression",
		[PROFD_UNW_INVALID_RBP_RANGE] = "rbp-offset-range",
		[PROFD_UNW_INVALID_RA_SAME] = "ra-same-value",
		[PROFD_UNW_INVALID_RA_EXPR] = "ra-expression",
		[PROFD_UNW_INVALID_RA_RANGE] = "ra-offset-range",
		[PROFD_UNW_INVALID_BAD_OPCODE] = "bad-opcode",
		[PROFD_UNW_INVALID_TRUNCATED] = "truncated",
		[PROFD_UNW_INVALID_STATE_STACK] = "state-stack",
		[PROFD_UNW_INVALID_BAD_LOC] = "bad-location",
		[PROFD_UNW_INVALID_TABLE_FULL] = "rule-table-full",
	};

	return reason < PROFD_UNW_INVALID_MAX ? names[reason] : "?";
}
