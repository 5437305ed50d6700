// SPDX-License-Identifier: GPL-2.0
/* cpu.bpf.c: on-CPU sampler. Runs on a cpu-clock perf event per CPU,
 * keeps samples of wanted processes and counts them per (thread, user
 * stack, kernel stack) in kernel maps; nothing goes to userspace per sample.
 *
 * Double buffering: the agent drains one generation (counts_N + stacks_N)
 * while the program fills the other, selected by `gen` in .bss, so a drain
 * never races with increments and stack ids stay valid until drained. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

#include "profd/abi.h"
#define UNW_PYTHON 1 /* Python frames in CPU samples (python.bpf.h) */
#define UNW_BENCH_PARTS 1 /* bench_part() below, with -DUNW_X_PARTS */
#include "unwind.bpf.h"

char LICENSE[] SEC("license") = "GPL";

/* Set during load time. */
const volatile struct profd_cpu_config cfg = {};

/* Written by the agent through the mmap'ed .bss: generation being filled. */
__u32 gen = 0;

/* Wanted tgids when cfg.filter_pids; value unused. Written by the agent. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, __u8);
} pid_filter SEC(".maps");

/* Stacks by id, one map per generation. max_entries is set at load time
 * from the expected distinct stacks per drain interval; a full bucket is a
 * collision (PROFD_METRIC_STACK_COLLISION), never an overwrite, so an id
 * always names the stack it was returned for. */
#define STACK_MAP(name)                                                          \
	struct {                                                                 \
		__uint(type, BPF_MAP_TYPE_STACK_TRACE);                          \
		__uint(max_entries, 16384);                                      \
		__type(key, __u32);                                              \
		__uint(value_size, PROFD_MAX_STACK_DEPTH * sizeof(__u64));        \
	} name SEC(".maps")
STACK_MAP(stacks_0);
STACK_MAP(stacks_1);

/* Stacks of the .eh_frame walker's program (on_cpu_sample_dwarf), one map
 * per generation: id (31 bits of the frames' hash) → frames, leaf first,
 * zero-terminated like a stack-map value. User stacks from the walker and
 * kernel stacks from bpf_get_stack() share it (the stack maps above then
 * stay empty, 1 entry each). Unlike a stack map's buckets, ids collide only
 * on equal 31-bit hashes, so the map is sized for the stacks of one drain
 * interval (frequency x CPUs), not for hash spread; a taken id is a
 * collision (PROFD_METRIC_STACK_COLLISION), never an overwrite.
 * Preallocated (perf_event programs need it); 1 entry without the walker. */
#define FRAMES_MAP(name)                                                         \
	struct {                                                                 \
		__uint(type, BPF_MAP_TYPE_HASH);                                 \
		__uint(max_entries, 16384);                                      \
		__type(key, __u32);                                              \
		__type(value, __u64[PROFD_MAX_STACK_DEPTH]);                     \
	} name SEC(".maps")
FRAMES_MAP(frames_0);
FRAMES_MAP(frames_1);
_Static_assert(PROFD_UNW_MAX_FRAMES == PROFD_MAX_STACK_DEPTH, "walker fills a whole stack");

/* Per-CPU buffer for a kernel stack of on_cpu_sample_dwarf. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64[PROFD_MAX_STACK_DEPTH]);
} kscratch SEC(".maps");

/* Sample counts per profd_cpu_key, one map per generation; drained and
 * cleared by the agent every interval. */
#define COUNT_MAP(name)                                  \
	struct {                                         \
		__uint(type, BPF_MAP_TYPE_HASH);         \
		__uint(max_entries, 32768);              \
		__type(key, struct profd_cpu_key);       \
		__type(value, __u64);                    \
	} name SEC(".maps")
COUNT_MAP(counts_0);
COUNT_MAP(counts_1);

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, PROFD_METRIC_MAX);
	__type(key, __u32);
	__type(value, __u64);
} metrics SEC(".maps");

#include "common.bpf.h"

/* Benchmarks only (tests/bench/bench_unwind.sh): while bench_on[0] is 1 (set
 * with bpftool; the agent never sets it), each kept sample's time in the
 * program goes into bench_time. Off, it costs one inlined array read. */
struct bench_time {
	__u64 ns;
	__u64 cnt;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} bench_on SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct bench_time);
} bench_time SEC(".maps");

