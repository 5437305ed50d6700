// SPDX-License-Identifier: GPL-2.0
/* wait.bpf.c: mutex, block and threadcreate events of wanted processes,
 * each counted with its duration per (thread, user stack, kernel stack) in
 * kernel maps. One object runs one kind (the agent turns the other
 * programs' autoload off):
 *   mutex:        futex waits, raw_tp sys_enter → sys_exit
 *   block:        voluntary switch-out → switch-in, raw_tp sched_switch
 *   threadcreate: CLONE_THREAD clones, raw_tp task_newtask
 * Stacks are captured in the waiting thread's own context (the start of
 * the event), so its user memory is readable; the count is added at the
 * end. Each kind has two programs for its start event (the agent loads
 * one): the *_dwarf one walks user stacks with the shared .eh_frame walker
 * (unwind.bpf.h, needs bpf_loop: 5.17), the other with the gap walk that
 * include/profd/wait.h describes (frame pointers plus rules the agent
 * learns), for --unwind=fp and older kernels.
 *
 * Double buffering as in cpu.bpf.c: counts_N is chosen by `gen`. Stacks
 * are not generational: they live in LRU maps that the agent reads by hash
 * and never clears, so an event that started before a generation switch
 * still finds its stack. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>

#include "profd/abi.h"
#define UNW_PYTHON 1 /* Python frames in off-CPU waits (python.bpf.h) */
#include "unwind.bpf.h"

static __always_inline int read_user_u64(void *ctx, __u64 addr, __u64 *out);
#define PROFD_WAIT_READ(ctx, addr, out) read_user_u64(ctx, addr, out)
#define PROFD_WAIT_STEP_IMPL
#include "profd/wait.h"

char LICENSE[] SEC("license") = "GPL";

#define NR_FUTEX 202             /* x86_64 */
#define FUTEX_WAIT 0
#define FUTEX_LOCK_PI 6
#define FUTEX_WAIT_BITSET 9
#define FUTEX_WAIT_REQUEUE_PI 11
#define FUTEX_LOCK_PI2 13
#define FUTEX_CMD_MASK (~(128 | 256)) /* ~(FUTEX_PRIVATE_FLAG | FUTEX_CLOCK_REALTIME) */
#define EAGAIN 11
#define CLONE_THREAD 0x00010000
#define PF_EXITING 0x00000004
#define PF_KTHREAD 0x00200000
#define TASK_INTERRUPTIBLE 0x1
#define TASK_UNINTERRUPTIBLE 0x2
/* x86_64 without KASAN: task_pt_regs() = stack + THREAD_SIZE - sizeof(pt_regs). */
#define THREAD_SIZE 16384

/* Set during load time. */
const volatile struct profd_wait_config cfg = {};

/* Written by the agent through the mmap'ed .bss: generation being filled. */
__u32 gen = 0;

/* Wanted tgids when cfg.filter_pids; value unused. Written by the agent. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, __u8);
} pid_filter SEC(".maps");

/* Unwind rules per (process, PC), learned by the agent from .eh_frame and
 * written by it only; LRU so a long-running host never fills it. Gap walk
 * only (1 entry with the walker). */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, struct profd_wait_rule_key);
	__type(value, struct profd_wait_rule);
} rules SEC(".maps");

/* User and kernel stacks by hash. LRU: a stack in use is looked up at
 * every event, so only stacks unused for a long time are evicted; the
 * agent counts a stack gone before it was read. Sized at load time. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 8192);
	__type(key, __u64);
	__type(value, struct profd_wait_stack);
} ustacks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, __u64);
	__type(value, struct profd_wait_stack);
} kstacks SEC(".maps");

/* Stack windows of user stacks with a miss, first occurrence per hash;
 * they only exist until the agent has learned the rules (one drain). Gap
 * walk only (1 entry with the walker). */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 512);
	__type(key, __u64);
	__type(value, struct profd_wait_exemplar);
} exemplars SEC(".maps");

/* Events in progress by tid: a blocked thread or a futex wait. Preallocated
 * (sched_switch runs under the runqueue lock); a thread that exits while
 * recorded leaves its entry until the tid is reused or profiling stops. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 8192);
	__type(key, __u32);
	__type(value, struct profd_wait_start);
} starts SEC(".maps");

/* Counts per profd_wait_key, one map per generation; drained and cleared by
 * the agent every interval. */
