/* SPDX-License-Identifier: Apache-2.0 */
/* python: what the BPF stack walker needs to walk a CPython process's
 * interpreter frames (bpf/python.bpf.h), written per process by the agent
 * (daemon/python/), and how a Python frame is encoded among the native
 * return addresses of a stack. Fixed-width types only, sizes asserted. */
#ifndef PROFD_PYTHON_H
#define PROFD_PYTHON_H

#ifndef __bpf__
#include <linux/types.h>
#endif

/*
 * A Python frame in a user stack: one u64 that no user or kernel address
 * can be (user addresses are below 2^56, kernel ones start 0xffff):
 *   bits 60..63  PROFD_PY_TAG
 *   bits 16..59  code object address >> 3 (objects are 8-aligned, < 2^47)
 *   bits  0..15  instruction index in code units, PROFD_PY_NO_INSTR if unknown
 */
#define PROFD_PY_TAG 0xaULL
#define PROFD_PY_NO_INSTR 0xffffU
#define PROFD_PY_FRAME(code, instr) \
	((PROFD_PY_TAG << 60) | ((((__u64)(code) >> 3) & ((1ULL << 44) - 1)) << 16) | ((instr) & 0xffff))
#define PROFD_PY_IS_FRAME(v) (((__u64)(v) >> 60) == PROFD_PY_TAG)
#define PROFD_PY_CODE(v) ((((__u64)(v) >> 16) & ((1ULL << 44) - 1)) << 3)
#define PROFD_PY_INSTR(v) ((__u32)((v) & 0xffff))
/* Locations of the frames the agent adds to say what a stack is (no code
 * object has these addresses: all 44 code bits set). */
#define PROFD_PY_MARK(n) ((PROFD_PY_TAG << 60) | ((1ULL << 60) - 1 - (n)))
#define PROFD_PY_MARK_GIL PROFD_PY_MARK(0)        /* "Python GIL" */
#define PROFD_PY_MARK_GIL_SWITCH PROFD_PY_MARK(1) /* "Python GIL handoff" */
#define PROFD_PY_MARK_ARENA PROFD_PY_MARK(2)      /* "Python pymalloc arena" */

/*
 * py_procs: HASH, tgid (u32) → struct profd_py_proc. Interpreter frames:
 * tstate = TSD slot of the pthread key autoTSSkey (read at tss_key_addr) in
 * the thread's glibc struct pthread (fsbase + tsd_off + key * tsd_stride);
 * first frame = *(*(tstate + off_cframe) + off_current_frame), or
 * *(tstate + off_current_frame) without a cframe (3.13); each frame's code
 * object, previous frame, instruction pointer and entry flag or owner byte
 * at the off_* offsets. Python frames are placed leafward of each
 * activation of the eval function [eval_lo, eval_hi), replacing it: one
 * activation runs frames up to and including the first with the entry flag
 * set (3.11, PROFD_PY_ENTRY_FLAG), or up to the frame the C stack owns, not
 * shown (3.12+, PROFD_PY_ENTRY_CSTACK).
 */
#define PROFD_PY_ENTRY_FLAG 0
#define PROFD_PY_ENTRY_CSTACK 1
#define PROFD_PY_ENTRY_ONE 2 /* 3.10: one Python frame per activation */
#define PROFD_PY_INSTR_PTR 0   /* off_instr: pointer to the last/current code unit */
#define PROFD_PY_INSTR_INDEX 1 /* off_instr: int index of the last code unit (3.10 f_lasti) */
#define PROFD_PY_OWNED_BY_CSTACK 3
#define PROFD_PY_NO_CFRAME 0xffff
struct profd_py_proc {
	__u64 tss_key_addr; /* address of the pthread_key_t (unsigned int) */
	__u64 eval_lo, eval_hi;
	__u32 tsd_off;      /* glibc: specific_1stblock[0].data */
	__u32 tsd_stride;
	__u16 off_cframe, off_current_frame;
	__u16 off_code, off_previous, off_instr, off_entry;
	__u16 code_adaptive; /* first code unit's offset in the code object */
	__u8 minor;          /* 11 for 3.11 */
	__u8 entry_kind;     /* PROFD_PY_ENTRY_* */
	__u8 instr_kind;     /* PROFD_PY_INSTR_* */
	__u8 pad[7];
	__u64 gil_cond;      /* the main interpreter's GIL: its cond, then mutex */
};
_Static_assert(sizeof(struct profd_py_proc) == 64, "py_procs value layout");

/* A futex wait on a word in [gil_cond, gil_cond + PROFD_PY_GIL_TAKE_SIZE)
 * waits to take the GIL: take_gil()'s pthread_cond_timedwait on gil->cond
 * and its pthread_mutex_lock of gil->mutex (pthread_cond_t and
 * pthread_mutex_t, 48 + 40 bytes, in that order in 3.10-3.13). The next
 * PROFD_PY_GIL_SWITCH_SIZE bytes are switch_cond and switch_mutex: a wait
 * there is drop_gil()'s, of a thread that released the GIL on request,
 * until the other has taken it (the handoff). */
#define PROFD_PY_GIL_TAKE_SIZE 0x58
#define PROFD_PY_GIL_SWITCH_SIZE 0x58

#define PROFD_PY_MAX_KEY 32 /* keys beyond glibc's first block: not walked */
#define PROFD_PY_FRAME_READ 0x68 /* bytes of an interpreter frame read (3.10: f_lasti at 0x60) */

#endif
