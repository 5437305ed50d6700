// SPDX-License-Identifier: Apache-2.0
/* gapwalk and waitclass: table rows → wait rules (table-driven), the shared
 * unwind step on hand-built stacks, a live unwind of this process's own
 * stack through glibc's qsort (no frame pointers) back to the caller,
 * garbage exemplars, and the function-name classes of the wait profiles. */
#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "symbolize/symbolizer.h"
#include "unwind/gapwalk.h"
#include "types/waitclass.h"

static int test_read(void *ctx, __u64 addr, __u64 *out);
#define PROFD_WAIT_READ(ctx, addr, out) test_read(ctx, addr, out)
#define PROFD_WAIT_STEP_IMPL
#include "profd/wait.h"

/* ---- rules from table rows -------------------------------------------------- */

void test_gapwalk_rule_from_unw(void)
{
	static const struct {
		const char *name;
		unsigned int row;
		struct profd_unw_rule in;
		struct profd_wait_rule want;
	} cases[] = {
		{ "no CFI: frame pointers", PROFD_UNW_FRAME_POINTER, {},
		  { .cmd = PROFD_WAIT_RULE_FP } },
		{ "outermost", PROFD_UNW_STOP, {}, { .cmd = PROFD_WAIT_RULE_STOP } },
		{ "signal frame", PROFD_UNW_SIGNAL, {}, { .cmd = PROFD_WAIT_RULE_INVALID } },
		{ "invalid row", PROFD_UNW_INVALID(PROFD_UNW_INVALID_CFA_EXPR), {},
		  { .cmd = PROFD_WAIT_RULE_INVALID } },
		{ "leaf at entry: CFA=rsp+8",
		  0,
		  { .cfa_kind = PROFD_UNW_CFA_REG, .cfa_reg = PROFD_UNW_REG_RSP, .cfa_off = 8,
		    .rbp_how = PROFD_UNW_RBP_SAME, .ra_how = PROFD_UNW_RA_AT_CFA, .ra_off = -8 },
		  { .cmd = PROFD_WAIT_RULE_STEP, .cfa_how = PROFD_WAIT_CFA_RSP, .cfa_off = 8,
		    .rbp_how = PROFD_WAIT_RBP_SAME, .ra_off = -8 } },
		{ "rbp saved: CFA=rsp+56, rbp at CFA-48",
		  0,
		  { .cfa_kind = PROFD_UNW_CFA_REG, .cfa_reg = PROFD_UNW_REG_RSP, .cfa_off = 56,
		    .rbp_how = PROFD_UNW_RBP_AT_CFA, .rbp_off = -48, .ra_how = PROFD_UNW_RA_AT_CFA,
		    .ra_off = -8 },
		  { .cmd = PROFD_WAIT_RULE_STEP, .cfa_how = PROFD_WAIT_CFA_RSP, .cfa_off = 56,
		    .rbp_how = PROFD_WAIT_RBP_AT_CFA, .rbp_off = -48, .ra_off = -8 } },
		{ "standard frame-pointer frame",
		  0,
		  { .cfa_kind = PROFD_UNW_CFA_REG, .cfa_reg = PROFD_UNW_REG_RBP, .cfa_off = 16,
		    .rbp_how = PROFD_UNW_RBP_AT_CFA, .rbp_off = -16, .ra_how = PROFD_UNW_RA_AT_CFA,
		    .ra_off = -8 },
		  { .cmd = PROFD_WAIT_RULE_FP } },
		{ "rbp-based CFA, not the standard frame",
		  0,
		  { .cfa_kind = PROFD_UNW_CFA_REG, .cfa_reg = PROFD_UNW_REG_RBP, .cfa_off = 32,
		    .rbp_how = PROFD_UNW_RBP_AT_CFA, .rbp_off = -32, .ra_how = PROFD_UNW_RA_AT_CFA,
		    .ra_off = -8 },
		  { .cmd = PROFD_WAIT_RULE_STEP, .cfa_how = PROFD_WAIT_CFA_RBP, .cfa_off = 32,
		    .rbp_how = PROFD_WAIT_RBP_AT_CFA, .rbp_off = -32, .ra_off = -8 } },
		{ "DRAP: CFA=*(rbp-8)",
		  0,
		  { .cfa_kind = PROFD_UNW_CFA_DEREF, .cfa_reg = PROFD_UNW_REG_RBP, .cfa_off = -8,
		    .rbp_how = PROFD_UNW_RBP_AT_RBP, .ra_how = PROFD_UNW_RA_AT_CFA, .ra_off = -8 },
		  { .cmd = PROFD_WAIT_RULE_STEP, .cfa_how = PROFD_WAIT_CFA_DEREF_RBP, .cfa_off = -8,
		    .rbp_how = PROFD_WAIT_RBP_AT_RBP, .ra_off = -8 } },
		{ "PLT",
		  0,
		  { .cfa_kind = PROFD_UNW_CFA_PLT, .cfa_reg = PROFD_UNW_REG_RSP, .cfa_off = 8,
		    .cfa_aux = 11, .ra_how = PROFD_UNW_RA_AT_CFA, .ra_off = -8 },
		  { .cmd = PROFD_WAIT_RULE_STEP, .cfa_how = PROFD_WAIT_CFA_PLT, .cfa_off = 8,
		    .cfa_aux = 11, .ra_off = -8 } },
		{ "CFA in rbx (frame 0 only)",
		  0,
		  { .cfa_kind = PROFD_UNW_CFA_REG, .cfa_reg = PROFD_UNW_REG_RBX, .cfa_off = 32,
		    .ra_how = PROFD_UNW_RA_AT_CFA, .ra_off = -8 },
		  { .cmd = PROFD_WAIT_RULE_INVALID } },
		{ "RA in rdi (vfork)",
		  0,
		  { .cfa_kind = PROFD_UNW_CFA_REG, .cfa_reg = PROFD_UNW_REG_RSP, .cfa_off = 8,
		    .ra_how = PROFD_UNW_RA_REG, .ra_off = PROFD_UNW_REG_RDI },
		  { .cmd = PROFD_WAIT_RULE_INVALID } },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct profd_wait_rule got;

		memset(&got, 0xa5, sizeof(got));
		gapwalk_rule_from_unw(cases[i].row, &cases[i].in, &got);
		if (!ASSERT_EQ(memcmp(&got, &cases[i].want, sizeof(got)), 0, cases[i].name))
			fprintf(stderr, "    got cmd %u cfa_how %u off %d rbp %u/%d ra %d\n",
				got.cmd, got.cfa_how, got.cfa_off, got.rbp_how, got.rbp_off,
				got.ra_off);
	}
}

