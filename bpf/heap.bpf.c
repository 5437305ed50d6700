// SPDX-License-Identifier: GPL-2.0
/* heap.bpf.c: sampled allocation profiling through uprobes on the
 * allocator a process uses (malloc family; operator new through malloc;
 * in CPython processes also pymalloc, the interpreter's allocator).
 *
 * Hot path, every call: one per-CPU counter update (Poisson sampling by
 * bytes, like tcmalloc and Go). A sampled call also takes its stack, and its
 * return probe records the block in `live`; every free does one hash lookup.
 * All counters are cumulative since attach; the agent reads snapshots.
 *
 * The stack of a sampled call starts at the allocator's caller and holds
 * return addresses only. With the .eh_frame walker (unwind.bpf.h) it is
 * walked from the probe's registers by heap_walk, which every entry program
 * tail-calls; without it (--unwind=fp, kernels before 5.17) it is the caller
 * read at the stack pointer, then the kernel's frame-pointer walk. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

#include "profd/abi.h"
#define UNW_PYTHON 1 /* Python frames in allocation samples (python.bpf.h) */
#include "unwind.bpf.h"

char LICENSE[] SEC("license") = "GPL";

/* Set during load time: the rate and its table of exponential intervals. */
const volatile struct profd_heap_config cfg = {};

/* Bytes until the next sample, per CPU. A Poisson process split across
 * CPUs (and the threads running on them) is still Poisson: memoryless. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __s64);
} countdown SEC(".maps");

/* A sampled call between its entry and its return, by thread id. It also
 * hands the call from its entry program to heap_walk (a tail call keeps
 * only the context): the entry writes it, heap_walk completes its key. */
struct pending {
	__u64 size;
	__u64 memptr;   /* posix_memalign: where the block's address is stored */
	__u64 raw;      /* the return address at the allocator's stack pointer */
	__u64 sp;       /* the stack pointer at entry: its return has sp + 8 */
	__u64 caller;   /* the allocator's caller, past forwarders (0: unreadable) */
	__u32 levels;   /* forwarder frames between the two (operator new) */
	__u32 pad;
	struct profd_heap_key key;
};
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, struct pending);
} pending SEC(".maps");

/* Live sampled blocks: (pid, address) → size and key. max_entries is set
 * at load time; a full map is counted (PROFD_HEAP_LIVE_FULL). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, struct profd_heap_live_key);
	__type(value, struct profd_heap_live);
} live SEC(".maps");

/* Cumulative counts per key, read (not cleared) by the agent. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, struct profd_heap_key);
	__type(value, struct profd_heap_counts);
} heap_counts SEC(".maps");

/* Stacks by 64-bit hash of their frames. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, struct profd_heap_stack);
} heap_stacks SEC(".maps");

/* Per-process allocator forwarders (operator new → malloc), by tgid.
 * Written by the agent when it attaches. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, struct profd_heap_proc);
} heap_procs SEC(".maps");

/* heap_walk at index 0 when the walker is on; written by the agent after
 * load. Empty otherwise: the tail call then falls through. */
struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} walker_prog SEC(".maps");

/* Walks whose frames disagreed with find_caller, so that the call took the
 * frame-pointer stack (read by the agent for its summary). */
__u64 walk_mismatch = 0;

_Static_assert(PROFD_UNW_MAX_FRAMES == PROFD_MAX_STACK_DEPTH, "a walk fills a whole stack");
_Static_assert(!((PROFD_UNW_MAX_FRAMES + 1) & PROFD_UNW_MAX_FRAMES), "frame index mask");

/* Scratch for building a stack: too big for the 512-byte BPF stack. ips
 * has two slots more than bpf_get_stack fills, never written (zero): a
 * whole stack's copy from ips[skip] (skip <= 2) reads zeros past it. */
struct scratch {
	__u64 ips[PROFD_MAX_STACK_DEPTH + 2];
	struct profd_heap_stack st;
};
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct scratch);
} scratch SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, PROFD_HEAP_METRIC_MAX);
	__type(key, __u32);
	__type(value, __u64);
} metrics SEC(".maps");

