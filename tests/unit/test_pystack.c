// SPDX-License-Identifier: Apache-2.0
/* pystack: the user-space walk of a thread's Python frames (the threads
 * snapshot's), on interpreter structures built here in this process's own
 * memory: where the Python frames go among the native ones, which eval
 * activations they replace, each version's entry rule, and unreadable or
 * garbage thread state. */
#include <stdint.h>
#include <string.h>

#include "harness.h"
#include "python/pystack.h"

#define EVAL_LO 0x1000
#define EVAL_HI 0x2000

struct fake {
	uint32_t key;
	uint64_t tsd[64];      /* "struct pthread": fsbase = tsd */
	uint64_t tstate[16];
	uint64_t cframe[4];
	uint8_t frames[4][PROFD_PY_FRAME_READ];
	uint8_t code[4][0x100];
	uint64_t bad;          /* an address whose reads fail */
};

static int fake_read(void *ctx, uint64_t addr, void *buf, size_t len)
{
	struct fake *f = ctx;

	if (!addr || (f->bad && addr <= f->bad && f->bad < addr + len))
		return -1;
	memcpy(buf, (const void *)(uintptr_t)addr, len);
	return 0;
}

/* 3.11-like: cframe, instruction pointers, the entry flag. Frame i's code
 * object is code[i], its instruction 4 + i code units in. */
static struct profd_py_proc setup(struct fake *f, int nframes, uint8_t entry_kind)
{
	struct profd_py_proc c = {
		.tss_key_addr = (uint64_t)(uintptr_t)&f->key,
		.eval_lo = EVAL_LO, .eval_hi = EVAL_HI,
		.tsd_off = 0x20, .tsd_stride = 16,
		.off_cframe = 0x38, .off_current_frame = 0x8,
		.off_code = 0x0, .off_previous = 0x8, .off_instr = 0x10, .off_entry = 0x18,
		.code_adaptive = 0x40, .minor = 11, .entry_kind = entry_kind,
		.instr_kind = PROFD_PY_INSTR_PTR,
	};

	memset(f, 0, sizeof(*f));
	f->key = 2;
	f->tsd[(0x20 + 2 * 16) / 8] = (uint64_t)(uintptr_t)f->tstate;
	f->tstate[0x38 / 8] = (uint64_t)(uintptr_t)f->cframe;
	f->cframe[1] = (uint64_t)(uintptr_t)f->frames[0];
	for (int i = 0; i < nframes; i++) {
		uint64_t code = (uint64_t)(uintptr_t)f->code[i];
		uint64_t prev = i + 1 < nframes ? (uint64_t)(uintptr_t)f->frames[i + 1] : 0;
		uint64_t instr = code + 0x40 + 2 * (4 + i);

		memcpy(f->frames[i] + 0x0, &code, 8);
		memcpy(f->frames[i] + 0x8, &prev, 8);
		memcpy(f->frames[i] + 0x10, &instr, 8);
	}
	return c;
}

static uint64_t want(struct fake *f, int i)
{
	return PROFD_PY_FRAME((uint64_t)(uintptr_t)f->code[i], 4 + i);
}

/* The native walk (pc, sp) pairs through pystack, as collect/threads.c
 * records them. */
static size_t walk(struct pystack *ps, const uint64_t (*nat)[2], size_t n, uint64_t *out)
{
	size_t k = 0;

	for (size_t i = 0; i < n; i++) {
		for (;;) {
			uint64_t v;
			int r = pystack_step(ps, nat[i][0], nat[i][1], i > 0, &v);

			if (r == PYSTACK_EMIT) {
				out[k++] = v;
				continue;
			}
			if (r == PYSTACK_NATIVE)
				out[k++] = nat[i][0];
			break;
		}
	}
	return k;
}

void test_pystack_311_entry_frames(void)
{
	static struct fake f;
	struct profd_py_proc c = setup(&f, 3, PROFD_PY_ENTRY_FLAG);
	/* libc leaf, eval (runs frames 0-1), a C function, eval (frame 2),
	 * eval again (nothing left: stays native), main */
	const uint64_t nat[][2] = { { 0x500, 100 }, { 0x1101, 200 }, { 0x3000, 300 },
				    { 0x1201, 400 }, { 0x1301, 500 }, { 0x4000, 600 } };
	uint64_t out[16];
	struct pystack ps;
	size_t n;

	f.frames[1][0x18] = 1; /* frame 1 entered from C: its activation ends there */
	ASSERT_TRUE(pystack_begin(&ps, &c, (uint64_t)(uintptr_t)f.tsd, fake_read, &f), "begin");
	n = walk(&ps, nat, 6, out);
	ASSERT_EQ(n, 7, "frames");
	ASSERT_EQ(out[0], 0x500, "libc leaf");
	ASSERT_EQ(out[1], want(&f, 0), "frame 0 in place of the first eval");
	ASSERT_EQ(out[2], want(&f, 1), "frame 1, the entry frame");
	ASSERT_EQ(out[3], 0x3000, "the C function between");
	ASSERT_EQ(out[4], want(&f, 2), "frame 2 in place of the second eval");
	ASSERT_EQ(out[5], 0x1301, "an eval with no Python frame left stays");
	ASSERT_EQ(out[6], 0x4000, "main");
	ASSERT_TRUE(PROFD_PY_IS_FRAME(out[1]) && PROFD_PY_INSTR(out[2]) == 5, "encoding");
}

