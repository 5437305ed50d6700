/* SPDX-License-Identifier: Apache-2.0 */
/* wait.h: the contract between bpf/wait.bpf.c and daemon/collect/wait.c:
 * the mutex, block and threadcreate profiles. Events (a futex wait, an
 * off-CPU interval, a thread creation) are counted in kernel maps per
 * (thread, user stack, kernel stack); stacks are deduplicated by a 64-bit
 * hash in LRU maps.
 *
 * User stacks: with the shared .eh_frame walker (bpf/unwind.bpf.h, the
 * default on 5.17+) a stack is the walker's frames, flagged
 * PROFD_WAIT_STACK_WALKER; what follows is the fallback for --unwind=fp and
 * older kernels (the "gap walk").
 *
 * glibc is built without frame pointers, so a frame-pointer
 * walk started inside it skips the caller of the libc function (the lock
 * or read call site). The BPF side therefore first walks the frames at the
 * top of the stack with per-PC unwind rules that the agent derived from
 * .eh_frame and installed in `rules` (the "gap" walk), until it reaches a
 * frame-pointer function, then follows frame pointers from the rbp that the
 * rules recovered. A PC without a rule ends the gap walk: the stack is
 * marked with the index of that frame, and a copy of the stack window above
 * it (an exemplar) lets the agent unwind that first occurrence itself and
 * learn the missing rules. Fixed-width types only, sizes asserted. */
#ifndef PROFD_WAIT_H
#define PROFD_WAIT_H

#ifndef __bpf__
#include <linux/types.h>
#endif

#include "profd/abi.h"

/* Which programs an object runs: one profile type per object (the agent
 * turns the other programs' autoload off). */
#define PROFD_WAIT_KIND_MUTEX 1        /* futex waits (sys_enter/sys_exit) */
#define PROFD_WAIT_KIND_BLOCK 2        /* off-CPU intervals (sched_switch) */
#define PROFD_WAIT_KIND_THREADCREATE 3 /* CLONE_THREAD clones (task_newtask) */

/* Frames unwound with learned rules before following frame pointers. glibc
 * needs 1-4 between a syscall and its caller; more lets code without frame
 * pointers be unwound as its rules are learned. */
#define PROFD_WAIT_MAX_GAP 24
/* Bytes of user stack copied at a frame with no rule, in blocks that never
 * straddle a page (a block past the end of the stack mapping fails alone). */
#define PROFD_WAIT_WINDOW 2048
#define PROFD_WAIT_WINDOW_BLOCK 256
_Static_assert(PROFD_WAIT_WINDOW % PROFD_WAIT_WINDOW_BLOCK == 0, "whole blocks");
_Static_assert(4096 % PROFD_WAIT_WINDOW_BLOCK == 0, "blocks never straddle a page");
_Static_assert(PROFD_WAIT_MAX_GAP < PROFD_MAX_STACK_DEPTH, "gap fits a stack");

#define PROFD_WAIT_NO_MISS 0xffff

/* profd_wait_stack.flags */
#define PROFD_WAIT_STACK_MISS 0x1      /* frame miss_at had no rule (exemplar taken) */
#define PROFD_WAIT_STACK_ROOT 0x2      /* the walk reached the outermost frame */
#define PROFD_WAIT_STACK_BAD_RULE 0x4  /* an INVALID rule or a failed read ended the gap */
#define PROFD_WAIT_STACK_LONG_GAP 0x8  /* PROFD_WAIT_MAX_GAP rule steps, then frame pointers */
#define PROFD_WAIT_STACK_WALKER 0x10   /* frames of the .eh_frame walker (asid 0, never
					* a miss: nothing for the agent to complete) */

/* A user or kernel stack, leaf first. Value of `ustacks` and `kstacks`,
 * keyed by profd_wait_stack_hash() of the same fields. */