static __always_inline __u64 bench_start(void)
{
	__u32 zero = 0, *on = bpf_map_lookup_elem(&bench_on, &zero);

	return on && *on ? bpf_ktime_get_ns() : 0;
}

static __always_inline void bench_end(__u64 t0)
{
	struct bench_time *b;
	__u32 zero = 0;

	if (!t0)
		return;
	b = bpf_map_lookup_elem(&bench_time, &zero);
	if (b) {
		b->ns += bpf_ktime_get_ns() - t0;
		b->cnt++;
	}
}

#ifdef UNW_X_PARTS
/* -DUNW_X_PARTS: per-CPU time of each part of a timed sample (ns, count),
 * parts marked by bench_part(n): the time since the previous mark goes to
 * part n; mark 0 starts. */
#define BENCH_PARTS 8
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, BENCH_PARTS + 1);
	__type(key, __u32);
	__type(value, struct bench_time);
} bench_parts SEC(".maps");

static __always_inline void bench_part(__u32 part)
{
	__u32 last = BENCH_PARTS;
	struct bench_time *l = bpf_map_lookup_elem(&bench_parts, &last), *b;
	__u64 now;

	if (!l || !l->cnt) /* not timing this sample */
		return;
	now = bpf_ktime_get_ns();
	b = bpf_map_lookup_elem(&bench_parts, &part);
	if (b && part) {
		b->ns += now - l->ns;
		b->cnt++;
	}
	l->ns = now;
}

static __always_inline void bench_parts_on(__u64 t0)
{
	__u32 last = BENCH_PARTS;
	struct bench_time *l = bpf_map_lookup_elem(&bench_parts, &last);

	if (l) {
		l->cnt = t0 != 0;
		l->ns = bpf_ktime_get_ns();
	}
}
#define BENCH_PARTS_ON(t0) bench_parts_on(t0)
#else
#define BENCH_PARTS_ON(t0) do { } while (0)
#endif

/* bpf_get_stackid() result → key field, counting failures. -EFAULT with no
 * user memory (kernel thread) is "no stack", not a loss. */
static __always_inline __s32 stack_id(long id, bool user, struct task_struct *task)
{
	if (id >= 0)
		return id;
	if (id == -EEXIST) {
		metric_inc(PROFD_METRIC_STACK_COLLISION);
		return PROFD_STACK_LOST;
	}
	if (user && !BPF_CORE_READ(task, mm))
		return PROFD_STACK_NONE;
	metric_inc(user ? PROFD_METRIC_USTACK_LOST : PROFD_METRIC_KSTACK_LOST);
	return PROFD_STACK_LOST;
}

static __always_inline void count(void *counts, struct profd_cpu_key *key)
{
	__u64 one = 1, *v;

	v = bpf_map_lookup_elem(counts, key);
	if (v) {
		__sync_fetch_and_add(v, 1);
		return;
	}
	/* BPF_NOEXIST: a racing CPU may have created it; then add to it. */
	if (bpf_map_update_elem(counts, key, &one, BPF_NOEXIST)) {
		v = bpf_map_lookup_elem(counts, key);
		if (v)
			__sync_fetch_and_add(v, 1);
		else
			metric_inc(PROFD_METRIC_COUNTS_FULL);
	}
}

/* unwind_store_frames() result → key field, counting failures. */
static __always_inline __s32 frames_id(long id, bool user)
{
	if (id >= 0)
		return id;
	if (id == -UNW_EEXIST)
		metric_inc(PROFD_METRIC_STACK_COLLISION);
	else
		metric_inc(user ? PROFD_METRIC_USTACK_LOST : PROFD_METRIC_KSTACK_LOST);
	return PROFD_STACK_LOST;
}

/* The kernel stack of the sample → an id in frames (same id, same frames). */
static __always_inline __s32 kstack_store(struct bpf_perf_event_data *ctx, void *frames)
{
	__u64 *ips, h;
	__u32 zero = 0;
	long sz;

	ips = bpf_map_lookup_elem(&kscratch, &zero);
	if (!ips) /* verifier: never NULL */
		return PROFD_STACK_LOST;
	/* The rest of the buffer is zeroed: hash every slot, no branch. */
	sz = bpf_get_stack(ctx, ips, PROFD_MAX_STACK_DEPTH * sizeof(__u64), 0);
	if (sz <= 0) {
		metric_inc(PROFD_METRIC_KSTACK_LOST);
		return PROFD_STACK_LOST;
	}
	h = unw_frames_hash((const struct unw_frames *)ips);
	return frames_id(unwind_store_frames(frames, ips, sz / sizeof(__u64), h), false);
}

