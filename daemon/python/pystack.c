// SPDX-License-Identifier: Apache-2.0
/* pystack: see pystack.h. Kept step for step with bpf/python.bpf.h. */
#include <string.h>

#include "python/pystack.h"

bool pystack_begin(struct pystack *ps, const struct profd_py_proc *cfg, uint64_t fsbase,
		   pystack_read_fn read, void *ctx)
{
	uint64_t tstate, cframe;
	uint32_t key;

	*ps = (struct pystack){ .cfg = *cfg, .read = read, .ctx = ctx };
	if (!fsbase || read(ctx, cfg->tss_key_addr, &key, sizeof(key)) || key >= PROFD_PY_MAX_KEY)
		return false;
	if (read(ctx, fsbase + cfg->tsd_off + (uint64_t)key * cfg->tsd_stride, &tstate,
		 sizeof(tstate)) || !tstate)
		return false;
	if (cfg->off_cframe == PROFD_PY_NO_CFRAME)
		cframe = tstate; /* 3.13: the frame pointer is in the thread state */
	else if (read(ctx, tstate + cfg->off_cframe, &cframe, sizeof(cframe)) || !cframe)
		return false;
	if (read(ctx, cframe + cfg->off_current_frame, &ps->cursor, sizeof(ps->cursor)))
		ps->cursor = 0;
	ps->active = true;
	return true;
}

/* The activation at sp is done: SKIP if it emitted frames, else NATIVE. */
static int activation_done(struct pystack *ps, uint64_t sp)
{
	ps->done_sp = sp;
	ps->replaced = ps->emitted != 0;
	ps->emitted = 0;
	return ps->replaced ? PYSTACK_SKIP : PYSTACK_NATIVE;
}

int pystack_step(struct pystack *ps, uint64_t pc, uint64_t sp, bool is_ret, uint64_t *out)
{
	const struct profd_py_proc *c = &ps->cfg;
	uint8_t frame[PROFD_PY_FRAME_READ];
	uint64_t code, instr, prev, idx;
	uint8_t entry;

	if (!ps->active)
		return PYSTACK_NATIVE;
	if (is_ret)
		pc -= 1;
	if (pc < c->eval_lo || pc >= c->eval_hi)
		return PYSTACK_NATIVE;
	if (sp == ps->done_sp)
		return ps->replaced ? PYSTACK_SKIP : PYSTACK_NATIVE;
	if (!ps->cursor || ps->read(ps->ctx, ps->cursor, frame, sizeof(frame))) {
		ps->cursor = 0; /* nothing (more) to show */
		return activation_done(ps, sp);
	}
	if (c->off_code > sizeof(frame) - 8 || c->off_instr > sizeof(frame) - 8 ||
	    c->off_previous > sizeof(frame) - 8 || c->off_entry > sizeof(frame) - 1)
		return PYSTACK_NATIVE;
	memcpy(&code, frame + c->off_code, 8);
	memcpy(&instr, frame + c->off_instr, 8);
	memcpy(&prev, frame + c->off_previous, 8);
	entry = frame[c->off_entry];
	if (c->entry_kind == PROFD_PY_ENTRY_CSTACK && entry == PROFD_PY_OWNED_BY_CSTACK) {
		/* 3.12+: the activation's shim frame ends its run; not shown */
		ps->cursor = prev;
		return activation_done(ps, sp);
	}
	idx = PROFD_PY_NO_INSTR;
	if (c->instr_kind == PROFD_PY_INSTR_INDEX) {
		if ((int32_t)instr >= 0 && (int32_t)instr < (int32_t)PROFD_PY_NO_INSTR)
			idx = (uint32_t)instr;
	} else if (instr >= code + c->code_adaptive &&
		   (instr - code - c->code_adaptive) / 2 < PROFD_PY_NO_INSTR) {
		idx = (instr - code - c->code_adaptive) / 2;
	}
	*out = PROFD_PY_FRAME(code, idx);
	ps->cursor = prev;
	ps->emitted++;
	if ((c->entry_kind == PROFD_PY_ENTRY_FLAG && entry) || c->entry_kind == PROFD_PY_ENTRY_ONE ||
	    !prev) {
		ps->done_sp = sp;
		ps->replaced = true;
		ps->emitted = 0;
	}
	return PYSTACK_EMIT;
}