#include "common.bpf.h"

/* GLOBAL_FN: a __noinline non-static function is a global function to the
 * kernel's verifier, checked once on its own (its pointer arguments may be
 * NULL) instead of once per path and state of every caller: find_caller's,
 * fp_key's and walked_key's loops cost most of heap's verification. */

/* Go's rule: sample when the call reaches the countdown, then draw the
 * next interval. Every call when the rate is <= 1. */
static __always_inline bool should_sample(__u64 size)
{
	__u32 zero = 0;
	__s64 *cd;

	metric_inc(PROFD_HEAP_CALLS);
	if (cfg.sample_rate <= 1)
		return true;
	cd = bpf_map_lookup_elem(&countdown, &zero);
	if (!cd) /* verifier: never NULL */
		return false;
	if (*cd > (__s64)size) {
		*cd -= size;
		return false;
	}
	*cd = cfg.exp_table[bpf_get_prandom_u32() & (PROFD_HEAP_EXP_TABLE - 1)];
	return true;
}

/* The uretprobe trampoline of the current process (0: none yet): a return
 * address a return probe has replaced. */
static __always_inline __u64 uretprobe_trampoline(void)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct xol_area *area;

	if (!bpf_core_field_exists(struct xol_area, vaddr))
		return 0;
	area = BPF_CORE_READ(task, mm, uprobes_state.xol_area);
	return area ? BPF_CORE_READ(area, vaddr) : 0;
}

/* Who called the allocator: the return address at *(rsp) (probes sit where
 * rsp is as at entry), followed through forwarders (operator new → malloc),
 * *levels of them. Returns 0 and the caller, or 1 for the allocator's
 * internal calls: those returning into its ranges (struct
 * profd_heap_range), and those it tail-jumped to. A tail-jumped call
 * returns where the probed function would, and that return address is the
 * uretprobe trampoline: _PyObject_Realloc jumps to realloc (a block malloc
 * served) and to _PyObject_Malloc (realloc(NULL, n)), glibc's realloc(NULL,
 * n) to malloc. (A return probe of another tool on a function that
 * tail-jumps to malloc hides that call too.) */
__noinline int find_caller(struct pt_regs *ctx, __u32 pid, __u64 *raw, __u64 *caller, __u32 *levels)
{
	__u64 loc, ra = 0;
	struct profd_heap_proc *proc;

	if (!ctx || !raw || !caller || !levels) /* verifier: global function (GLOBAL_FN) */
		return 1;
	loc = PT_REGS_SP(ctx);
	if (bpf_probe_read_user(&ra, sizeof(ra), (void *)loc))
		ra = 0;
	*raw = ra;
	*caller = ra;
	*levels = 0;
	if (ra && ra == uretprobe_trampoline())
		return 1;
	proc = bpf_map_lookup_elem(&heap_procs, &pid);
	if (!proc)
		return 0;
	/* Two levels cover operator new[] → operator new → malloc. */
	for (int level = 0; level < 2; level++) {
		int hit = -1;

		for (int i = 0; i < PROFD_HEAP_MAX_RANGES; i++) {
			if (i >= proc->nranges)
				break;
			if (ra >= proc->r[i].start && ra < proc->r[i].end) {
				hit = i;
				break;
			}
		}
		if (hit < 0 || hit >= PROFD_HEAP_MAX_RANGES)
			break;
		if (proc->r[hit].ra_offset < 0)
			return 1;
		loc += proc->r[hit].ra_offset;
		if (bpf_probe_read_user(&ra, sizeof(ra), (void *)loc))
			ra = 0;
		*caller = ra;
		*levels = level + 1;
	}
	return 0;
}

/* Intern s->st in heap_stacks under hash (equal stacks share an entry). */
static __always_inline int intern_stack(struct scratch *s, __u64 hash, struct profd_heap_key *key)
{
	key->stack_hash = hash;
	if (bpf_map_update_elem(&heap_stacks, &hash, &s->st, BPF_NOEXIST) &&
	    !bpf_map_lookup_elem(&heap_stacks, &hash)) {
		metric_inc(PROFD_HEAP_STACKS_FULL);
		return -1;
	}
	return 0;
}

