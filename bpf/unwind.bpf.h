/* SPDX-License-Identifier: GPL-2.0 */
/* unwind.bpf.h: the user-stack walker shared by every profd BPF object
 * (CPU samples, heap/lock uprobes, off-CPU switches). It walks with the
 * .eh_frame tables the agent loads (daemon/unwind/loader.c, format in
 * include/profd/unwind.h and include/profd/walker.h), taking a frame-pointer
 * step where a mapping or an address has no CFI. Needs bpf_loop (5.17).
 *
 * How to use it from a collector's program:
 *
 *   #include "unwind.bpf.h"          (once per object, after vmlinux.h and
 *                                     the libbpf headers)
 *   struct unw_state *st;
 *
 *   st = unwind_user_regs(&ctx->regs);   perf_event sample in user mode
 *   st = unwind_user_regs(ctx);          uprobe: ctx is the user pt_regs
 *   st = unwind_user_task();             anything else (sample in kernel
 *                                        mode, sched_switch, syscall probes):
 *                                        the task's saved user registers
 *   if (st)  → st->frames[0 .. st->n), leaf first, zero after n;
 *              st->frames[0] is the exact PC, the others return addresses;
 *              unwind_store(&my_stacks, st) interns them → a stack id.
 *   NULL     → no user stack (kernel thread, compat task, walker disabled).
 *
 * User side: before loading the object call unwind_loader__reuse_maps()
 * so that every object shares the loader's unw_mappings, unw_tables,
 * unw_rules and unw_events; set rodata unw_cfg.enabled = 1. unw_scratch and
 * unw_metrics stay per object (a perf NMI may interrupt a uprobe program's
 * walk on the same CPU, so the scratch must not be shared).
 *
 * Minimum kernel: 5.17 (bpf_loop; bpf_task_pt_regs is 5.15, BPF_F_INNER_MAP
 * 5.10). On older kernels the agent keeps the frame-pointer walk of
 * bpf_get_stackid() and leaves unw_cfg.enabled = 0; the verifier still
 * checks this code, so an object including it then needs the bpf_loop
 * program autoload turned off, or the include guarded — see cpu.bpf.c.
 *
 * Ablations for tests/bench/bench_unwind.sh (PROFD_VARIANTS), never in a
 * normal build: -DUNW_X_NOPY (no Python hook), -DUNW_X_NOMETRIC (no
 * frame counters), -DUNW_X_NOWALK (one frame, no walk), -DUNW_X_NOBLOCK (no
 * stack block cache: one read per frame), and in cpu.bpf.c -DUNW_X_NOSTORE
 * (the stack is not interned). */
#ifndef PROFD_UNWIND_BPF_H
#define PROFD_UNWIND_BPF_H

#include <bpf/bpf_endian.h>

#include "profd/walker.h"

/* -DUNW_X_PARTS (benchmarks only, objects that define UNW_BENCH_PARTS:
 * cpu.bpf.c): the time between two marks of a sample goes to
 * bench_parts[part] (cpu.bpf.c bench_part()). */
#if defined(UNW_X_PARTS) && defined(UNW_BENCH_PARTS)
static __always_inline void bench_part(__u32 part);
#define UNW_PART(p) bench_part(p)
#else
#define UNW_PART(p) do { } while (0)
#endif
#include "core_fixes.bpf.h"
#include "python.bpf.h"

/* Set during load time: unw_cfg.enabled = 1 once the loader's maps are in. */
const volatile struct profd_unw_config unw_cfg = {};

/* (pid, address) → file table and bias. Written by the loader from
 * /proc/PID/maps; an LPM trie so that each mapping is a handful of aligned
 * blocks. NO_PREALLOC is required for tries (and allowed in perf_event
 * programs). Sized by the loader; 2^18 blocks ≈ 10k mappings. Shared. */
struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 1 << 18);
	__type(key, struct profd_unw_map_key);
	__type(value, struct profd_unw_mapping);
} unw_mappings SEC(".maps");

/* file_id → ARRAY of rows, each exactly the table's size. Written by the
 * loader (one inner map per distinct file, shared by every process mapping
 * it); preallocated outer hash as perf_event programs require. Shared. */
struct unw_rows_map {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_INNER_MAP);
	__uint(max_entries, 1);
	__type(key, __u32);
	__uint(value_size, sizeof(struct profd_unw_row));
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH_OF_MAPS);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__array(values, struct unw_rows_map);
} unw_tables SEC(".maps");