#define COUNT_MAP(name)                                  \
	struct {                                         \
		__uint(type, BPF_MAP_TYPE_HASH);         \
		__uint(max_entries, 16384);              \
		__type(key, struct profd_wait_key);      \
		__type(value, struct profd_wait_value);  \
	} name SEC(".maps")
COUNT_MAP(counts_0);
COUNT_MAP(counts_1);

/* Per-CPU scratch: a stack and an exemplar are too big for the BPF stack. */
struct scratch {
	struct profd_wait_stack st;
	struct profd_wait_exemplar ex;
};
_Static_assert(sizeof(struct scratch) <= 32 << 10, "per-CPU value limit");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct scratch);
} scratch SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, PROFD_WAIT_METRIC_MAX);
	__type(key, __u32);
	__type(value, __u64);
} metrics SEC(".maps");

#include "common.bpf.h"

static __always_inline int read_user_u64(void *ctx, __u64 addr, __u64 *out)
{
	return bpf_probe_read_user(out, sizeof(*out), (const void *)addr) ? -1 : 0;
}

/* The user registers saved at kernel entry of the current task. */
static __always_inline struct pt_regs *current_user_regs(void)
{
	struct task_struct *t;

	if (cfg.task_pt_regs)
		return (struct pt_regs *)bpf_task_pt_regs(bpf_get_current_task_btf());
	t = (struct task_struct *)bpf_get_current_task();
	return (struct pt_regs *)((__u64)BPF_CORE_READ(t, stack) + THREAD_SIZE) - 1;
}

/* Address-space id: changes on exec (new mm) and pid reuse (start time). */
static __always_inline __u64 current_asid(struct task_struct *t)
{
	__u64 h = PROFD_WAIT_HASH_SEED;

	h = profd_wait_hash_add(h, (__u64)BPF_CORE_READ(t, mm));
	h = profd_wait_hash_add(h, BPF_CORE_READ(t, group_leader, start_time));
	return profd_wait_hash_final(h);
}

/* Copy the stack above w->sp in page-safe blocks. */
static __always_inline void take_exemplar(struct profd_wait_exemplar *ex,
					  const struct profd_wait_regs *w)
{
	__u64 base = w->sp & ~(__u64)(PROFD_WAIT_WINDOW_BLOCK - 1);
	__u32 len = 0;

	ex->regs = *w;
	ex->base = base;
	for (__u32 b = 0; b < PROFD_WAIT_WINDOW / PROFD_WAIT_WINDOW_BLOCK; b++) {
		if (bpf_probe_read_user(ex->bytes + b * PROFD_WAIT_WINDOW_BLOCK,
					PROFD_WAIT_WINDOW_BLOCK,
					(const void *)(base + b * PROFD_WAIT_WINDOW_BLOCK)))
			break;
		len += PROFD_WAIT_WINDOW_BLOCK;
	}
	ex->len = len;
}

/* Unwind the current task's user stack from regs, store it in `ustacks`
 * and return its hash (0: no stack, counted). */