/* The stack of the allocation by frame pointers: the caller first, then
 * the kernel's frame-pointer walk above it. No loop: one copy of the whole
 * buffer (bpf_get_stack zeroes past the stack, so the frames past n are 0)
 * and the branch-free hash of all its slots. A per-frame loop cost the
 * verifier a walk of each of its 127 steps in each program (half of heap's
 * verified instructions). */
__noinline int fp_key(struct pt_regs *ctx, __u64 raw, __u64 caller, struct profd_heap_key *key)
{
	__u32 zero = 0, skip = 1, n = 0;
	struct scratch *s;
	long got;

	if (!ctx || !key) /* verifier: global function (GLOBAL_FN) */
		return -1;
	s = bpf_map_lookup_elem(&scratch, &zero);
	if (!s) /* verifier: never NULL */
		return -1;
	/* Zeroes the buffer past the stack, and all of it on failure. */
	got = bpf_get_stack(ctx, s->ips, PROFD_MAX_STACK_DEPTH * sizeof(__u64), BPF_F_USER_STACK);
	if (got < 0) {
		metric_inc(PROFD_HEAP_STACK_LOST);
		got = 0;
	}
	got /= sizeof(__u64);
	/* ips[0] is the probe address in the allocator. Kernels that add the
	 * return address at a probe on a prologue (6.11+) put it at ips[1]. */
	if (got > 1 && s->ips[1] == raw)
		skip = 2;
	if (got > skip)
		n = got - skip;
	/* ips[skip .. skip + 127) are in the buffer (two zero slots past it) */
	if (caller) {
		s->st.frames[0] = caller;
		bpf_probe_read_kernel(&s->st.frames[1], (PROFD_MAX_STACK_DEPTH - 1) * sizeof(__u64),
				      &s->ips[skip]);
		n++;
	} else {
		bpf_probe_read_kernel(s->st.frames, PROFD_MAX_STACK_DEPTH * sizeof(__u64), &s->ips[skip]);
	}
	s->st.nframes = n;
	return intern_stack(s, unw_frames_hash((const struct unw_frames *)s->st.frames), key);
}

/* The stack of the allocation by the .eh_frame walk from the probe: the
 * walk's frames[0] is the probe's PC in the allocator, frames[1] the return
 * address into its caller, and with levels forwarders (operator new[] →
 * operator new → malloc) the caller of the outermost one is frames[1 +
 * levels]. The stack is that frame and the rest: return addresses, the
 * caller first, the same start as the frame-pointer stack. Returns 0, -1
 * when the stack map is full, or 1 when the walk does not reach
 * find_caller's caller there (a library the walker has no table for yet,
 * so frame 0 took a frame-pointer step that skips its caller): the
 * frame-pointer stack is then the better guess. */
__noinline int walked_key(const struct unw_state *st, const struct pending *p,
			  struct profd_heap_key *key)
{
	__u32 zero = 0, n, skip, k = 0;
	struct scratch *s;

	if (!st || !p || !key) /* verifier: global function (GLOBAL_FN) */
		return -1;
	/* levels <= 2 (find_caller); the mask is for the verifier */
	n = st->n;
	skip = (p->levels & 3) + 1;
	if (!p->caller || st->frames[skip] != p->caller)
		return 1;
	s = bpf_map_lookup_elem(&scratch, &zero);
	if (!s) /* verifier: never NULL */
		return -1;
	/* frames[skip .. n) and what follows up to the end of frames[]
	 * (zeros: the walk leaves frames[n..] 0), in one copy without a
	 * per-frame loop for the verifier to walk */
	bpf_probe_read_kernel(s->st.frames, (PROFD_UNW_MAX_FRAMES + 1 - skip) * sizeof(__u64),
			      &st->frames[skip]);
	if (n > skip)
		k = n - skip;
	s->st.nframes = k;
	/* The walk's hash covers these frames (and the dropped ones, which
	 * only split equal stacks of different allocator functions). */
	return intern_stack(s, st->hash, key);
}

