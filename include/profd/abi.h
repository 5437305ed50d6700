/* SPDX-License-Identifier: Apache-2.0 */
/* abi.h: THE contract between bpf/ and daemon/: map keys and values, limits,
 * metric ids and load-time configuration. Fixed-width types only, explicit
 * padding, sizes asserted, so both compilers agree on every byte. */
#ifndef PROFD_ABI_H
#define PROFD_ABI_H

#ifndef __bpf__
#include <linux/types.h>
#endif

#define PROFD_COMM_LEN 16
/* Frames kept per stack: the kernel's default perf_event_max_stack. */
#define PROFD_MAX_STACK_DEPTH 127

/* Sentinels in profd_cpu_key.{user,kern}_stack_id besides ids >= 0. */
#define PROFD_STACK_NONE (-1)     /* no stack in this mode (kernel thread: no user stack) */
#define PROFD_STACK_LOST (-2)     /* capture failed; counted in a metric */

/* Aggregation key of the on-CPU sampler: one counter per distinct
 * (thread, user stack, kernel stack). */
struct profd_cpu_key {
	__u32 pid;                  /* tgid in the root pid namespace */
	__u32 tid;
	__s32 user_stack_id;        /* id in the generation's stack map (stacks_0/1,
				     * or frames_0/1 with the walker), or PROFD_STACK_* */
	__s32 kern_stack_id;
	char comm[PROFD_COMM_LEN];  /* thread name */
	char pcomm[PROFD_COMM_LEN]; /* process name (group leader's comm) */
};
_Static_assert(sizeof(struct profd_cpu_key) == 48, "profd_cpu_key layout");

/* Counters kept in the per-CPU `metrics` array of every BPF object; the
 * agent sums them over CPUs and reports them. */
enum profd_metric {
	PROFD_METRIC_SAMPLES = 0,       /* samples of wanted processes */
	PROFD_METRIC_IDLE,              /* samples in the idle task, not attributed */
	PROFD_METRIC_USTACK_LOST,       /* user stack could not be captured */
	PROFD_METRIC_KSTACK_LOST,       /* kernel stack could not be captured */
	PROFD_METRIC_STACK_COLLISION,   /* stack map bucket taken by another stack (map too small) */
	PROFD_METRIC_COUNTS_FULL,       /* aggregation map full: sample dropped */
	PROFD_METRIC_MAX,
};

/* Load-time knobs of cpu.bpf.c (.rodata: the verifier prunes what is off). */
struct profd_cpu_config {
	__u32 filter_pids;   /* 1: only tgids present in pid_filter */
	__u32 pad;
};

/* ---- heap.bpf.c ---- */

/* Entries of the table of exponential sampling intervals (a power of 2). */
#define PROFD_HEAP_EXP_TABLE 1024
/* Most allocator functions one process gets probes on (forwarders and
 * CPython's pymalloc functions too). */
#define PROFD_HEAP_MAX_RANGES 32

/* What a sampled allocation is counted under: the process and a stack
 * (hash into heap_stacks, whose first frame is the allocator's caller). */
struct profd_heap_key {
	__u32 pid;
	__u32 flags;       /* PROFD_HEAP_KEY_* */
	__u64 stack_hash;
	char comm[PROFD_COMM_LEN];
};
_Static_assert(sizeof(struct profd_heap_key) == 32, "profd_heap_key layout");

/* profd_heap_key.flags */
enum {
	/* A CPython pymalloc arena (mmap'd by the interpreter for its small
	 * objects), not a malloc block: the stack is the allocation that
	 * made pymalloc take a new arena. */
	PROFD_HEAP_KEY_PY_ARENA = 1 << 0,
};

/* Sizes of a CPython pymalloc arena: 1 MiB since 3.10, 256 KiB before. */
#define PROFD_PY_ARENA_SIZE (1u << 20)
#define PROFD_PY_ARENA_SIZE_OLD (256u << 10)

/* Cumulative counters per key since profd attached. */
struct profd_heap_counts {
	__u64 alloc_count;
	__u64 alloc_bytes;
	__u64 free_count;
	__u64 free_bytes;
};

/* A user stack in heap_stacks: frames[0] is the allocator's caller. */
struct profd_heap_stack {
	__u32 nframes;
	__u32 pad;
	__u64 frames[PROFD_MAX_STACK_DEPTH];
};

