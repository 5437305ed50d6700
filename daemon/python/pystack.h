/* SPDX-License-Identifier: Apache-2.0 */
/* pystack: a thread's Python frames read from its process's memory, for
 * stacks unwound in user space (the threads snapshot, collect/threads.c).
 * The same walk as bpf/python.bpf.h does inside the BPF stack walk, on the
 * same per-process description (struct profd_py_proc): the thread state
 * from glibc's TSD slot of autoTSSkey at the thread's fsbase, its current
 * interpreter frame, and at each activation of the eval function the
 * Python frames it runs in its place (PROFD_PY_FRAME values). Pure but for
 * the reads, which go through the caller's function. */
#ifndef PROFD_PYSTACK_H
#define PROFD_PYSTACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "profd/python.h"

/* len bytes at addr into buf: 0, or non-zero when any of them is unreadable. */
typedef int (*pystack_read_fn)(void *ctx, uint64_t addr, void *buf, size_t len);

struct pystack {
	struct profd_py_proc cfg;
	pystack_read_fn read;
	void *ctx;
	uint64_t cursor;  /* next interpreter frame to emit, 0: none */
	uint64_t done_sp; /* sp of the eval activation whose frames were emitted */
	bool active;      /* the thread has a current frame to start from */
	bool replaced;    /* done_sp's activation emitted Python frames */
	unsigned emitted; /* frames emitted for the activation in progress */
};

/* Start a walk of the thread whose fsbase is given. Returns true when the
 * thread has a Python thread state (its frames will be emitted). */
bool pystack_begin(struct pystack *ps, const struct profd_py_proc *cfg, uint64_t fsbase,
		   pystack_read_fn read, void *ctx);

/* Before the native frame (pc, sp) is recorded (is_ret: pc is a return
 * address): PYSTACK_EMIT with *out the next Python frame to record (call
 * again for the same frame), PYSTACK_NATIVE to record pc, or PYSTACK_SKIP
 * when pc is an eval activation its Python frames replaced. */
enum { PYSTACK_NATIVE = 0, PYSTACK_EMIT = 1, PYSTACK_SKIP = 2 };
int pystack_step(struct pystack *ps, uint64_t pc, uint64_t sp, bool is_ret, uint64_t *out);

#endif