static __always_inline void read_comm(struct profd_heap_key *key)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();

	BPF_CORE_READ_STR_INTO(&key->comm, task, group_leader, comm);
}

/* 1 when the call was sampled (its return must complete it), else 0. */
static __always_inline int on_alloc_entry(struct pt_regs *ctx, __u64 size, __u64 memptr,
					  __u32 flags)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct pending p = { .size = size, .memptr = memptr, .sp = PT_REGS_SP(ctx) };
	__u32 tid = (__u32)id;

	p.key.pid = id >> 32;
	p.key.flags = flags;
	if (find_caller(ctx, p.key.pid, &p.raw, &p.caller, &p.levels)) {
		metric_inc(PROFD_HEAP_INTERNAL);
		return 0;
	}
	if (!should_sample(size))
		return 0;
	metric_inc(PROFD_HEAP_SAMPLED);
	if (unw_cfg.enabled) {
		/* heap_walk finds the call in pending and completes its key
		 * (its return value, 0, becomes the entry program's). */
		if (bpf_map_update_elem(&pending, &tid, &p, BPF_ANY)) {
			metric_inc(PROFD_HEAP_PENDING_LOST);
			return 0;
		}
		bpf_tail_call(ctx, &walker_prog, 0);
		/* Reached only while walker_prog is empty: frame pointers. */
	}
	read_comm(&p.key);
	if (fp_key(ctx, p.raw, p.caller, &p.key)) {
		if (unw_cfg.enabled)
			bpf_map_delete_elem(&pending, &tid);
		return 0;
	}
	if (bpf_map_update_elem(&pending, &tid, &p, BPF_ANY)) {
		metric_inc(PROFD_HEAP_PENDING_LOST);
		return 0;
	}
	return 1;
}

static __always_inline void on_free(__u64 addr)
{
	struct profd_heap_live_key lk = { .pid = bpf_get_current_pid_tgid() >> 32, .addr = addr };
	struct profd_heap_counts *c;
	struct profd_heap_live *l;

	if (!addr)
		return;
	l = bpf_map_lookup_elem(&live, &lk);
	if (!l)
		return;
	c = bpf_map_lookup_elem(&heap_counts, &l->key);
	if (c) {
		__sync_fetch_and_add(&c->free_count, 1);
		__sync_fetch_and_add(&c->free_bytes, l->size);
	}
	metric_inc(PROFD_HEAP_FREES_MATCHED);
	bpf_map_delete_elem(&live, &lk);
}