/* Rule index → rule, deduplicated across every table by the loader. Shared. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, PROFD_UNW_MAX_RULES);
	__type(key, __u32);
	__type(value, struct profd_unw_rule);
} unw_rules SEC(".maps");

/* Unknown-mapping events to the loader, at most one per CPU every
 * UNW_EVENT_MIN_GAP_NS, and per pid every unw_cfg.event_interval_ms. Sized
 * by the loader (256 KiB: 10k events between two polls). Shared. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} unw_events SEC(".maps");
#define UNW_EVENT_MIN_GAP_NS (2 * 1000 * 1000)

/* Per-CPU walking state. */
#define UNW_F_IS_RET 1	   /* pc is a return address: look up pc - 1 */
#define UNW_F_BP_VALID 2   /* bp holds the frame's rbp */
#define UNW_F_REGS_EXACT 4 /* regs[] are this frame's registers (frame 0, and
			    * the frame a signal interrupted) */

/* Saved registers of a signal frame: uc_mcontext.gregs, from r8 to rip. */
#define UNW_SIG_GREGS 17
/* At __restore_rt rsp points at the ucontext; uc_mcontext follows uc_flags,
 * uc_link and uc_stack (8 + 8 + 24 bytes). */
#define UNW_SIG_MCONTEXT_OFF 40
/* x86-64 pt_regs as the ptrace ABI lays it out, r15 first, up to ss. */
#define UNW_PT_REGS_WORDS 21
/* The lowest user address a PC may have, and the end of the user half with
 * 5-level paging (TASK_SIZE_MAX). */
#define UNW_MIN_PC 0x1000ULL
#define UNW_MAX_PC 0x00fffffffffff000ULL

/* Row cache: (file id, table pc) → the row's rule, direct-mapped, per CPU,
 * kept across walks. A CPU samples the same hot stacks again and again; a
 * hit skips the table lookup, the page index and the binary search (six to
 * eight helper calls, each touching cold memory at 99 Hz). Always valid: a
 * file id names one table for the loader's life (ids are never reused) and
 * rule indexes are append-only. File id 0 is never a table: empty slots
 * never match. */
#define UNW_RC_BITS 8
#define UNW_RC_SIZE (1u << UNW_RC_BITS)
struct unw_rc_slot {
	__u32 file_id;
	__u32 tpc;
	__u32 rule;
	__u32 check; /* unw_rc_check() of the three: a slot that two walks on
		      * one CPU wrote at once (a preempted uprobe program's walk,
		      * under full preemption) does not match */
};

/* Stack block cache: the walk reads the stack in aligned blocks of
 * UNW_SB_SIZE bytes, one helper call per block instead of one or two per
 * frame (consecutive frames are mostly a few dozen bytes apart). An
 * aligned block never crosses a page, so it reads whole where the small
 * read would have; when it cannot, the small read is done directly. Valid
 * for one walk (the stack does not change while its thread is stopped). */
#define UNW_SB_SIZE 512
#define UNW_SB_WORDS (UNW_SB_SIZE / 8)

struct unw_state {
	__u64 regs[PROFD_UNW_REG_RA + 1]; /* DWARF numbering; valid with REGS_EXACT */
	__u64 pc, sp, bp;
	__u64 hash;
	__u64 last_event_ns; /* per-CPU event rate limit */
	__u32 last_event_pid;
	__u32 pid;
	__u32 n;     /* frames recorded */
	__u32 flags; /* UNW_F_* */
	__u32 done;  /* walk over (complete or stopped) */
	__u32 have_map; /* 1: map holds the last mapping looked up, 2: and
			 * map_prev the one before */
	__u32 py_active; /* py_begin() found the thread's Python frame */
	/* per-walk counts of PROFD_UNW_M_FRAMES, _TABLE_STEPS, _FP_STEPS,
	 * added to unw_metrics once at the walk's end (unw_run) instead of
	 * three map updates a frame */
	__u32 m_frames, m_table_steps, m_fp_steps;
	__u32 sb_ok;   /* sb holds the block at sb_addr */
	__u64 sb_addr;
	__u64 sb[UNW_SB_WORDS];
	struct profd_unw_mapping map, map_prev, tmp_map;
	__u64 tmp[UNW_PT_REGS_WORDS + 2];	   /* register dumps read in */
	__u64 frames[PROFD_UNW_MAX_FRAMES + 1]; /* frames[n..] are 0 */
	struct unw_rc_slot rc[UNW_RC_SIZE];
};
_Static_assert(sizeof(struct unw_state) <= (32 << 10), "per-CPU value limit");
_Static_assert(UNW_PT_REGS_WORDS + 2 >= UNW_SIG_GREGS, "tmp holds a signal frame");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct unw_state);
} unw_scratch SEC(".maps");

