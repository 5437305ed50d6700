/* SPDX-License-Identifier: GPL-2.0 */
/* python.bpf.h: CPython interpreter frames inside the .eh_frame walk of
 * unwind.bpf.h. For a process the agent registered in py_procs
 * (daemon/python/, include/profd/python.h), py_begin() finds the sampled
 * thread's current interpreter frame through the autoTSSkey pthread key,
 * and py_step() — called by unw_step() before it records a native PC — emits
 * the Python frames an activation of the eval function runs (3.11: up to the
 * entry frame) just leafward of that activation's own native frame.
 * Included by unwind.bpf.h; the including object gets its own scratch, and
 * py_procs is shared through unwind_loader__reuse_maps(). */
#ifndef PROFD_PYTHON_BPF_H
#define PROFD_PYTHON_BPF_H

#include "profd/python.h"

/* Only objects that define UNW_PYTHON before including unwind.bpf.h walk
 * Python frames (cpu.bpf.c); the others get no-op hooks and no maps. */
#ifdef UNW_PYTHON

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, struct profd_py_proc);
} py_procs SEC(".maps");

struct py_state {
	struct profd_py_proc cfg;
	__u64 cursor;  /* next interpreter frame to emit, 0: none */
	__u64 done_sp; /* sp of the eval activation whose frames were emitted */
	__u32 active;  /* this walk is of a registered Python process */
	__u32 replaced; /* done_sp's activation emitted Python frames */
	__u32 emitted;  /* frames emitted for the activation in progress */
	__u32 pad;
	__u8 frame[PROFD_PY_FRAME_READ];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct py_state);
} py_scratch SEC(".maps");

/* At the start of a walk of pid: find the thread's current frame. Returns
 * 1 when py_step() has frames to emit in this walk, else 0 (the walker then
 * skips py_step). */
static __always_inline __u32 py_begin(__u32 pid)
{
	struct task_struct *task;
	struct profd_py_proc *c;
	struct py_state *ps;
	__u32 zero = 0, key;
	__u64 tstate, cframe, fsbase;

	ps = bpf_map_lookup_elem(&py_scratch, &zero);
	if (!ps) /* verifier: never NULL */
		return 0;
	ps->active = 0;
	c = bpf_map_lookup_elem(&py_procs, &pid);
	if (!c)
		return 0;
	ps->cfg = *c;
	ps->cursor = 0;
	ps->done_sp = 0;
	ps->emitted = 0;
	task = bpf_get_current_task_btf();
	fsbase = task->thread.fsbase;
	if (bpf_probe_read_user(&key, sizeof(key), (void *)ps->cfg.tss_key_addr) ||
	    key >= PROFD_PY_MAX_KEY)
		return 0;
	if (bpf_probe_read_user(&tstate, sizeof(tstate),
				(void *)(fsbase + ps->cfg.tsd_off + (__u64)key * ps->cfg.tsd_stride)) ||
	    !tstate)
		return 0;
	if (ps->cfg.off_cframe == PROFD_PY_NO_CFRAME)
		cframe = tstate; /* 3.13: the frame pointer is in the thread state */
	else if (bpf_probe_read_user(&cframe, sizeof(cframe),
				     (void *)(tstate + ps->cfg.off_cframe)) || !cframe)
		return 0;
	if (bpf_probe_read_user(&ps->cursor, sizeof(ps->cursor),
				(void *)(cframe + ps->cfg.off_current_frame)))
		ps->cursor = 0;
	ps->active = 1;
	return 1;
}

/* Before the native frame (pc, sp) is recorded: if it is an eval activation
 * whose Python frames were not emitted yet, emit the next one into *out and
 * return 1; 2 when it is an activation whose Python frames replace it (not
 * recorded, but unwound through); otherwise 0. */
static __always_inline int py_step(__u64 pc, __u64 sp, __u32 is_ret, __u64 *out)
{
	struct py_state *ps;
	__u32 zero = 0, off;
	__u64 code, instr, prev, idx;
	__u8 entry;

	ps = bpf_map_lookup_elem(&py_scratch, &zero);
	if (!ps || !ps->active)
		return 0;
	if (is_ret)
		pc -= 1;
	if (pc < ps->cfg.eval_lo || pc >= ps->cfg.eval_hi)
		return 0;
	if (sp == ps->done_sp)
		return ps->replaced ? 2 : 0;
	if (!ps->cursor ||
	    bpf_probe_read_user(ps->frame, sizeof(ps->frame), (void *)ps->cursor)) {
		ps->done_sp = sp; /* nothing (more) to show */
		ps->replaced = ps->emitted != 0;
		ps->emitted = 0;
		ps->cursor = 0;
		return ps->replaced ? 2 : 0;
	}
	off = ps->cfg.off_code;
	if (off > PROFD_PY_FRAME_READ - 8)
		return 0;
	code = *(__u64 *)(ps->frame + off);
	off = ps->cfg.off_instr;
	if (off > PROFD_PY_FRAME_READ - 8)
		return 0;
	instr = *(__u64 *)(ps->frame + off);
	off = ps->cfg.off_previous;
	if (off > PROFD_PY_FRAME_READ - 8)
		return 0;
	prev = *(__u64 *)(ps->frame + off);
	off = ps->cfg.off_entry;
	if (off > PROFD_PY_FRAME_READ - 1)
		return 0;
	entry = ps->frame[off];
	if (ps->cfg.entry_kind == PROFD_PY_ENTRY_CSTACK && entry == PROFD_PY_OWNED_BY_CSTACK) {
		/* 3.12+: the activation's shim frame ends its run; not shown */
		ps->cursor = prev;
		ps->done_sp = sp;
		ps->replaced = ps->emitted != 0;
		ps->emitted = 0;
		return ps->replaced ? 2 : 0;
	}
	idx = PROFD_PY_NO_INSTR;
	if (ps->cfg.instr_kind == PROFD_PY_INSTR_INDEX) {
		if ((__s32)instr >= 0 && (__s32)instr < PROFD_PY_NO_INSTR)
			idx = (__u32)instr;
	} else if (instr >= code + ps->cfg.code_adaptive &&
		   (instr - code - ps->cfg.code_adaptive) / 2 < PROFD_PY_NO_INSTR) {
		idx = (instr - code - ps->cfg.code_adaptive) / 2;
	}
	*out = PROFD_PY_FRAME(code, idx);
	ps->cursor = prev;
	ps->emitted++;
	if ((ps->cfg.entry_kind == PROFD_PY_ENTRY_FLAG && entry) ||
	    ps->cfg.entry_kind == PROFD_PY_ENTRY_ONE || !prev) {
		ps->done_sp = sp;
		ps->replaced = 1;
		ps->emitted = 0;
	}
	return 1;
}

#else
static __always_inline __u32 py_begin(__u32 pid)
{
	return 0;
}

static __always_inline int py_step(__u64 pc, __u64 sp, __u32 is_ret, __u64 *out)
{
	return 0;
}
#endif /* UNW_PYTHON */

#endif