void test_pystack_one_per_activation_and_index(void)
{
	static struct fake f;
	struct profd_py_proc c = setup(&f, 2, PROFD_PY_ENTRY_ONE);
	const uint64_t nat[][2] = { { 0x1100, 100 }, { 0x3000, 200 }, { 0x1201, 300 } };
	uint64_t out[8], idx = 7;
	struct pystack ps;

	/* 3.10: f_lasti an index; one frame per eval activation */
	c.instr_kind = PROFD_PY_INSTR_INDEX;
	memcpy(f.frames[0] + 0x10, &idx, 8);
	ASSERT_TRUE(pystack_begin(&ps, &c, (uint64_t)(uintptr_t)f.tsd, fake_read, &f), "begin");
	ASSERT_EQ(walk(&ps, nat, 3, out), 3, "frames");
	ASSERT_EQ(out[0], PROFD_PY_FRAME((uint64_t)(uintptr_t)f.code[0], 7), "leaf eval: frame 0, index");
	ASSERT_EQ(out[1], 0x3000, "C between");
	ASSERT_EQ(PROFD_PY_CODE(out[2]), (uint64_t)(uintptr_t)f.code[1], "frame 1");
}

void test_pystack_cstack_shim_and_no_cframe(void)
{
	static struct fake f;
	struct profd_py_proc c = setup(&f, 3, PROFD_PY_ENTRY_CSTACK);
	const uint64_t nat[][2] = { { 0x500, 100 }, { 0x1101, 200 }, { 0x1201, 300 } };
	uint64_t out[8];
	struct pystack ps;

	/* 3.12+: frame 1 is the C stack's shim frame, ending the first
	 * activation; 3.13: the current frame in the thread state itself */
	f.frames[1][0x18] = PROFD_PY_OWNED_BY_CSTACK;
	c.off_cframe = PROFD_PY_NO_CFRAME;
	c.off_current_frame = 0x48;
	f.tstate[0x48 / 8] = (uint64_t)(uintptr_t)f.frames[0];
	ASSERT_TRUE(pystack_begin(&ps, &c, (uint64_t)(uintptr_t)f.tsd, fake_read, &f), "begin");
	ASSERT_EQ(walk(&ps, nat, 3, out), 3, "frames");
	ASSERT_EQ(out[1], want(&f, 0), "frame 0");
	ASSERT_EQ(out[2], want(&f, 2), "frame 2: the shim is not shown");
}

void test_pystack_unreadable_and_garbage(void)
{
	static struct fake f;
	struct profd_py_proc c = setup(&f, 3, PROFD_PY_ENTRY_FLAG);
	const uint64_t nat[][2] = { { 0x1101, 100 }, { 0x1201, 200 } };
	uint64_t out[8];
	struct pystack ps;

	/* frame 1 unreadable: frame 0, then the native evals */
	f.bad = (uint64_t)(uintptr_t)f.frames[1] + 0x10;
	ASSERT_TRUE(pystack_begin(&ps, &c, (uint64_t)(uintptr_t)f.tsd, fake_read, &f), "begin");
	ASSERT_EQ(walk(&ps, nat, 2, out), 2, "frames");
	ASSERT_EQ(out[0], want(&f, 0), "frame 0");
	ASSERT_EQ(out[1], 0x1201, "the eval whose frame cannot be read stays native");
	/* no thread state, a key out of range, an unreadable key, no fsbase */
	f.bad = 0;
	f.tsd[(0x20 + 2 * 16) / 8] = 0;
	ASSERT_FALSE(pystack_begin(&ps, &c, (uint64_t)(uintptr_t)f.tsd, fake_read, &f), "no tstate");
	ASSERT_EQ(pystack_step(&ps, 0x1100, 10, false, out), PYSTACK_NATIVE, "inactive: native");
	c = setup(&f, 1, PROFD_PY_ENTRY_FLAG);
	f.key = PROFD_PY_MAX_KEY;
	ASSERT_FALSE(pystack_begin(&ps, &c, (uint64_t)(uintptr_t)f.tsd, fake_read, &f), "key >= 32");
	f.key = 2;
	f.bad = (uint64_t)(uintptr_t)&f.key;
	ASSERT_FALSE(pystack_begin(&ps, &c, (uint64_t)(uintptr_t)f.tsd, fake_read, &f), "key unreadable");
	f.bad = 0;
	ASSERT_FALSE(pystack_begin(&ps, &c, 0, fake_read, &f), "no fsbase");
	/* an instruction pointer before the code: no instruction */
	memset(f.frames[0] + 0x10, 0, 8);
	ASSERT_TRUE(pystack_begin(&ps, &c, (uint64_t)(uintptr_t)f.tsd, fake_read, &f), "begin");
	ASSERT_EQ(pystack_step(&ps, 0x1100, 10, false, out), PYSTACK_EMIT, "emitted");
	ASSERT_EQ(PROFD_PY_INSTR(out[0]), PROFD_PY_NO_INSTR, "unknown instruction");
}