static __always_inline __u64 capture_ustack(struct pt_regs *regs, __u32 tgid)
{
	struct profd_wait_rule_key rk = {};
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct profd_wait_regs w = {}, miss = {};
	const struct profd_wait_rule *r;
	struct profd_wait_stack *st;
	struct scratch *s;
	__u32 zero = 0, n = 1, i;
	long err;
	__u64 h;

	s = bpf_map_lookup_elem(&scratch, &zero);
	if (!s) /* verifier: never NULL */
		return 0;
	st = &s->st;
	if (!BPF_CORE_READ(task, mm) || bpf_probe_read_kernel(&w.pc, sizeof(w.pc), &regs->ip) ||
	    bpf_probe_read_kernel(&w.sp, sizeof(w.sp), &regs->sp) ||
	    bpf_probe_read_kernel(&w.bp, sizeof(w.bp), &regs->bp) || !w.pc) {
		metric_inc(PROFD_WAIT_METRIC_USTACK_LOST);
		return 0;
	}
	w.leaf = 1;
	st->tgid = tgid;
	st->asid = current_asid(task);
	st->miss_at = PROFD_WAIT_NO_MISS;
	st->flags = 0;
	st->ips[0] = w.pc;
	/* The hash is built as frames are added: a second loop over the
	 * frames would multiply the verifier's states. */
	h = profd_wait_hash_add(PROFD_WAIT_HASH_SEED, tgid);
	h = profd_wait_hash_add(h, st->asid);
	h = profd_wait_hash_add(h, w.pc);
	rk.tgid = tgid;
	rk.asid = st->asid;

	/* Gap: frames without frame pointers, with learned rules. */
	for (i = 0; i < PROFD_WAIT_MAX_GAP; i++) {
		rk.pc = w.pc;
		rk.leaf = w.leaf;
		r = bpf_map_lookup_elem(&rules, &rk);
		if (!r) {
			st->miss_at = n - 1;
			st->flags |= PROFD_WAIT_STACK_MISS;
			miss = w;
			metric_inc(PROFD_WAIT_METRIC_RULE_MISS);
			break;
		}
		if (r->cmd == PROFD_WAIT_RULE_FP)
			break;
		if (r->cmd == PROFD_WAIT_RULE_STOP) {
			st->flags |= PROFD_WAIT_STACK_ROOT;
			goto done;
		}
		if (r->cmd != PROFD_WAIT_RULE_STEP || profd_wait_step(r, &w, NULL) ||
		    n >= PROFD_MAX_STACK_DEPTH) {
			st->flags |= PROFD_WAIT_STACK_BAD_RULE;
			metric_inc(PROFD_WAIT_METRIC_BAD_RULE);
			goto done;
		}
		st->ips[n++] = w.pc;
		h = profd_wait_hash_add(h, w.pc);
	}
	if (i == PROFD_WAIT_MAX_GAP)
		st->flags |= PROFD_WAIT_STACK_LONG_GAP;

	/* Frame pointers from the rbp the gap walk recovered; each frame must
	 * lie above the last, so a garbage rbp ends the walk instead of
	 * looping. */
	for (i = 0; i < PROFD_MAX_STACK_DEPTH; i++) {
		__u64 fr[2];

		if (n >= PROFD_MAX_STACK_DEPTH || !w.bp || (w.bp & 7) || w.bp < w.sp)
			break;
		if (bpf_probe_read_user(fr, sizeof(fr), (const void *)w.bp) || !fr[1])
			break;
		st->ips[n++] = fr[1];
		h = profd_wait_hash_add(h, fr[1]);
		w.sp = w.bp + 16;
		w.bp = fr[0];
	}
done:
	st->nframes = n;
	h = profd_wait_hash_final(profd_wait_hash_add(h, (__u64)st->miss_at << 32 | st->flags));
	if (!bpf_map_lookup_elem(&ustacks, &h)) {
		err = bpf_map_update_elem(&ustacks, &h, st, BPF_NOEXIST);
		if (err && err != -EEXIST)
			metric_inc(PROFD_WAIT_METRIC_STACKS_FULL);
	}
	if ((st->flags & PROFD_WAIT_STACK_MISS) && !bpf_map_lookup_elem(&exemplars, &h)) {
		s->ex.asid = st->asid;
		s->ex.tgid = tgid;
		take_exemplar(&s->ex, &miss);
		bpf_map_update_elem(&exemplars, &h, &s->ex, BPF_NOEXIST);
	}
	return h;
}

/* The current task's user stack by the .eh_frame walker, from the user
 * registers saved at its kernel entry (the syscall, or the fault or
 * interrupt it sleeps in), stored in `ustacks` like a gap-walk stack;
 * returns its hash (0: no stack, counted). The frames are copied only for
 * a stack not seen yet: a stack in use is found by its hash. */