/* ---- the step shared with BPF --------------------------------------------- */

struct fake_stack {
	__u64 base;
	__u64 words[16];
};

static int test_read(void *ctx, __u64 addr, __u64 *out)
{
	const struct fake_stack *fs = ctx;

	if (addr < fs->base || addr >= fs->base + sizeof(fs->words) || (addr - fs->base) % 8)
		return -1;
	*out = fs->words[(addr - fs->base) / 8];
	return 0;
}

void test_gapwalk_step(void)
{
	struct fake_stack fs = { .base = 0x7000 };
	struct profd_wait_rule leaf = { .cmd = PROFD_WAIT_RULE_STEP, .cfa_how = PROFD_WAIT_CFA_RSP,
					.cfa_off = 8, .ra_off = -8 };
	struct profd_wait_rule saved = { .cmd = PROFD_WAIT_RULE_STEP, .cfa_how = PROFD_WAIT_CFA_RSP,
					 .cfa_off = 32, .rbp_how = PROFD_WAIT_RBP_AT_CFA,
					 .rbp_off = -16, .ra_off = -8 };
	struct profd_wait_rule plt = { .cmd = PROFD_WAIT_RULE_STEP, .cfa_how = PROFD_WAIT_CFA_PLT,
				       .cfa_off = 8, .cfa_aux = 11, .ra_off = -8 };
	struct profd_wait_rule down = { .cmd = PROFD_WAIT_RULE_STEP, .cfa_how = PROFD_WAIT_CFA_RSP,
					.cfa_off = -8, .ra_off = -8 };
	struct profd_wait_rule deref = { .cmd = PROFD_WAIT_RULE_STEP,
					 .cfa_how = PROFD_WAIT_CFA_DEREF_RSP, .cfa_off = 0,
					 .cfa_aux = 16, .ra_off = -8 };
	struct profd_wait_regs st = { .pc = 0x1234, .sp = 0x7000, .bp = 0xbb, .leaf = 1 };

	/* Frame 0: return address at [sp]; frame 1 saves rbp at CFA-16. */
	fs.words[0] = 0x401000;
	fs.words[2] = 0xfeed;     /* saved rbp: CFA(0x7008+32=0x7028)-16 = 0x7018 */
	fs.words[3] = 0xfeed;
	fs.words[4] = 0x402000;   /* RA of frame 1 at 0x7020 */
	ASSERT_OK(profd_wait_step(&leaf, &st, &fs), "leaf step");
	ASSERT_EQ(st.pc, 0x401000, "leaf RA");
	ASSERT_EQ(st.sp, 0x7008, "leaf CFA");
	ASSERT_EQ(st.bp, 0xbb, "rbp unchanged");
	ASSERT_EQ(st.leaf, 0, "no longer the leaf");
	ASSERT_OK(profd_wait_step(&saved, &st, &fs), "saved-rbp step");
	ASSERT_EQ(st.pc, 0x402000, "RA at CFA-8");
	ASSERT_EQ(st.sp, 0x7028, "CFA");
	ASSERT_EQ(st.bp, 0xfeed, "rbp restored from CFA-16");
	/* Reads outside the stack fail the step and leave the state as is. */
	st.sp = 0x7070;
	ASSERT_EQ(profd_wait_step(&saved, &st, &fs), -1, "past the copied stack");
	ASSERT_EQ(st.pc, 0x402000, "state kept on failure");
	ASSERT_EQ(st.sp, 0x7070, "sp kept on failure");
	/* A CFA that does not move up, and a zero return address, stop. */
	st = (struct profd_wait_regs){ .pc = 1, .sp = 0x7008 };
	ASSERT_EQ(profd_wait_step(&down, &st, &fs), -1, "CFA below sp");
	fs.words[1] = 0;
	st = (struct profd_wait_regs){ .pc = 1, .sp = 0x7000 };
	fs.words[0] = 0;
	ASSERT_EQ(profd_wait_step(&leaf, &st, &fs), -1, "zero return address");
	/* PLT: 8 more bytes pushed once (pc & 15) >= 11. */
	fs.words[1] = 0x403000;
	fs.words[2] = 0x404000;
	st = (struct profd_wait_regs){ .pc = 0x1005, .sp = 0x7008 };
	ASSERT_OK(profd_wait_step(&plt, &st, &fs), "PLT before the push");
	ASSERT_EQ(st.pc, 0x403000, "PLT RA, low offset");
	st = (struct profd_wait_regs){ .pc = 0x100b, .sp = 0x7000 };
	ASSERT_OK(profd_wait_step(&plt, &st, &fs), "PLT after the push");
	ASSERT_EQ(st.sp, 0x7010, "PLT CFA, high offset");
	/* DEREF: CFA = *(rsp) + 16. */
	fs.words[0] = 0x7020;
	fs.words[5] = 0x405000; /* CFA 0x7030, RA at 0x7028 */
	st = (struct profd_wait_regs){ .pc = 1, .sp = 0x7000 };
	ASSERT_OK(profd_wait_step(&deref, &st, &fs), "deref step");
	ASSERT_EQ(st.sp, 0x7030, "deref CFA");
	ASSERT_EQ(st.pc, 0x405000, "deref RA");
	/* Unknown encodings are refused. */
	deref.cfa_how = 99;
	st = (struct profd_wait_regs){ .pc = 1, .sp = 0x7000 };
	ASSERT_EQ(profd_wait_step(&deref, &st, &fs), -1, "unknown CFA rule");
	leaf.rbp_how = 77;
	fs.words[0] = 0x401000;
	ASSERT_EQ(profd_wait_step(&leaf, &st, &fs), -1, "unknown rbp rule");
}