/* A live sampled allocation. */
struct profd_heap_live_key {
	__u32 pid;
	__u32 pad;
	__u64 addr;
};
struct profd_heap_live {
	__u64 size;
	struct profd_heap_key key;
};

/* An allocator function calling a probed one, by the address range of its
 * code in one process. When a probed call returns into [start, end):
 * - ra_offset < 0: the call is the allocator's own business (realloc
 *   calling malloc; CPython's pymalloc forwarding a request over 512 bytes
 *   to malloc, or its realloc calling its malloc): neither counted nor
 *   sampled (the outer call is);
 * - ra_offset >= 0: the function forwards an allocation (operator new →
 *   malloc): the allocation is counted and its real caller is the return
 *   address found ra_offset bytes above the forwarder's one. */
struct profd_heap_range {
	__u64 start;
	__u64 end;
	__s32 ra_offset;
	__u32 pad;
};
struct profd_heap_proc {
	__u32 nranges;
	__u32 pad;
	struct profd_heap_range r[PROFD_HEAP_MAX_RANGES];
};

/* The allocator function a probe is on: its attach cookie, which
 * heap.bpf.c's one entry program (heap_entry, heap_session) dispatches on. */
enum profd_heap_fn {
	PROFD_HEAP_FN_MALLOC = 0,    /* malloc(size), valloc, pvalloc */
	PROFD_HEAP_FN_CALLOC,        /* calloc(n, size) */
	PROFD_HEAP_FN_REALLOC,       /* realloc(ptr, size) */
	PROFD_HEAP_FN_REALLOCARRAY,  /* reallocarray(ptr, n, size) */
	PROFD_HEAP_FN_MEMALIGN,      /* memalign/aligned_alloc(align, size) */
	PROFD_HEAP_FN_POSIX_MEMALIGN, /* posix_memalign(memptr, align, size) */
	PROFD_HEAP_FN_FREE,          /* free(ptr), PyObject_Free(ptr), PyMem_Free(ptr) */
	/* CPython's pymalloc (its return always probed: tail jumps) */
	PROFD_HEAP_FN_PY_MALLOC,     /* PyObject_Malloc(size), PyMem_Malloc */
	PROFD_HEAP_FN_PY_CALLOC,     /* PyObject_Calloc(n, size), PyMem_Calloc */
	PROFD_HEAP_FN_PY_REALLOC,    /* PyObject_Realloc(ptr, size): (p, 0) allocates */
	PROFD_HEAP_FN_PYC_MALLOC,    /* _PyObject_Malloc(ctx, size) */
	PROFD_HEAP_FN_PYC_CALLOC,    /* _PyObject_Calloc(ctx, n, size) */
	PROFD_HEAP_FN_PYC_REALLOC,   /* _PyObject_Realloc(ctx, ptr, size) */
	PROFD_HEAP_FN_PYC_FREE,      /* _PyObject_Free(ctx, ptr) */
	/* pymalloc's arenas: the interpreter's mmap@plt stub (munmap@plt
	 * is a FREE): mmap(addr, len, prot, flags, ...) of an arena */
	PROFD_HEAP_FN_PY_ARENA,
};

enum profd_heap_metric {
	PROFD_HEAP_CALLS = 0,        /* allocation calls seen */
	PROFD_HEAP_SAMPLED,          /* of which sampled */
	PROFD_HEAP_FREES_MATCHED,    /* frees of a tracked sampled block */
	PROFD_HEAP_LIVE_FULL,        /* live map full: sampled block not tracked */
	PROFD_HEAP_COUNTS_FULL,      /* counts map full: sample dropped */
	PROFD_HEAP_STACKS_FULL,      /* stack map full: sample dropped */
	PROFD_HEAP_STACK_LOST,       /* user stack could not be read */
	PROFD_HEAP_PENDING_LOST,     /* return seen without its entry (or map full) */
	PROFD_HEAP_FAILED_ALLOCS,    /* sampled call returned NULL / error */
	PROFD_HEAP_INTERNAL,         /* calls made by the allocator itself, ignored */
	PROFD_HEAP_FREES_UNSEEN,     /* sampled blocks whose address was allocated again */
	PROFD_HEAP_RETURNS,          /* returns probed (session: sampled calls, realloc, pymalloc) */
	PROFD_HEAP_METRIC_MAX,
};

struct profd_heap_config {
	__u64 sample_rate;   /* mean bytes between samples; <= 1: every call */
	__u64 exp_table[PROFD_HEAP_EXP_TABLE]; /* intervals: -ln(u) * rate */
};


#endif