struct profd_wait_stack {
	__u64 asid;     /* address space of the process (see rule key); 0 for kernel */
	__u32 tgid;     /* 0 for kernel stacks */
	__u16 nframes;
	__u16 miss_at;  /* index of the frame that had no rule, or PROFD_WAIT_NO_MISS */
	__u32 flags;    /* PROFD_WAIT_STACK_* */
	__u32 pad;
	/* User: ips[0] is the PC at the event, ips[1..] return addresses.
	 * After a miss, the frames from miss_at + 1 on follow frame pointers
	 * from the rbp at the missing frame: right only if the frames that
	 * the agent unwinds from the exemplar leave rbp as it was. */
	__u64 ips[PROFD_MAX_STACK_DEPTH];
};
_Static_assert(sizeof(struct profd_wait_stack) == 24 + 8 * PROFD_MAX_STACK_DEPTH,
	       "profd_wait_stack layout");

/* Unwinder state at one frame. leaf: pc is exact (the event's PC), else a
 * return address (its rule is the one at pc - 1). */
struct profd_wait_regs {
	__u64 pc;
	__u64 sp;
	__u64 bp;
	__u32 leaf;
	__u32 pad;
};

/* The stack at a frame with no rule, from the first occurrence of a user
 * stack hash with a miss. Value of `exemplars`, keyed like `ustacks`. */
struct profd_wait_exemplar {
	__u64 asid;
	__u32 tgid;
	__u32 len;                     /* bytes of stack copied from base */
	struct profd_wait_regs regs;   /* state at frame miss_at */
	__u64 base;                    /* regs.sp rounded down to a block */
	__u8 bytes[PROFD_WAIT_WINDOW];
};
_Static_assert(sizeof(struct profd_wait_exemplar) == 56 + PROFD_WAIT_WINDOW,
	       "profd_wait_exemplar layout");

/* Learned unwind rules: key of `rules`. asid tells address spaces apart
 * across exec and pid reuse: the mm pointer mixed with the process's start
 * time, both read by BPF; the agent copies it from the stacks. */
struct profd_wait_rule_key {
	__u32 tgid;
	__u32 leaf;     /* 1: pc is an exact PC, 0: a return address */
	__u64 pc;
	__u64 asid;
};
_Static_assert(sizeof(struct profd_wait_rule_key) == 24, "profd_wait_rule_key layout");

/* profd_wait_rule.cmd */
#define PROFD_WAIT_RULE_STEP 0     /* unwind one frame with the rule */
#define PROFD_WAIT_RULE_FP 1       /* frame-pointer function (or no CFI): follow rbp */
#define PROFD_WAIT_RULE_STOP 2     /* outermost frame */
#define PROFD_WAIT_RULE_INVALID 3  /* cannot unwind here: end the stack */

/* profd_wait_rule.cfa_how */
#define PROFD_WAIT_CFA_RSP 0       /* CFA = rsp + cfa_off */
#define PROFD_WAIT_CFA_RBP 1       /* CFA = rbp + cfa_off */
#define PROFD_WAIT_CFA_DEREF_RSP 2 /* CFA = *(rsp + cfa_off) + cfa_aux */
#define PROFD_WAIT_CFA_DEREF_RBP 3 /* CFA = *(rbp + cfa_off) + cfa_aux */
#define PROFD_WAIT_CFA_PLT 4       /* CFA = rsp + cfa_off + ((pc & 15) >= cfa_aux ? 8 : 0) */

/* profd_wait_rule.rbp_how: the caller's rbp */
#define PROFD_WAIT_RBP_SAME 0
#define PROFD_WAIT_RBP_UNDEF 1     /* unknown: no frame-pointer walk above */
#define PROFD_WAIT_RBP_AT_CFA 2    /* *(CFA + rbp_off) */
#define PROFD_WAIT_RBP_VAL_CFA 3   /* CFA + rbp_off */
#define PROFD_WAIT_RBP_AT_RBP 4    /* *(rbp + rbp_off) */
#define PROFD_WAIT_RBP_AT_RSP 5    /* *(rsp + rbp_off) */