/* ---- a live stack through glibc -------------------------------------------- */

static struct profd_wait_exemplar live_ex;
static int live_captured;

/* The stack above us holds the sanitizer's redzones: copy it as BPF
 * would, without instrumentation (and without the intercepted memcpy). */
__attribute__((no_sanitize_address, noinline)) static void copy_stack(__u8 *dst, const __u8 *src,
								      size_t len)
{
	for (size_t i = 0; i < len; i++)
		((volatile __u8 *)dst)[i] = src[i];
}

/* Called by glibc's merge sort, which keeps no frame pointer: record the
 * state as it is in the libc frame we return to (pc = our return address,
 * sp = our CFA, rbp = the value libc had, saved by our prologue), and the
 * stack above, as wait.bpf.c would at a miss. */
__attribute__((noinline)) static int live_cmp(const void *a, const void *b)
{
	if (!live_captured) {
		__u64 *fp = __builtin_frame_address(0);

		live_ex.regs.pc = fp[1];
		live_ex.regs.sp = (__u64)(fp + 2);
		live_ex.regs.bp = fp[0];
		live_ex.regs.leaf = 0;
		live_ex.base = live_ex.regs.sp & ~(__u64)(PROFD_WAIT_WINDOW_BLOCK - 1);
		live_ex.len = sizeof(live_ex.bytes);
		copy_stack(live_ex.bytes, (const __u8 *)live_ex.base, live_ex.len);
		live_captured = 1;
	}
	return *(const int *)a - *(const int *)b;
}