/* Walker counters (enum profd_unw_metric), summed over CPUs by the agent. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, PROFD_UNW_M_MAX);
	__type(key, __u32);
	__type(value, __u64);
} unw_metrics SEC(".maps");

static __always_inline void unw_metric_add(__u32 idx, __u64 n)
{
	__u64 *v = bpf_map_lookup_elem(&unw_metrics, &idx);

	if (v) /* verifier: never NULL for idx < PROFD_UNW_M_MAX */
		*v += n;
}

static __always_inline void unw_metric(__u32 idx)
{
	unw_metric_add(idx, 1);
}

/* Stop the walk, counting why. Returns 1 (stop bpf_loop). */
static __always_inline long unw_stop(struct unw_state *st, __u32 reason)
{
	unw_metric(reason);
	st->done = 1;
	return 1;
}

static __always_inline long unw_complete(struct unw_state *st)
{
	return unw_stop(st, PROFD_UNW_M_COMPLETE);
}

static __always_inline void unw_event(struct unw_state *st)
{
	struct profd_unw_event *e;
	__u64 now;

	if (!unw_cfg.event_interval_ms)
		return;
	/* A pid just reported waits event_interval_ms; another one only
	 * UNW_EVENT_MIN_GAP_NS, so one busy unknown process cannot hide the
	 * others from the loader. */
	now = bpf_ktime_get_ns();
	if (now - st->last_event_ns < UNW_EVENT_MIN_GAP_NS ||
	    (st->pid == st->last_event_pid &&
	     now - st->last_event_ns < (__u64)unw_cfg.event_interval_ms * 1000000))
		return;
	st->last_event_ns = now;
	st->last_event_pid = st->pid;
	e = bpf_ringbuf_reserve(&unw_events, sizeof(*e), 0);
	if (!e) {
		unw_metric(PROFD_UNW_M_EVENTS_LOST);
		return;
	}
	e->pid = st->pid;
	e->pad = 0;
	e->addr = st->pc;
	bpf_ringbuf_submit(e, 0);
	unw_metric(PROFD_UNW_M_EVENTS);
}

struct unw_words {
	__u64 w[2];
};

/* words (1 or 2) 8-byte words of user memory at addr into dst->w, through
 * the stack block cache. Returns 0, or non-zero like bpf_probe_read_user.
 * A global function: verified once, not at each of the frame step's reads. */
__noinline int unw_read_words(struct unw_state *st, struct unw_words *dst, __u32 words, __u64 addr)
{
	__u64 blk = addr & ~(__u64)(UNW_SB_SIZE - 1);
	__u32 i = (addr & (UNW_SB_SIZE - 1)) / 8;

	if (!st || !dst) /* verifier: a global function's pointer may be NULL */
		return -1;
	words = words > 1 ? 2 : 1;
#ifdef UNW_X_NOBLOCK
	return bpf_probe_read_user(dst->w, words * 8, (void *)addr) ? -1 : 0;
#endif
	/* unaligned, or across the block's end: read it directly */
	if ((addr & 7) || i + words > UNW_SB_WORDS)
		return bpf_probe_read_user(dst->w, words * 8, (void *)addr) ? -1 : 0;
	if (!st->sb_ok || st->sb_addr != blk) {
		if (bpf_probe_read_user(st->sb, UNW_SB_SIZE, (void *)blk)) {
			st->sb_ok = 0;
			return bpf_probe_read_user(dst->w, words * 8, (void *)addr) ? -1 : 0;
		}
		st->sb_addr = blk;
		st->sb_ok = 1;
	}
	if (i > UNW_SB_WORDS - 2) { /* verifier: i + words <= UNW_SB_WORDS */
		dst->w[0] = st->sb[(UNW_SB_WORDS - 1) & i];
		return 0;
	}
	dst->w[0] = st->sb[i];
	dst->w[1] = st->sb[i + 1];
	return 0;
}

/* One word at addr into *val (unw_read_words). */
static __always_inline long unw_read1(struct unw_state *st, __u64 *val, __u64 addr)
{
	struct unw_words w;

	if (unw_read_words(st, &w, 1, addr))
		return -1;
	*val = w.w[0];
	return 0;
}

/* {rbp, ra} = *(rbp): the frame-pointer convention. rbp 0 is the root that
 * _start and thread entry set up. */
static __always_inline long unw_fp_step(struct unw_state *st)
{
	struct unw_words pair;
	__u64 bp = st->bp;

	if (!(st->flags & UNW_F_BP_VALID))
		return unw_stop(st, PROFD_UNW_M_STOP_FP);
	if (!bp)
		return unw_complete(st);
	if (bp < st->sp || (bp & 7))
		return unw_stop(st, PROFD_UNW_M_STOP_FP);
	if (unw_read_words(st, &pair, 2, bp))
		return unw_stop(st, PROFD_UNW_M_STOP_READ);
	if (!pair.w[1])
		return unw_complete(st);
	st->sp = bp + 16;
	st->bp = pair.w[0];
	st->pc = pair.w[1];
	st->flags = UNW_F_IS_RET | UNW_F_BP_VALID;
	st->m_fp_steps++;
	return 0;
}