static __always_inline __u64 capture_ustack_walker(__u32 tgid)
{
	struct profd_wait_stack *ws;
	struct unw_state *st;
	struct scratch *s;
	__u32 zero = 0;
	long err;
	__u64 h;

	st = unwind_user_task();
	if (!st || !st->n) {
		metric_inc(PROFD_WAIT_METRIC_USTACK_LOST);
		return 0;
	}
	/* st->hash covers the frames (unwind.bpf.h); the walker has no miss
	 * state, so (tgid, depth, frames) is the whole identity. */
	h = profd_wait_hash_add(PROFD_WAIT_HASH_SEED, tgid);
	h = profd_wait_hash_add(h, st->n);
	h = profd_wait_hash_final(profd_wait_hash_add(h, st->hash));
	if (bpf_map_lookup_elem(&ustacks, &h))
		return h;
	s = bpf_map_lookup_elem(&scratch, &zero);
	if (!s) /* verifier: never NULL */
		return 0;
	ws = &s->st;
	ws->asid = 0;
	ws->tgid = tgid;
	ws->nframes = st->n;
	ws->miss_at = PROFD_WAIT_NO_MISS;
	ws->flags = PROFD_WAIT_STACK_WALKER;
	ws->pad = 0;
	/* frames[n..] are 0 (unwind_user_task()'s invariant). */
	__builtin_memcpy(ws->ips, st->frames, sizeof(ws->ips));
	err = bpf_map_update_elem(&ustacks, &h, ws, BPF_NOEXIST);
	if (err && err != -EEXIST)
		metric_inc(PROFD_WAIT_METRIC_STACKS_FULL);
	return h;
}
_Static_assert(PROFD_UNW_MAX_FRAMES == PROFD_MAX_STACK_DEPTH, "walker fills a whole stack");

/* The kernel stack at the tracepoint, stored in `kstacks`; 0 on failure. */
static __always_inline __u64 capture_kstack(void *ctx)
{
	struct profd_wait_stack *st;
	struct scratch *s;
	__u32 zero = 0;
	long sz;
	__u64 h;

	s = bpf_map_lookup_elem(&scratch, &zero);
	if (!s) /* verifier: never NULL */
		return 0;
	st = &s->st;
	sz = bpf_get_stack(ctx, st->ips, sizeof(st->ips), 0);
	if (sz <= 0) {
		metric_inc(PROFD_WAIT_METRIC_KSTACK_LOST);
		return 0;
	}
	st->asid = 0;
	st->tgid = 0;
	st->nframes = sz / sizeof(__u64);
	st->miss_at = PROFD_WAIT_NO_MISS;
	st->flags = 0;
	/* bpf_get_stack() zeroes the rest of the buffer: hash every slot,
	 * with no branch on the length. */
	h = PROFD_WAIT_HASH_SEED;
	for (__u32 i = 0; i < PROFD_MAX_STACK_DEPTH; i++)
		h = profd_wait_hash_add(h, st->ips[i]);
	h = profd_wait_hash_final(h);
	if (!bpf_map_lookup_elem(&kstacks, &h))
		bpf_map_update_elem(&kstacks, &h, st, BPF_NOEXIST);
	return h;
}

static __always_inline void count(void *counts, const struct profd_wait_key *key, __u64 delay)
{
	struct profd_wait_value init = { 1, delay }, *v;

	v = bpf_map_lookup_elem(counts, key);
	if (!v) {
		/* BPF_NOEXIST: a racing CPU may have created it; then add to it. */
		if (!bpf_map_update_elem(counts, key, &init, BPF_NOEXIST))
			goto counted;
		v = bpf_map_lookup_elem(counts, key);
		if (!v) {
			metric_inc(PROFD_WAIT_METRIC_COUNTS_FULL);
			return;
		}
	}
	__sync_fetch_and_add(&v->count, 1);
	__sync_fetch_and_add(&v->delay_ns, delay);
counted:
	metric_inc(PROFD_WAIT_METRIC_EVENTS);
}

static __always_inline void commit(__u32 tid, const struct profd_wait_start *s, __u64 delay)
{
	struct profd_wait_key key = {
		.pid = s->tgid,
		.tid = tid,
		.ustack = s->ustack,
		.kstack = s->kstack,
		.flags = s->flags,
	};

	__builtin_memcpy(key.comm, s->comm, sizeof(key.comm));
	__builtin_memcpy(key.pcomm, s->pcomm, sizeof(key.pcomm));
	if (gen & 1)
		count(&counts_1, &key, delay);
	else
		count(&counts_0, &key, delay);
}