/* Value of `rules`: how to leave the frame at key.pc. The return address
 * is always at CFA + ra_off. Written by the agent only. */
struct profd_wait_rule {
	__u8 cmd;      /* PROFD_WAIT_RULE_* */
	__u8 cfa_how;  /* PROFD_WAIT_CFA_* */
	__u8 rbp_how;  /* PROFD_WAIT_RBP_* */
	__u8 pad;
	__s32 cfa_off;
	__s32 cfa_aux;
	__s16 rbp_off;
	__s16 ra_off;
};
_Static_assert(sizeof(struct profd_wait_rule) == 16, "profd_wait_rule layout");

/* profd_wait_key.flags: what kind of wait (mutex) */
#define PROFD_WAIT_EV_FUTEX_PI 0x1    /* FUTEX_LOCK_PI(2): a PI mutex */
#define PROFD_WAIT_EV_FUTEX_VAL2 0x2  /* FUTEX_WAIT* expecting 2: glibc's lll_lock protocol */
#define PROFD_WAIT_EV_FUTEX_REQUEUE_PI 0x4 /* FUTEX_WAIT_REQUEUE_PI: condvar of a PI mutex */
#define PROFD_WAIT_EV_GIL 0x8          /* FUTEX_WAIT* on a CPython GIL's cond or mutex */
#define PROFD_WAIT_EV_GIL_SWITCH 0x10  /* ... on its switch_cond or switch_mutex (the handoff) */

/* Aggregation key: one count per (thread, stacks, event kind). */
struct profd_wait_key {
	__u32 pid;                  /* tgid in the root pid namespace */
	__u32 tid;
	__u64 ustack;               /* hash in `ustacks`, 0: none */
	__u64 kstack;               /* hash in `kstacks`, 0: none */
	__u32 flags;                /* PROFD_WAIT_EV_* */
	__u32 pad;
	char comm[PROFD_COMM_LEN];  /* thread name at the event */
	char pcomm[PROFD_COMM_LEN]; /* process name */
};
_Static_assert(sizeof(struct profd_wait_key) == 64, "profd_wait_key layout");

struct profd_wait_value {
	__u64 count;
	__u64 delay_ns;             /* summed wait time (0 for threadcreate) */
};

/* An event in progress: value of `starts`, keyed by tid. */
struct profd_wait_start {
	__u64 ts;                   /* bpf_ktime_get_ns() at the start */
	__u64 ustack;
	__u64 kstack;
	__u32 tgid;
	__u32 flags;
	char comm[PROFD_COMM_LEN];
	char pcomm[PROFD_COMM_LEN];
};
_Static_assert(sizeof(struct profd_wait_start) == 64, "profd_wait_start layout");

/* Per-CPU counters of wait.bpf.c. */
enum profd_wait_metric {
	PROFD_WAIT_METRIC_EVENTS = 0,   /* events counted */
	PROFD_WAIT_METRIC_SHORT,        /* off-CPU intervals below min_block_ns */
	PROFD_WAIT_METRIC_NOT_WAITED,   /* futex calls that returned EAGAIN at once */
	PROFD_WAIT_METRIC_USTACK_LOST,  /* user registers or stack unreadable */
	PROFD_WAIT_METRIC_KSTACK_LOST,  /* bpf_get_stack() failed */
	PROFD_WAIT_METRIC_RULE_MISS,    /* stacks ended by a PC without a rule */
	PROFD_WAIT_METRIC_BAD_RULE,     /* gap walks ended by an INVALID rule or read */
	PROFD_WAIT_METRIC_STACKS_FULL,  /* stack or exemplar insert failed */
	PROFD_WAIT_METRIC_STARTS_FULL,  /* too many events in progress: one dropped */
	PROFD_WAIT_METRIC_COUNTS_FULL,  /* aggregation map full: event dropped */
	PROFD_WAIT_METRIC_MAX,
};