/* __restore_rt: the interrupted registers are in the ucontext at rsp+40;
 * the next PC is exact, not a return address. */
static __always_inline long unw_signal_step(struct unw_state *st)
{
	__u64 *g = st->tmp;

	if (bpf_probe_read_user(g, UNW_SIG_GREGS * sizeof(__u64),
				(void *)(st->sp + UNW_SIG_MCONTEXT_OFF)))
		return unw_stop(st, PROFD_UNW_M_STOP_READ);
	/* gregs: r8..r15, rdi, rsi, rbp, rbx, rdx, rax, rcx, rsp, rip */
	st->regs[8] = g[0];
	st->regs[9] = g[1];
	st->regs[10] = g[2];
	st->regs[11] = g[3];
	st->regs[12] = g[4];
	st->regs[13] = g[5];
	st->regs[14] = g[6];
	st->regs[15] = g[7];
	st->regs[5] = g[8];
	st->regs[4] = g[9];
	st->regs[6] = g[10];
	st->regs[3] = g[11];
	st->regs[1] = g[12];
	st->regs[0] = g[13];
	st->regs[2] = g[14];
	st->regs[7] = g[15];
	st->regs[16] = g[16];
	st->pc = g[16];
	st->sp = g[15];
	st->bp = g[10];
	st->flags = UNW_F_BP_VALID | UNW_F_REGS_EXACT;
	unw_metric(PROFD_UNW_M_SIGNAL_STEPS);
	return 0;
}

/* Register reg of the current frame: rsp and rbp always (rbp if known),
 * the others only while regs[] are exact. Returns 0 or -1. */
static __always_inline int unw_reg(struct unw_state *st, __u32 reg, __u64 *val)
{
	if (reg == PROFD_UNW_REG_RSP) {
		*val = st->sp;
		return 0;
	}
	if (reg == PROFD_UNW_REG_RBP) {
		*val = st->bp;
		return (st->flags & UNW_F_BP_VALID) ? 0 : -1;
	}
	if (!(st->flags & UNW_F_REGS_EXACT) || reg > PROFD_UNW_REG_RA)
		return -1;
	*val = st->regs[reg];
	return 0;
}

/* unw_find_rule() results that are no rule index */
#define UNW_RULE_NO_CFI 0xfffffffeu	/* no table, or tpc below its first row */
#define UNW_RULE_NO_TABLE 0xffffffffu /* table vanished or row unreadable */
_Static_assert(sizeof(((struct profd_unw_row *)0)->rule) == 2, "sentinels are no rule index");

static __always_inline __u32 unw_rc_index(__u32 file_id, __u32 tpc)
{
	return ((tpc ^ (file_id << 20)) * 2654435761u) >> (32 - UNW_RC_BITS);
}

static __always_inline __u32 unw_rc_check(__u32 file_id, __u32 tpc, __u32 rule)
{
	return ((file_id * 0x9e3779b1u) ^ (tpc * 0x85ebca6bu) ^ rule) * 0xc2b2ae35u + 1;
}

/* The rule of table pc tpc in file_id's table (mapping m): its row is the
 * last with row.pc <= tpc, searched among the rows of tpc's page
 * (walker.h: page index). */