/* Fill the identity part of an event of the current task. */
static __always_inline void start_init(struct profd_wait_start *s, __u32 tgid, __u64 now)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();

	s->ts = now;
	s->tgid = tgid;
	bpf_get_current_comm(s->comm, sizeof(s->comm));
	BPF_CORE_READ_STR_INTO(&s->pcomm, task, group_leader, comm);
}

static __always_inline bool wanted(__u32 tgid)
{
	return !cfg.filter_pids || bpf_map_lookup_elem(&pid_filter, &tgid);
}

/* A futex wait of a CPython process on its GIL (include/profd/python.h):
 * PROFD_WAIT_EV_GIL to take it (a condition variable wait the agent counts
 * as a lock wait), PROFD_WAIT_EV_GIL_SWITCH in its handoff, else 0. */
static __always_inline __u32 gil_wait(__u32 tgid, __u64 uaddr)
{
	struct profd_py_proc *c = bpf_map_lookup_elem(&py_procs, &tgid);
	__u64 off;

	if (!c || !c->gil_cond)
		return 0;
	off = uaddr - c->gil_cond;
	if (off < PROFD_PY_GIL_TAKE_SIZE)
		return PROFD_WAIT_EV_GIL;
	if (off < PROFD_PY_GIL_TAKE_SIZE + PROFD_PY_GIL_SWITCH_SIZE)
		return PROFD_WAIT_EV_GIL_SWITCH;
	return 0;
}

/* mutex: a futex wait starts. Only waiting operations; the agent tells
 * lock waits from other futex waits by the unwound stack. dwarf: a
 * constant of each program, so the other walk is compiled out of it. */
static __always_inline int futex_enter(struct bpf_raw_tracepoint_args *ctx, bool dwarf)
{
	struct pt_regs *regs = (struct pt_regs *)ctx->args[0];
	struct profd_wait_start s = {};
	__u64 id, op, val;
	__u32 tid;

	if (ctx->args[1] != NR_FUTEX)
		return 0;
	id = bpf_get_current_pid_tgid();
	if (!wanted(id >> 32))
		return 0;
	op = BPF_CORE_READ(regs, si) & FUTEX_CMD_MASK;
	val = BPF_CORE_READ(regs, dx);
	switch (op) {
	case FUTEX_WAIT:
	case FUTEX_WAIT_BITSET:
		if ((__u32)val == 2)
			s.flags = PROFD_WAIT_EV_FUTEX_VAL2;
		s.flags |= gil_wait(id >> 32, BPF_CORE_READ(regs, di));
		break;
	case FUTEX_LOCK_PI:
	case FUTEX_LOCK_PI2:
		s.flags = PROFD_WAIT_EV_FUTEX_PI;
		break;
	case FUTEX_WAIT_REQUEUE_PI:
		s.flags = PROFD_WAIT_EV_FUTEX_REQUEUE_PI;
		break;
	default:
		return 0;
	}
	start_init(&s, id >> 32, bpf_ktime_get_ns());
	if (dwarf)
		s.ustack = capture_ustack_walker(id >> 32);
	else
		s.ustack = capture_ustack(regs, id >> 32);
	tid = (__u32)id;
	if (bpf_map_update_elem(&starts, &tid, &s, BPF_ANY))
		metric_inc(PROFD_WAIT_METRIC_STARTS_FULL);
	/* The start time is the syscall's entry, before the capture work. */
	return 0;
}

SEC("raw_tp/sys_enter")
int sys_enter(struct bpf_raw_tracepoint_args *ctx)
{
	return futex_enter(ctx, false);
}

SEC("raw_tp/sys_enter")
int sys_enter_dwarf(struct bpf_raw_tracepoint_args *ctx)
{
	return futex_enter(ctx, true);
}

/* mutex: the futex wait ends; EAGAIN means the lock word had already
 * changed and the thread never slept. Common to both walks. */