/* Return of any allocation function: completes a sampled call. */
static __always_inline void on_alloc_exit(struct pt_regs *ctx, __u64 ret)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct profd_heap_live_key lk = { .pid = bpf_get_current_pid_tgid() >> 32 };
	struct profd_heap_counts *c, zero = {};
	struct profd_heap_live l = {};
	struct pending *p;

	metric_inc(PROFD_HEAP_RETURNS);
	p = bpf_map_lookup_elem(&pending, &tid);
	if (!p)
		return;
	/* Another call's return: one the sampled call made (new_arena's
	 * realloc inside pymalloc), or a pending left by a lost return. */
	if (PT_REGS_SP(ctx) != p->sp + 8) {
		if (PT_REGS_SP(ctx) > p->sp + 8) {
			metric_inc(PROFD_HEAP_PENDING_LOST);
			bpf_map_delete_elem(&pending, &tid);
		}
		return;
	}
	lk.addr = ret == (__u64)-1 ? 0 : ret; /* mmap's MAP_FAILED */
	if (p->memptr) {
		lk.addr = 0;
		if (ret == 0 && bpf_probe_read_user(&lk.addr, sizeof(lk.addr), (void *)p->memptr))
			lk.addr = 0;
	}
	if (!lk.addr) {
		metric_inc(PROFD_HEAP_FAILED_ALLOCS);
		bpf_map_delete_elem(&pending, &tid);
		return;
	}
	c = bpf_map_lookup_elem(&heap_counts, &p->key);
	if (!c) {
		bpf_map_update_elem(&heap_counts, &p->key, &zero, BPF_NOEXIST);
		c = bpf_map_lookup_elem(&heap_counts, &p->key);
	}
	if (!c) {
		metric_inc(PROFD_HEAP_COUNTS_FULL);
		bpf_map_delete_elem(&pending, &tid);
		return;
	}
	__sync_fetch_and_add(&c->alloc_count, 1);
	__sync_fetch_and_add(&c->alloc_bytes, p->size);
	l.size = p->size;
	l.key = p->key;
	/* A block still live at this address was freed unseen (frees a probe
	 * cannot see: Debian's python3.11 inlines pymalloc's free). */
	if (bpf_map_lookup_elem(&live, &lk)) {
		on_free(lk.addr);
		metric_inc(PROFD_HEAP_FREES_UNSEEN);
	}
	if (bpf_map_update_elem(&live, &lk, &l, BPF_ANY))
		metric_inc(PROFD_HEAP_LIVE_FULL);
	bpf_map_delete_elem(&pending, &tid);
}

SEC("uretprobe")
int BPF_KRETPROBE(alloc_exit, __u64 ret)
{
	on_alloc_exit(ctx, ret);
	return 0;
}

/* A sampled call's stack by the .eh_frame walker, tail-called from the
 * entry programs with the call in pending: one copy of the walker for all
 * of them, verified once, and loaded only with the walker (needs 5.17). */
SEC("uprobe")
int heap_walk(struct pt_regs *ctx)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct unw_state *st;
	struct pending *p;
	int err = 1;

	p = bpf_map_lookup_elem(&pending, &tid);
	if (!p)
		return 0;
	read_comm(&p->key);
	st = unwind_user_regs(ctx);
	if (st)
		err = walked_key(st, p, &p->key);
	if (err > 0) {
		__sync_fetch_and_add(&walk_mismatch, 1);
		err = fp_key(ctx, p->raw, p->caller, &p->key);
	}
	if (err)
		bpf_map_delete_elem(&pending, &tid);
	return 0;
}

/* The entry of any allocator function, named by the probe's attach cookie
 * (enum profd_heap_fn): one program for the whole family, verified once.
 * 0 when the kernel must run the return half (uprobe sessions), else 1:
 * a sampled call, whose return completes it, and every allocating call of
 * a function that may tail-jump to another probed one. A call it
 * tail-jumps to returns where the probed function would, so its return
 * address is the uretprobe trampoline only while that function's return
 * is probed: glibc's realloc(NULL, n) → malloc, _PyObject_Realloc →
 * realloc or _PyObject_Malloc, and pymalloc's large requests, which reach
 * malloc through the allocator tables (find_caller: internal). */