static __always_inline __u32 unw_find_rule(struct profd_unw_mapping *m, __u32 file_id, __u32 tpc)
{
	struct profd_unw_index *idx;
	struct profd_unw_row *row;
	__u32 lo, hi, nrows = m->nrows, page, idx_key;
	void *rows;

	rows = bpf_map_lookup_elem(&unw_tables, &file_id);
	if (!rows)
		return UNW_RULE_NO_CFI;
	page = tpc >> PROFD_UNW_PAGE_SHIFT;
	if (page < m->npages) {
		idx_key = nrows + page;
		idx = bpf_map_lookup_elem(rows, &idx_key);
		if (!idx)
			return UNW_RULE_NO_TABLE;
		lo = idx->first;
		hi = idx->end;
	} else {
		lo = hi = nrows;
	}
	for (int i = 0; i < PROFD_UNW_PAGE_BSEARCH_STEPS && lo < hi; i++) {
		__u32 mid = lo + (hi - lo) / 2;

		row = bpf_map_lookup_elem(rows, &mid);
		if (!row)
			return UNW_RULE_NO_TABLE;
		if (row->pc <= tpc)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (!lo) /* below the first row: no CFI */
		return UNW_RULE_NO_CFI;
	lo -= 1;
	row = bpf_map_lookup_elem(rows, &lo);
	if (!row)
		return UNW_RULE_NO_TABLE;
	return row->rule;
}

/* One frame: record pc, find its rule, compute the caller's pc/sp/bp.
 * Returns 1 when the walk is over. */
static __always_inline long unw_step(struct unw_state *st)
{
	struct profd_unw_map_key key;
	struct profd_unw_mapping *m;
	struct profd_unw_rule *r;
	struct unw_rc_slot *slot;
	struct unw_words pair;
	__u64 pc = st->pc, cfa, ra, bp, base;
	__u32 rule, n = st->n, file_id, both;
	__u64 tpc, pyf;
	int py;

	if (n >= PROFD_UNW_MAX_FRAMES)
		return unw_stop(st, PROFD_UNW_M_STOP_DEPTH);
	if (pc < UNW_MIN_PC || pc >= UNW_MAX_PC)
		return unw_stop(st, PROFD_UNW_M_STOP_BAD_PC);
	/* The Python frames an interpreter activation runs go first (leafward)
	 * and replace its own native frame (python.bpf.h). */
	py = 0;
	pyf = 0;
#ifndef UNW_X_NOPY
	if (st->py_active)
		py = py_step(pc, st->sp, st->flags & UNW_F_IS_RET, &pyf);
#endif
	if (py == 1) {
		st->frames[n] = pyf;
		st->n = n + 1;
		st->hash = (st->hash ^ pyf) * 0x100000001b3ULL;
		st->hash ^= st->hash >> 29;
		return 0;
	}
	if (!py) {
		st->frames[n] = pc;
		st->n = n + 1;
		st->hash = (st->hash ^ pc) * 0x100000001b3ULL;
		st->hash ^= st->hash >> 29;
		st->m_frames++;
	}

	/* Callers are mostly in the file of their callee or of the frame
	 * before (an executable calling libc calling back): skip the trie
	 * while frames stay in the last two mappings seen. */
	m = &st->map;
	if (!st->have_map || pc < m->start || pc >= m->end) {
		if (st->have_map > 1 && pc >= st->map_prev.start && pc < st->map_prev.end) {
			st->tmp_map = st->map;
			st->map = st->map_prev;
			st->map_prev = st->tmp_map;
		} else {
			key.prefixlen = PROFD_UNW_MAP_KEY_BITS;
			key.pid_be = bpf_htonl(st->pid);
			key.addr_be = bpf_cpu_to_be64(pc);
			UNW_PART(3);
			m = bpf_map_lookup_elem(&unw_mappings, &key);
			UNW_PART(7); /* mapping lookups (trie) */
			if (!m) {
				unw_metric(PROFD_UNW_M_UNKNOWN_MAP);
				unw_event(st);
				return unw_fp_step(st);
			}
			st->map_prev = st->map;
			st->map = *m;
			st->have_map = st->have_map ? 2 : 1;
		}
		m = &st->map;
	}
	if (m->kind != PROFD_UNW_MAP_TABLE || pc < m->bias)
		return unw_fp_step(st);
	tpc = pc - m->bias;
	/* A call may be a function's last instruction: its return address
	 * then belongs to the next function. */
	if (st->flags & UNW_F_IS_RET)
		tpc -= 1;
	if (tpc > 0xffffffffULL)
		return unw_fp_step(st);
	file_id = m->file_id;
	slot = &st->rc[unw_rc_index(file_id, (__u32)tpc)];
	if (slot->file_id == file_id && slot->tpc == (__u32)tpc &&
	    slot->check == unw_rc_check(file_id, (__u32)tpc, slot->rule)) {
		rule = slot->rule;
	} else {
		rule = unw_find_rule(m, file_id, (__u32)tpc);
		if (rule == UNW_RULE_NO_CFI)
			return unw_fp_step(st);
		if (rule == UNW_RULE_NO_TABLE)
			return unw_stop(st, PROFD_UNW_M_STOP_NO_TABLE);
		slot->file_id = file_id;
		slot->tpc = (__u32)tpc;
		slot->rule = rule;
		slot->check = unw_rc_check(file_id, (__u32)tpc, rule);
	}
	if (PROFD_UNW_IS_CMD(rule)) {
		switch (PROFD_UNW_CMD_OF(rule)) {
		case PROFD_UNW_CMD_FRAME_POINTER:
			return unw_fp_step(st);
		case PROFD_UNW_CMD_STOP:
			return unw_complete(st);
		case PROFD_UNW_CMD_SIGNAL:
			return unw_signal_step(st);
		default:
			return unw_stop(st, PROFD_UNW_M_STOP_INVALID);
		}
	}
	r = bpf_map_lookup_elem(&unw_rules, &rule);
	if (!r)
		return unw_stop(st, PROFD_UNW_M_STOP_NO_TABLE);
	st->m_table_steps++;

	if (unw_reg(st, r->cfa_reg, &base))
		return unw_stop(st, PROFD_UNW_M_STOP_FRAME0);
	switch (r->cfa_kind) {
	case PROFD_UNW_CFA_REG:
		cfa = base + (__s64)r->cfa_off;
		break;
	case PROFD_UNW_CFA_DEREF:
		if (unw_read1(st, &cfa, base + (__s64)r->cfa_off))
			return unw_stop(st, PROFD_UNW_M_STOP_READ);
		cfa += (__s64)r->cfa_aux;
		break;
	case PROFD_UNW_CFA_PLT:
		cfa = st->sp + (__s64)r->cfa_off + ((pc & 15) >= (__u64)r->cfa_aux ? 8 : 0);
		break;
	default:
		return unw_stop(st, PROFD_UNW_M_STOP_INVALID);
	}
	if (cfa <= st->sp)
		return unw_stop(st, PROFD_UNW_M_STOP_BAD_CFA);

	bp = st->bp;
	both = 0;
	if (r->ra_how == PROFD_UNW_RA_REG) {
		if (unw_reg(st, (__u16)r->ra_off, &ra))
			return unw_stop(st, PROFD_UNW_M_STOP_FRAME0);
	} else if (r->rbp_how == PROFD_UNW_RBP_AT_CFA && r->rbp_off == r->ra_off - 8) {
		/* rbp saved right below the return address (every function
		 * that pushes rbp first): one read for both */
		if (unw_read_words(st, &pair, 2, cfa + (__s64)r->rbp_off))
			return unw_stop(st, PROFD_UNW_M_STOP_READ);
		bp = pair.w[0];
		ra = pair.w[1];
		both = 1;
	} else if (unw_read1(st, &ra, cfa + (__s64)r->ra_off)) {
		return unw_stop(st, PROFD_UNW_M_STOP_READ);
	}

	st->flags = UNW_F_IS_RET | (st->flags & UNW_F_BP_VALID);
	switch (r->rbp_how) {
	case PROFD_UNW_RBP_SAME:
		break;
	case PROFD_UNW_RBP_AT_CFA:
		if (!both &&
		    unw_read1(st, &bp, cfa + (__s64)r->rbp_off))
			return unw_stop(st, PROFD_UNW_M_STOP_READ);
		st->flags |= UNW_F_BP_VALID;
		break;
	case PROFD_UNW_RBP_VAL_CFA:
		bp = cfa + (__s64)r->rbp_off;
		st->flags |= UNW_F_BP_VALID;
		break;
	case PROFD_UNW_RBP_AT_RBP:
		if (!(st->flags & UNW_F_BP_VALID) ||
		    unw_read1(st, &bp, st->bp + (__s64)r->rbp_off))
			return unw_stop(st, PROFD_UNW_M_STOP_READ);
		break;
	case PROFD_UNW_RBP_AT_RSP:
		if (unw_read1(st, &bp, st->sp + (__s64)r->rbp_off))
			return unw_stop(st, PROFD_UNW_M_STOP_READ);
		st->flags |= UNW_F_BP_VALID;
		break;
	default: /* PROFD_UNW_RBP_UNDEF */
		st->flags &= ~UNW_F_BP_VALID;
		break;
	}
	if (!ra)
		return unw_complete(st);
	st->pc = ra;
	st->sp = cfa;
	st->bp = bp;
	return 0;
}

/* unw_step() as a global function: the kernel's verifier checks a global
 * function once, on its own, with st any unw_state, instead of once per
 * path and state that reaches the call (every walk site of the program,
 * and the bpf_loop callback until its states converge). At run time it is
 * one BPF-to-BPF call per frame. Returns 1 when the walk is over. */
__noinline int unw_frame(struct unw_state *st)
{
	if (!st) /* verifier: a global function's pointer may be NULL */
		return 1;
	return unw_step(st) ? 1 : 0;
}

static long unw_step_cb(__u32 i, void *data)
{
	__u32 zero = 0;
	struct unw_state *st = bpf_map_lookup_elem(&unw_scratch, &zero);

	if (!st) /* verifier: never NULL */
		return 1;
	return unw_frame(st) ? 1 : 0;
}

/* Prepare the scratch state for a new walk of the current process. */
static __always_inline struct unw_state *unw_begin(void)
{
	__u32 zero = 0;
	struct unw_state *st;

	if (!unw_cfg.enabled)
		return NULL;
	st = bpf_map_lookup_elem(&unw_scratch, &zero);
	if (!st) /* verifier: never NULL */
		return NULL;
	st->pid = bpf_get_current_pid_tgid() >> 32;
	st->hash = 0xcbf29ce484222325ULL;
	st->flags = UNW_F_BP_VALID | UNW_F_REGS_EXACT;
	st->done = 0;
	st->have_map = 0;
	st->m_frames = 0;
	st->m_table_steps = 0;
	st->m_fp_steps = 0;
	st->sb_ok = 0;
	st->py_active = py_begin(st->pid);
	return st;
}

/* Clear frames[n + i]; stop at the first 0 (the previous walk's end). */
static long unw_clear_cb(__u32 i, void *data)
{
	__u32 zero = 0, idx;
	struct unw_state *st = bpf_map_lookup_elem(&unw_scratch, &zero);

	if (!st) /* verifier: never NULL */
		return 1;
	idx = st->n + i;
	if (idx >= PROFD_UNW_MAX_FRAMES || !st->frames[idx])
		return 1;
	st->frames[idx] = 0;
	return 0;
}

/* Run the walk, then clear what the previous walk left past the new end,
 * so that frames[n..] are 0 (each walk leaves that invariant behind).
 * Both loops are bpf_loop callbacks: the verifier checks each body once. */
static __always_inline struct unw_state *unw_run(struct unw_state *st)
{
	st->n = 0;
	unw_metric(PROFD_UNW_M_WALKS);
#ifdef UNW_X_NOWALK
	(void)unw_step_cb;
	st->frames[0] = st->pc; st->n = 1; st->hash = st->pc;
#else
	UNW_PART(2); /* walk set up: scratch, pid, Python check, registers */
	bpf_loop(PROFD_UNW_MAX_FRAMES + 1, unw_step_cb, NULL, 0);
#endif
	UNW_PART(3); /* the frame steps */
	bpf_loop(PROFD_UNW_MAX_FRAMES, unw_clear_cb, NULL, 0);
	UNW_PART(4); /* clearing the previous walk's tail */
#ifndef UNW_X_NOMETRIC
	unw_metric_add(PROFD_UNW_M_FRAMES, st->m_frames);
	unw_metric_add(PROFD_UNW_M_TABLE_STEPS, st->m_table_steps);
	if (st->m_fp_steps)
		unw_metric_add(PROFD_UNW_M_FP_STEPS, st->m_fp_steps);
#endif
	return st;
}

#define UNW_EEXIST 17 /* errno values (vmlinux.h has no macros) */
#define UNW_E2BIG 7
#define UNW_ENODATA 61

struct unw_frames {
	__u64 f[PROFD_UNW_MAX_FRAMES];
};

/* 1 when a stored stack (old) is not frames, up to old's first 0. A global
 * function: the verifier walks its loop once, not once per caller state. */
__noinline int unw_frames_differ(const struct unw_frames *old, const struct unw_frames *frames)
{
	if (!old || !frames) /* verifier: a global function's pointer may be NULL */
		return 1;
	for (__u32 i = 0; i < PROFD_UNW_MAX_FRAMES; i++) {
		if (old->f[i] != frames->f[i])
			return 1;
		if (!old->f[i])
			break;
	}
	return 0;
}

/* The hash of a whole zero-padded frame buffer (a kernel stack of
 * bpf_get_stack, a frame-pointer stack): every slot, no branch, so equal
 * stacks hash equal whatever their depth. A global function: the verifier
 * walks its loop once, not once per path of the calling program. */
__noinline __u64 unw_frames_hash(const struct unw_frames *f)
{
	__u64 h = 0xcbf29ce484222325ULL;

	if (!f) /* verifier: a global function's pointer may be NULL */
		return 0;
	for (__u32 i = 0; i < PROFD_UNW_MAX_FRAMES; i++)
		h = (h ^ f->f[i]) * 0x100000001b3ULL;
	return h ^ (h >> 29);
}

/* Store frames (n of them, zero after n up to PROFD_UNW_MAX_FRAMES) in a
 * HASH map (key __u32, value __u64[PROFD_UNW_MAX_FRAMES], preallocated)
 * under an id derived from their hash, so identical stacks share one entry,
 * like a stack map. Returns the id (>= 0), -UNW_EEXIST when the id holds
 * other frames (a collision: never overwritten), -UNW_E2BIG when the map is
 * full, -UNW_ENODATA for no frames. */
static __always_inline long unwind_store_frames(void *stacks, const __u64 *frames, __u32 n,
						__u64 hash)
{
	__u32 id = (__u32)(hash ^ (hash >> 32)) & 0x7fffffff;
	__u64 *old;

	if (!n)
		return -UNW_ENODATA;
	/* Most samples repeat a stack already stored: look it up first (no
	 * bucket lock, no update attempt); a new one is inserted, and an
	 * insert that loses a race with another CPU checks what won. */
	old = bpf_map_lookup_elem(stacks, &id);
	if (!old) {
		if (!bpf_map_update_elem(stacks, &id, frames, BPF_NOEXIST))
			return id;
		old = bpf_map_lookup_elem(stacks, &id);
		if (!old)
			return -UNW_E2BIG;
	}
	return unw_frames_differ((const struct unw_frames *)old, (const struct unw_frames *)frames)
		       ? -UNW_EEXIST
		       : id;
}

/* A walk's frames → unwind_store_frames(). */
static __always_inline long unwind_store(void *stacks, struct unw_state *st)
{
	return unwind_store_frames(stacks, st->frames, st->n, st->hash);
}

/* Fill regs[] (DWARF order) from a struct pt_regs pointer of any kind the
 * verifier lets us dereference (ctx, &ctx->regs). */
#define UNW_LOAD_REGS(st, r)                          \
	do {                                          \
		(st)->regs[0] = (r)->ax;              \
		(st)->regs[1] = (r)->dx;              \
		(st)->regs[2] = (r)->cx;              \
		(st)->regs[3] = (r)->bx;              \
		(st)->regs[4] = (r)->si;              \
		(st)->regs[5] = (r)->di;              \
		(st)->regs[6] = (r)->bp;              \
		(st)->regs[7] = (r)->sp;              \
		(st)->regs[8] = (r)->r8;              \
		(st)->regs[9] = (r)->r9;              \
		(st)->regs[10] = (r)->r10;            \
		(st)->regs[11] = (r)->r11;            \
		(st)->regs[12] = (r)->r12;            \
		(st)->regs[13] = (r)->r13;            \
		(st)->regs[14] = (r)->r14;            \
		(st)->regs[15] = (r)->r15;            \
		(st)->regs[16] = (r)->ip;             \
	} while (0)

/* x86-64 user code segment (__USER_CS); 32-bit compat tasks differ. */
#define UNW_USER_CS 0x33

/* Walk from user registers the program's context holds (perf_event sample
 * that interrupted user mode: &ctx->regs; uprobe: ctx). */
static __always_inline struct unw_state *unwind_user_regs(struct pt_regs *regs)
{
	struct unw_state *st;

	if (regs_cs(regs) != UNW_USER_CS) {
		unw_metric(PROFD_UNW_M_NO_REGS);
		return NULL;
	}
	st = unw_begin();
	if (!st)
		return NULL;
	UNW_LOAD_REGS(st, regs);
	st->pc = st->regs[PROFD_UNW_REG_RA];
	st->sp = st->regs[PROFD_UNW_REG_RSP];
	st->bp = st->regs[PROFD_UNW_REG_RBP];
	return unw_run(st);
}

/* Walk from the current task's user registers saved at kernel entry: for
 * samples that hit kernel mode and for programs without user regs. */
static __always_inline struct unw_state *unwind_user_task(void)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct unw_state *st;
	struct pt_regs *regs;
	__u64 *w;

	if (!unw_cfg.enabled)
		return NULL;
	if (!task->mm) /* kernel thread */
		return NULL;
	st = unw_begin();
	if (!st)
		return NULL;
	regs = (struct pt_regs *)bpf_task_pt_regs(task);
	w = st->tmp;
	if (bpf_probe_read_kernel(w, UNW_PT_REGS_WORDS * sizeof(__u64), regs)) {
		unw_metric(PROFD_UNW_M_NO_REGS);
		return NULL;
	}
	/* pt_regs words: r15 r14 r13 r12 bp bx r11 r10 r9 r8 ax cx dx si di
	 * orig_ax ip cs flags sp ss */
	if ((w[17] & 0xffff) != UNW_USER_CS) {
		unw_metric(PROFD_UNW_M_NO_REGS);
		return NULL;
	}
	st->regs[15] = w[0];
	st->regs[14] = w[1];
	st->regs[13] = w[2];
	st->regs[12] = w[3];
	st->regs[6] = w[4];
	st->regs[3] = w[5];
	st->regs[11] = w[6];
	st->regs[10] = w[7];
	st->regs[9] = w[8];
	st->regs[8] = w[9];
	st->regs[0] = w[10];
	st->regs[2] = w[11];
	st->regs[1] = w[12];
	st->regs[4] = w[13];
	st->regs[5] = w[14];
	st->regs[16] = w[16];
	st->regs[7] = w[19];
	/* The saved ip is exact: after a syscall it is the next instruction,
	 * whose CFI row describes the state the syscall returns to. */
	st->pc = w[16];
	st->sp = w[19];
	st->bp = w[4];
	return unw_run(st);
}

#endif