SEC("raw_tp/sys_exit")
int sys_exit(struct bpf_raw_tracepoint_args *ctx)
{
	struct pt_regs *regs = (struct pt_regs *)ctx->args[0];
	struct profd_wait_start *s;
	__u64 now, nr;
	__u32 tid;

	/* This runs after every syscall of the host: read the syscall number
	 * with a plain load through the trusted pointer bpf_task_pt_regs()
	 * returns (it is the same pt_regs), cheaper than a probe_read call. */
	if (cfg.task_pt_regs)
		nr = ((struct pt_regs *)bpf_task_pt_regs(bpf_get_current_task_btf()))->orig_ax;
	else
		nr = BPF_CORE_READ(regs, orig_ax);
	if (nr != NR_FUTEX)
		return 0;
	now = bpf_ktime_get_ns();
	tid = (__u32)bpf_get_current_pid_tgid();
	s = bpf_map_lookup_elem(&starts, &tid);
	if (!s)
		return 0;
	if ((long)ctx->args[1] == -EAGAIN)
		metric_inc(PROFD_WAIT_METRIC_NOT_WAITED);
	else
		commit(tid, s, now - s->ts);
	bpf_map_delete_elem(&starts, &tid);
	return 0;
}

/* block: count next's interval if it was recorded, then record prev if it
 * blocks (sleeps in TASK_INTERRUPTIBLE or TASK_UNINTERRUPTIBLE; preempted
 * tasks are runnable, not blocked). prev is the current task: the walker
 * starts from its saved user registers. */
static __always_inline int switch_event(struct bpf_raw_tracepoint_args *ctx, bool dwarf)
{
	struct task_struct *prev = (struct task_struct *)ctx->args[1];
	struct task_struct *next = (struct task_struct *)ctx->args[2];
	struct profd_wait_start s = {}, *ns;
	__u64 now = bpf_ktime_get_ns(), id;
	struct pt_regs *regs;
	__u32 tid;

	tid = BPF_CORE_READ(next, pid);
	ns = bpf_map_lookup_elem(&starts, &tid);
	if (ns) {
		if (now - ns->ts >= cfg.min_block_ns)
			commit(tid, ns, now - ns->ts);
		else
			metric_inc(PROFD_WAIT_METRIC_SHORT);
		bpf_map_delete_elem(&starts, &tid);
	}

	id = bpf_get_current_pid_tgid();
	tid = (__u32)id;
	if (!tid || !wanted(id >> 32))
		return 0;
	if (!(task_state(prev) & (TASK_INTERRUPTIBLE | TASK_UNINTERRUPTIBLE)))
		return 0;
	if (BPF_CORE_READ(prev, flags) & (PF_KTHREAD | PF_EXITING))
		return 0;
	start_init(&s, id >> 32, now);
	regs = current_user_regs();
	/* Blocked in a futex wait on a CPython GIL: told apart as in mutex. */
	if (BPF_CORE_READ(regs, orig_ax) == NR_FUTEX)
		s.flags = gil_wait(id >> 32, BPF_CORE_READ(regs, di));
	if (dwarf)
		s.ustack = capture_ustack_walker(id >> 32);
	else
		s.ustack = capture_ustack(regs, id >> 32);
	s.kstack = capture_kstack(ctx);
	if (bpf_map_update_elem(&starts, &tid, &s, BPF_ANY))
		metric_inc(PROFD_WAIT_METRIC_STARTS_FULL);
	return 0;
}

SEC("raw_tp/sched_switch")
int sched_switch(struct bpf_raw_tracepoint_args *ctx)
{
	return switch_event(ctx, false);
}

SEC("raw_tp/sched_switch")
int sched_switch_dwarf(struct bpf_raw_tracepoint_args *ctx)
{
	return switch_event(ctx, true);
}

/* threadcreate: the current task clones a thread of its process. */
static __always_inline int newtask_event(struct bpf_raw_tracepoint_args *ctx, bool dwarf)
{
	struct profd_wait_start s = {};
	__u64 id = bpf_get_current_pid_tgid();

	if (!(ctx->args[1] & CLONE_THREAD) || !wanted(id >> 32))
		return 0;
	start_init(&s, id >> 32, 0);
	if (dwarf)
		s.ustack = capture_ustack_walker(id >> 32);
	else
		s.ustack = capture_ustack(current_user_regs(), id >> 32);
	commit((__u32)id, &s, 0);
	return 0;
}

SEC("raw_tp/task_newtask")
int task_newtask(struct bpf_raw_tracepoint_args *ctx)
{
	return newtask_event(ctx, false);
}

SEC("raw_tp/task_newtask")
int task_newtask_dwarf(struct bpf_raw_tracepoint_args *ctx)
{
	return newtask_event(ctx, true);
}