static __always_inline int on_entry(struct pt_regs *ctx)
{
	__u64 a0 = PT_REGS_PARM1(ctx), a1 = PT_REGS_PARM2(ctx), a2 = PT_REGS_PARM3(ctx);
	__u64 size = a0, memptr = 0;
	int keep_return = 0;

	switch (bpf_get_attach_cookie(ctx)) {
	case PROFD_HEAP_FN_FREE: /* also PyObject_Free(p), PyMem_Free(p) */
		on_free(a0);
		return 1;
	case PROFD_HEAP_FN_CALLOC:
		size = a0 * a1;
		break;
	case PROFD_HEAP_FN_MEMALIGN: /* aligned_alloc(align, size), memalign(align, size) */
		size = a1;
		break;
	case PROFD_HEAP_FN_POSIX_MEMALIGN:
		size = a2;
		memptr = a0;
		break;
	/* realloc(p, n): the old block is gone (if the call succeeds, which
	 * is assumed), a new one of n bytes exists; realloc(p, 0) frees. */
	case PROFD_HEAP_FN_REALLOC:
		on_free(a0);
		size = a1;
		if (!size)
			return 1;
		keep_return = 1;
		break;
	case PROFD_HEAP_FN_REALLOCARRAY:
		on_free(a0);
		size = a1 * a2;
		if (!size)
			return 1;
		keep_return = 1;
		break;
	/* CPython's pymalloc: PyObject_Malloc/Calloc/Realloc/Free and the
	 * PyMem_ ones, or where the binary has them, the static
	 * _PyObject_Malloc family every one of those calls through the
	 * allocator tables (PYC: a context pointer first). Every request is
	 * counted at its entry, where the stack is the caller's: the ones
	 * pymalloc forwards to malloc (over 512 bytes) reach malloc from a
	 * pymalloc range or by a tail jump, and malloc's probes skip them
	 * (internal, find_caller). Counting those at malloc instead would
	 * walk through pymalloc's own return address, which its return probe
	 * has replaced with the uretprobe trampoline. */
	case PROFD_HEAP_FN_PY_MALLOC:
		keep_return = 1;
		break;
	case PROFD_HEAP_FN_PY_CALLOC:
		size = a0 * a1;
		keep_return = 1;
		break;
	/* pymalloc's realloc(p, 0) returns a block (libc's frees). */
	case PROFD_HEAP_FN_PY_REALLOC:
		on_free(a0);
		size = a1;
		keep_return = 1;
		break;
	case PROFD_HEAP_FN_PYC_MALLOC:
		size = a1;
		keep_return = 1;
		break;
	case PROFD_HEAP_FN_PYC_CALLOC:
		size = a1 * a2;
		keep_return = 1;
		break;
	case PROFD_HEAP_FN_PYC_REALLOC:
		on_free(a1);
		size = a2;
		keep_return = 1;
		break;
	case PROFD_HEAP_FN_PYC_FREE: /* _PyObject_Free(ctx, p) */
		on_free(a1);
		return 1;
	/* A new pymalloc arena: the interpreter's one mmap of an arena,
	 * anonymous, private, read-write (its munmap@plt is a FREE). Its
	 * stack is the allocation pymalloc could not serve from the arenas
	 * it had: where the memory of Python's small objects grows. */
	case PROFD_HEAP_FN_PY_ARENA:
		if ((a1 != PROFD_PY_ARENA_SIZE && a1 != PROFD_PY_ARENA_SIZE_OLD) || a2 != 3 /* RW */ ||
		    PT_REGS_PARM4(ctx) != 0x22 /* MAP_PRIVATE | MAP_ANONYMOUS */)
			return 1;
		return on_alloc_entry(ctx, a1, 0, PROFD_HEAP_KEY_PY_ARENA) ? 0 : 1;
	}
	return on_alloc_entry(ctx, size, memptr, 0) || keep_return ? 0 : 1;
}

/* One uprobe per allocator function (any kernel): the entries; alloc_exit
 * on every return of the allocating ones. */
SEC("uprobe")
int heap_entry(struct pt_regs *ctx)
{
	on_entry(ctx);
	return 0;
}

/* The same for uprobe-multi links (one link per process and file instead
 * of one uprobe per function and direction). Loaded with the uprobe
 * session attach type (6.13+), the kernel runs the return half only when
 * the entry returns 0: a call that is not sampled pays one trap, not two.
 * Loaded as plain uprobe-multi (6.6+), a second link on the returns runs
 * it too, and the entry's return value is ignored. The return half is told
 * apart by its registers: at entry the probed address is the instruction
 * pointer, at return the instruction pointer is the caller's. The return
 * half of a session replaces the return address with the same uretprobe
 * trampoline as a classic return probe (find_caller relies on it). */
SEC("uprobe")
int heap_session(struct pt_regs *ctx)
{
	if (bpf_get_func_ip(ctx) != PT_REGS_IP(ctx)) {
		on_alloc_exit(ctx, PT_REGS_RC(ctx));
		return 0;
	}
	return on_entry(ctx);
}