/* Everything but the user stack: filter, key, kernel stack. Returns false
 * when the sample is not wanted. */
static __always_inline bool sample_begin(struct bpf_perf_event_data *ctx, struct profd_cpu_key *key,
					 struct task_struct **task, bool *in_kernel)
{
	__u64 id = bpf_get_current_pid_tgid();

	key->pid = id >> 32;
	key->tid = (__u32)id;
	/* Pid 0 is the per-CPU idle task (swapper/N): idle time is no one's. */
	if (key->tid == 0) {
		metric_inc(PROFD_METRIC_IDLE);
		return false;
	}
	if (cfg.filter_pids && !bpf_map_lookup_elem(&pid_filter, &key->pid))
		return false;
	metric_inc(PROFD_METRIC_SAMPLES);

	*task = (struct task_struct *)bpf_get_current_task();
	bpf_get_current_comm(key->comm, sizeof(key->comm));
	BPF_CORE_READ_STR_INTO(&key->pcomm, *task, group_leader, comm);

	/* A sample that interrupted user mode has no kernel stack to take. */
	*in_kernel = !(regs_cs(&ctx->regs) & 3);
	key->kern_stack_id = PROFD_STACK_NONE;
	return true;
}

/* User stacks by frame pointers (the kernel's bpf_get_stackid walk). */
SEC("perf_event")
int on_cpu_sample(struct bpf_perf_event_data *ctx)
{
	struct profd_cpu_key key = {};
	struct task_struct *task;
	__u64 t0 = bench_start();
	__u32 g = gen;
	bool in_kernel;

	BENCH_PARTS_ON(t0);
	if (!sample_begin(ctx, &key, &task, &in_kernel))
		return 0;
	UNW_PART(1);
	if (g & 1) {
		if (in_kernel)
			key.kern_stack_id = stack_id(bpf_get_stackid(ctx, &stacks_1, 0), false, task);
		key.user_stack_id = stack_id(bpf_get_stackid(ctx, &stacks_1, BPF_F_USER_STACK), true, task);
		UNW_PART(4);
		count(&counts_1, &key);
	} else {
		if (in_kernel)
			key.kern_stack_id = stack_id(bpf_get_stackid(ctx, &stacks_0, 0), false, task);
		key.user_stack_id = stack_id(bpf_get_stackid(ctx, &stacks_0, BPF_F_USER_STACK), true, task);
		UNW_PART(4);
		count(&counts_0, &key);
	}
	UNW_PART(6);
	bench_end(t0);
	return 0;
}

/* User stacks by the .eh_frame walker (unwind.bpf.h); needs 5.17. The
 * agent loads one of the two programs (set_autoload). */
SEC("perf_event")
int on_cpu_sample_dwarf(struct bpf_perf_event_data *ctx)
{
	struct profd_cpu_key key = {};
	struct task_struct *task;
	struct unw_state *st;
	__u64 t0 = bench_start();
	__u32 g = gen;
	bool in_kernel;
	void *frames;

	BENCH_PARTS_ON(t0);
	if (!sample_begin(ctx, &key, &task, &in_kernel))
		return 0;
	UNW_PART(1);
	frames = (g & 1) ? (void *)&frames_1 : (void *)&frames_0;
	if (in_kernel) {
		key.kern_stack_id = kstack_store(ctx, frames);
		st = unwind_user_task();
	} else {
		st = unwind_user_regs(&ctx->regs);
	}
#ifdef UNW_X_NOSTORE
	key.user_stack_id = st ? (__s32)(st->hash & 0x7fffffff) : PROFD_STACK_NONE;
#else
	key.user_stack_id = st ? frames_id(unwind_store(frames, st), true) : PROFD_STACK_NONE;
#endif
	UNW_PART(5);
	count((g & 1) ? (void *)&counts_1 : (void *)&counts_0, &key);
	UNW_PART(6);
	bench_end(t0);
	return 0;
}