static __u64 live_caller_bp;

typedef void (*qsort_fn)(void *, size_t, size_t, int (*)(const void *, const void *));
typedef void *(*lfind_fn)(const void *, const void *, size_t *, size_t,
			  int (*)(const void *, const void *));

/* glibc's own functions: the sanitizer runtime intercepts qsort and
 * calls the comparator from its own (frame-pointer) code. */
static void *libc_fn(const char *name)
{
	void *h = dlopen("libc.so.6", RTLD_NOW | RTLD_NOLOAD);
	void *fn = h ? dlsym(h, name) : NULL;

	if (h)
		dlclose(h);
	return fn;
}

__attribute__((noinline)) int gapwalk_test_sort_caller(qsort_fn sort, int seed)
{
	int v[32];

	live_caller_bp = (__u64)__builtin_frame_address(0);
	for (int i = 0; i < 32; i++)
		v[i] = (seed * 7919 + i * 104729) % 1000;
	sort(v, 32, sizeof(v[0]), live_cmp);
	return v[0] + v[31];
}

__attribute__((noinline)) int gapwalk_test_find_caller(lfind_fn find, int key)
{
	int v[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
	size_t n = 8;
	int *p;

	live_caller_bp = (__u64)__builtin_frame_address(0);
	p = find(&key, v, &n, sizeof(v[0]), live_cmp);
	return p ? *p : -1;
}

struct learned {
	size_t n;
	int last_cmd;
	int steps;
};

static void learn_cb(void *ctx, const struct profd_wait_rule_key *key,
		     const struct profd_wait_rule *r)
{
	struct learned *l = ctx;

	(void)key;
	l->n++;
	l->last_cmd = r->cmd;
	l->steps += r->cmd == PROFD_WAIT_RULE_STEP;
}

static const char *name_of(struct symbolizer *s, uint64_t ra)
{
	static struct sym_frame f;

	if (symbolizer__user(s, getpid(), ra - 1, &f) || !f.nlines)
		return "";
	return f.lines[f.nlines - 1].name;
}

/* lfind keeps its loop counter in rbp (saved at CFA-48): at the comparator
 * call rbp is 0, so a frame-pointer walk from there ends at once. The rule
 * restores the caller's rbp, and the walk splices onto its frame chain. */
void test_gapwalk_live_lfind(void)
{
	struct symbolizer *sym = symbolizer__new();
	struct gapwalk *gw = gapwalk__new(sym);
	lfind_fn find = (lfind_fn)libc_fn("lfind");
	struct learned l = {};
	enum gapwalk_end end;
	uint64_t frames[64];
	size_t n;

	if (!ASSERT_OK_PTR(sym, "symbolizer") || !ASSERT_OK_PTR(gw, "gapwalk") ||
	    !ASSERT_OK_PTR(find, "glibc's lfind"))
		goto out;
	live_captured = 0;
	gapwalk_test_find_caller(find, 5);
	if (!ASSERT_TRUE(live_captured, "comparator ran"))
		goto out;
	ASSERT_TRUE(live_ex.regs.bp != live_caller_bp, "lfind clobbered rbp");
	live_ex.tgid = getpid();
	n = gapwalk__unwind(gw, getpid(), &live_ex, live_caller_bp, frames, 64, &end, learn_cb, &l);
	ASSERT_EQ(end, GAPWALK_SPLICE, "reached the caller with its rbp restored");
	if (!ASSERT_EQ(n, 1, "one frame: the return into the caller"))
		goto out;
	ASSERT_STREQ(name_of(sym, frames[0]), "gapwalk_test_find_caller", "caller of lfind");
	ASSERT_EQ(l.n, 2, "rules: lfind's and the caller's");
	ASSERT_EQ(l.steps, 1, "one CFI step");
	ASSERT_EQ(l.last_cmd, PROFD_WAIT_RULE_FP, "caller is a frame-pointer function");
	{
		struct profd_wait_rule r;

		gapwalk__rule(gw, getpid(), live_ex.regs.pc, false, &r);
		ASSERT_EQ(r.cmd, PROFD_WAIT_RULE_STEP, "rule of lfind");
		ASSERT_EQ(r.cfa_how, PROFD_WAIT_CFA_RSP, "lfind is rsp-based");
		ASSERT_EQ(r.rbp_how, PROFD_WAIT_RBP_AT_CFA, "lfind saved rbp");
	}
	/* A window too short to hold lfind's frame ends the walk early. */
	live_ex.len = 16;
	n = gapwalk__unwind(gw, getpid(), &live_ex, live_caller_bp, frames, 64, &end, NULL, NULL);
	ASSERT_EQ(end, GAPWALK_TRUNC, "short window truncates");
	ASSERT_EQ(n, 0, "no frame from 16 bytes");
	/* The output capacity is respected. */
	live_ex.len = sizeof(live_ex.bytes);
	n = gapwalk__unwind(gw, getpid(), &live_ex, live_caller_bp, frames, 0, &end, NULL, NULL);
	ASSERT_EQ(n, 0, "capacity 0");
	ASSERT_EQ(end, GAPWALK_TRUNC, "capacity reached truncates");
out:
	gapwalk__free(gw);
	symbolizer__free(sym);
}

/* glibc's merge sort recurses without frame pointers under qsort_r, which
 * has one (it uses alloca): the walk steps through the recursion with CFI
 * and follows frame pointers from qsort_r's, inside the window. */
void test_gapwalk_live_qsort(void)
{
	struct symbolizer *sym = symbolizer__new();
	struct gapwalk *gw = gapwalk__new(sym);
	qsort_fn sort = (qsort_fn)libc_fn("qsort");
	struct learned l = {};
	enum gapwalk_end end;
	uint64_t frames[64];
	int qsort_at = -1;
	size_t n;

	if (!ASSERT_OK_PTR(sym, "symbolizer") || !ASSERT_OK_PTR(gw, "gapwalk") ||
	    !ASSERT_OK_PTR(sort, "glibc's qsort"))
		goto out;
	live_captured = 0;
	gapwalk_test_sort_caller(sort, 3);
	if (!ASSERT_TRUE(live_captured, "comparator ran"))
		goto out;
	live_ex.tgid = getpid();
	n = gapwalk__unwind(gw, getpid(), &live_ex, 1, frames, 64, &end, learn_cb, &l);
	for (size_t i = 0; i < n; i++)
		if (strstr(name_of(sym, frames[i]), "qsort") && qsort_at < 0)
			qsort_at = (int)i;
	if (!ASSERT_TRUE(qsort_at >= 1, "merge-sort frames, then qsort_r"))
		goto out;
	ASSERT_TRUE(qsort_at + 1 < (int)n, "a frame above qsort_r");
	ASSERT_STREQ(name_of(sym, frames[qsort_at + 1]), "gapwalk_test_sort_caller",
		     "the caller of qsort above it");
	ASSERT_EQ(l.steps, qsort_at + 1, "a CFI step per merge-sort frame");
	ASSERT_EQ(l.last_cmd, PROFD_WAIT_RULE_FP, "qsort_r has a frame pointer");
out:
	gapwalk__free(gw);
	symbolizer__free(sym);
}

/* Garbage registers and stack bytes: the walk ends, within bounds. */
void test_gapwalk_garbage(void)
{
	struct symbolizer *sym = symbolizer__new();
	struct gapwalk *gw = gapwalk__new(sym);
	static struct profd_wait_exemplar ex;
	unsigned int seed = 42;
	enum gapwalk_end end;
	uint64_t frames[PROFD_MAX_STACK_DEPTH];
	__u64 libc_pc = (__u64)libc_fn("qsort");

	if (!ASSERT_OK_PTR(sym, "symbolizer") || !ASSERT_OK_PTR(gw, "gapwalk"))
		goto out;
	for (int round = 0; round < 200; round++) {
		size_t n;

		for (size_t i = 0; i < sizeof(ex.bytes); i++)
			ex.bytes[i] = rand_r(&seed);
		/* Half the rounds make the window a chain of plausible frames. */
		if (round & 1)
			for (size_t i = 0; i + 16 <= sizeof(ex.bytes); i += 16) {
				__u64 w[2] = { 0x10000 + i + 16, libc_pc + (rand_r(&seed) % 4096) };

				memcpy(ex.bytes + i, w, sizeof(w));
			}
		ex.base = 0x10000;
		ex.len = sizeof(ex.bytes);
		ex.tgid = getpid();
		ex.regs.pc = round % 3 ? libc_pc + rand_r(&seed) % 65536 : (__u64)rand_r(&seed);
		ex.regs.sp = 0x10000 + (__u64)(rand_r(&seed) % 64) * 8;
		ex.regs.bp = round % 5 ? 0x10000 + (__u64)(rand_r(&seed) % 256) * 8
				       : (__u64)rand_r(&seed);
		ex.regs.leaf = round & 2;
		n = gapwalk__unwind(gw, getpid(), &ex, 0, frames, PROFD_MAX_STACK_DEPTH, &end, NULL,
				    NULL);
		if (!ASSERT_TRUE(n <= PROFD_MAX_STACK_DEPTH, "bounded"))
			break;
	}
	/* A length beyond the buffer is refused outright. */
	ex.len = sizeof(ex.bytes) + 8;
	ASSERT_EQ(gapwalk__unwind(gw, getpid(), &ex, 0, frames, 8, &end, NULL, NULL), 0,
		  "bad length");
	ASSERT_EQ(end, GAPWALK_TRUNC, "bad length truncates");
out:
	gapwalk__free(gw);
	symbolizer__free(sym);
}

/* ---- function-name classes --------------------------------------------------- */

void test_waitclass_lock_functions(void)
{
	static const struct {
		const char *name;
		int lock;
	} cases[] = {
		{ "pthread_mutex_lock", 1 },        { "__pthread_mutex_lock", 1 },
		{ "___pthread_mutex_lock", 1 },     { "pthread_mutex_timedlock", 1 },
		{ "pthread_mutex_clocklock", 1 },   { "__pthread_mutex_cond_lock", 1 },
		{ "pthread_rwlock_rdlock", 1 },     { "pthread_rwlock_wrlock", 1 },
		{ "pthread_rwlock_timedwrlock", 1 }, { "pthread_rwlock_clockrdlock", 1 },
		{ "__lll_lock_wait", 1 },           { "__lll_lock_wait_private", 1 },
		{ "__GI___lll_lock_wait", 1 },      { "__GI___pthread_mutex_lock", 1 },
		{ "__GI___pthread_mutex_unlock", 0 }, { "__GI_", 0 },
		{ "mtx_lock", 1 },                  { "mtx_timedlock", 1 },
		{ "pthread_mutex_unlock", 0 },      { "pthread_mutex_trylock", 0 },
		{ "pthread_rwlock_unlock", 0 },     { "pthread_rwlock_tryrdlock", 0 },
		{ "pthread_cond_wait", 0 },         { "pthread_join", 0 },
		{ "sem_wait", 0 },                  { "my_lock", 0 },
		{ "pthread_mutex_init", 0 },        { "", 0 },
		{ "lock", 0 },                      { "____", 0 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		ASSERT_EQ(waitclass_is_lock_function(cases[i].name), cases[i].lock, cases[i].name);
}

void test_waitclass_tracing_glue(void)
{
	ASSERT_TRUE(waitclass_is_tracing_glue("bpf_prog_9350e75bacdf22c7_sched_switch"), "prog");
	ASSERT_TRUE(waitclass_is_tracing_glue("bpf_trace_run4"), "bpf_trace_run4");
	ASSERT_TRUE(waitclass_is_tracing_glue("__bpf_trace_sched_switch"), "__bpf_trace");
	ASSERT_TRUE(waitclass_is_tracing_glue("__traceiter_sched_switch"), "__traceiter");
	ASSERT_FALSE(waitclass_is_tracing_glue("__schedule"), "__schedule");
	ASSERT_FALSE(waitclass_is_tracing_glue("bpf_prog"), "prefix only");
	ASSERT_FALSE(waitclass_is_tracing_glue(""), "empty");
}

void test_waitclass_gil_function(void)
{
	ASSERT_TRUE(waitclass_is_gil_function("take_gil"), "take_gil");
	ASSERT_TRUE(waitclass_is_gil_function("take_gil.constprop.0"), "a GCC clone (pyenv 3.13)");
	ASSERT_FALSE(waitclass_is_gil_function("take_gilx"), "a longer name");
	ASSERT_FALSE(waitclass_is_gil_function("drop_gil"), "drop_gil waits for no lock");
	ASSERT_FALSE(waitclass_is_gil_function("take"), "prefix");
	ASSERT_FALSE(waitclass_is_gil_function(""), "empty");
}