/* Load-time knobs of wait.bpf.c. */
struct profd_wait_config {
	__u32 filter_pids;          /* 1: only tgids present in pid_filter */
	__u32 task_pt_regs;         /* 1: bpf_task_pt_regs() exists (5.15+) */
	__u64 min_block_ns;         /* block: shorter intervals are not counted */
};

#ifndef __always_inline
#define __always_inline inline __attribute__((always_inline))
#endif

/* Stack hash: FNV-1a over 64-bit words, never 0 (0 means "no stack"). */
#define PROFD_WAIT_HASH_SEED 0xcbf29ce484222325ULL
static __always_inline __u64 profd_wait_hash_add(__u64 h, __u64 word)
{
	return (h ^ word) * 0x100000001b3ULL;
}

static __always_inline __u64 profd_wait_hash_final(__u64 h)
{
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	return h ? h : 1;
}

#endif /* PROFD_WAIT_H */

#if defined(PROFD_WAIT_STEP_IMPL) && !defined(PROFD_WAIT_STEP_DEFINED)
#define PROFD_WAIT_STEP_DEFINED
/*
 * One unwind step with rule r from frame st. Both sides use it: define
 * PROFD_WAIT_READ(ctx, addr, u64 *out), returning 0 on success, before
 * including this header (again) with PROFD_WAIT_STEP_IMPL defined. Returns 0 and
 * moves st to the caller's frame, or -1 (unreadable memory, unusable rule,
 * a CFA that does not move up the stack, a zero return address).
 */
static __always_inline int profd_wait_step(const struct profd_wait_rule *r,
					   struct profd_wait_regs *st, void *ctx)
{
	__u64 cfa, ra, v, bp = st->bp;

	switch (r->cfa_how) {
	case PROFD_WAIT_CFA_RSP:
		cfa = st->sp + r->cfa_off;
		break;
	case PROFD_WAIT_CFA_RBP:
		cfa = st->bp + r->cfa_off;
		break;
	case PROFD_WAIT_CFA_DEREF_RSP:
	case PROFD_WAIT_CFA_DEREF_RBP:
		v = (r->cfa_how == PROFD_WAIT_CFA_DEREF_RSP ? st->sp : st->bp) + r->cfa_off;
		if (PROFD_WAIT_READ(ctx, v, &cfa))
			return -1;
		cfa += r->cfa_aux;
		break;
	case PROFD_WAIT_CFA_PLT:
		cfa = st->sp + r->cfa_off + ((st->pc & 15) >= (__u64)r->cfa_aux ? 8 : 0);
		break;
	default:
		return -1;
	}
	/* The caller's frame lies above this one: a CFA at or below sp is
	 * a wrong rule or garbage registers, and would loop. */
	if (cfa <= st->sp)
		return -1;
	if (PROFD_WAIT_READ(ctx, cfa + r->ra_off, &ra) || !ra)
		return -1;
	switch (r->rbp_how) {
	case PROFD_WAIT_RBP_SAME:
		break;
	case PROFD_WAIT_RBP_UNDEF:
		bp = 0;
		break;
	case PROFD_WAIT_RBP_AT_CFA:
		if (PROFD_WAIT_READ(ctx, cfa + r->rbp_off, &bp))
			return -1;
		break;
	case PROFD_WAIT_RBP_VAL_CFA:
		bp = cfa + r->rbp_off;
		break;
	case PROFD_WAIT_RBP_AT_RBP:
		if (PROFD_WAIT_READ(ctx, st->bp + r->rbp_off, &bp))
			return -1;
		break;
	case PROFD_WAIT_RBP_AT_RSP:
		if (PROFD_WAIT_READ(ctx, st->sp + r->rbp_off, &bp))
			return -1;
		break;
	default:
		return -1;
	}
	st->pc = ra;
	st->sp = cfa;
	st->bp = bp;
	st->leaf = 0;
	return 0;
}
#endif
