/* SPDX-License-Identifier: Apache-2.0 */
/* attach_point: where to put a uprobe inside an x86-64 function so the kernel
 * emulates the probed instruction instead of single-stepping it out of line
 * (≈0.9 µs vs ≈6 µs per hit on 6.x), without losing the arguments we read.
 * Pure logic on the function's bytes: no ELF, no BPF, no syscalls.
 * Measurements and the reasoning behind each rule: docs/heap-probes.md. */
#ifndef PROFD_COLLECT_ATTACH_POINT_H
#define PROFD_COLLECT_ATTACH_POINT_H

#include <stddef.h>
#include <stdint.h>

/* The prologue walk looks at most this far: allocator entry points reach
 * their first push/branch within 8 instructions and 40 bytes in every build
 * surveyed (glibc 2.36, jemalloc 5.3, tcmalloc 2.10, mimalloc 2.0, libstdc++). */
#define ATTACH_POINT_MAX_INSNS 16
#define ATTACH_POINT_MAX_BYTES 64
/* Longest function body swept for branches back into the prologue; larger
 * bodies are not verified (fall back to the entry unless F_PARTIAL). */
#define ATTACH_POINT_MAX_FUNC (256u << 10)

/* x86 register numbers as encoded in ModRM/REX (not DWARF numbers). */
enum x86_reg {
	X86_RAX, X86_RCX, X86_RDX, X86_RBX, X86_RSP, X86_RBP, X86_RSI, X86_RDI,
	X86_R8, X86_R9, X86_R10, X86_R11, X86_R12, X86_R13, X86_R14, X86_R15,
	X86_NR_GPRS,
};

/* SysV AMD64 integer arguments, in order: rdi, rsi, rdx, rcx, r8, r9. */
#define ATTACH_NR_ARGS 6
#define ATTACH_ARG(i) (1u << (i))

/* attach_point__find() flags. */
enum {
	/* The probe must see %rsp as it was at entry, so a uretprobe (or a
	 * uprobe session's return half) may share the offset: the kernel
	 * hijacks the return address at *(%rsp) when the probe hits. */
	ATTACH_POINT_F_STACK = 1u << 0,
	/* `code` is only a prefix of the function (its size is unknown): do not
	 * insist on sweeping the whole body for branches into the prologue. */
	ATTACH_POINT_F_PARTIAL = 1u << 1,
	/* The kernel predates multi-byte nop emulation and the 5-byte-nop
	 * optimisation (both arrive with 6.18's uprobe trampoline; probe for
	 * `arch_uprobe_optimize` in /proc/kallsyms): only 0x90 nops count as
	 * emulated. push/jmp/jcc/call emulation is older than any kernel
	 * profd runs on (4.x). */
	ATTACH_POINT_F_OLD_KERNEL = 1u << 2,
};

enum attach_point_reason {
	/* Success: the instruction at `offset` is emulated by the kernel. */
	ATTACH_POINT_PUSH,	/* push %reg / push %r8-15 */
	ATTACH_POINT_JCC,	/* jcc rel8/rel32 */
	ATTACH_POINT_JMP,	/* jmp rel8/rel32 (tail call) */
	ATTACH_POINT_CALL,	/* call rel32 */
	ATTACH_POINT_NOP,	/* nop, or a multi-byte nop of the kernel's own encodings */
	ATTACH_POINT_NOP5,	/* 5-byte nop: 6.18+ rewrites it into a call to the
				 * uprobe trampoline (a syscall, no trap) after the first hit */
	/* Failure (-ENOENT): probe the entry, offset 0, which is single-stepped. */
	ATTACH_POINT_UNDECODABLE,	/* unknown or truncated instruction first */
	ATTACH_POINT_BRANCH,		/* a control transfer the kernel steps (ret, jmp *, ...) first */
	ATTACH_POINT_ARG_CLOBBERED,	/* a needed argument was overwritten, no copy left */
	ATTACH_POINT_STACK_MOVED,	/* F_STACK and %rsp moved first */
	ATTACH_POINT_BACKEDGE,		/* a branch in the body lands inside the prologue */
	ATTACH_POINT_BODY_UNDECODABLE,	/* body could not be swept for such branches */
	ATTACH_POINT_TOO_FAR,		/* nothing emulated within the walk's bounds */
	ATTACH_POINT__NR_REASONS,
};

struct attach_point {
	uint32_t offset;	/* bytes from the function start; 0 on failure */
	uint32_t reason;	/* enum attach_point_reason */
	uint8_t insn_len;	/* length of the instruction at offset (0 if undecodable) */
	uint8_t skipped;	/* instructions executed before the probe */
	uint8_t stack_intact;	/* 1: %rsp at offset equals %rsp at entry */
	uint8_t rbp_intact;	/* 1: %rbp still holds the caller's frame pointer */
	/* The kernel's user callchain at a uprobe on `push %rbp` or endbr64
	 * (perf_callchain_user, 6.11+) adds *(%rsp) as the caller; at any
	 * other instruction the direct caller is missing from a frame-pointer
	 * stack and the BPF side must add it itself (see ra_offset). */
	uint8_t kernel_adds_caller;
	/* The return address is at *(u64 *)(%rsp + ra_offset) when the probe
	 * hits; -1 if %rsp moved in a way the walk does not track. */
	int16_t ra_offset;
	/* For JCC/JMP/CALL: the branch target relative to the function start
	 * (a JMP at the probe of a `[endbr64;] jmp` thunk such as libstdc++'s
	 * operator delete → free@plt says the function is a forwarder, which
	 * must not be probed together with its target: it would count twice). */
	int64_t target;
	/* Register (enum x86_reg) holding SysV argument i at `offset`, -1 when
	 * argument i was not asked for. An argument moved by `mov %rdi,%rsi`
	 * before the probe is found in its new register. */
	int8_t arg_reg[ATTACH_NR_ARGS];
};

/* Pick the first instruction of the function in code[0, len) that the kernel
 * emulates, such that every instruction before it falls through, none moves
 * %rsp (if F_STACK), the arguments in arg_mask (ATTACH_ARG bits) are still in
 * some register, and no direct branch in the body targets (0, offset].
 * `addr` is the function's address (virtual or file offset: only its page
 * offset matters, for the 5-byte nop rule). Always fills *ap. Returns 0 when
 * ap->offset is emulated, -ENOENT when the caller must probe the entry
 * (ap->reason says why), -EINVAL on NULL or empty input. */
int attach_point__find(const void *code, size_t len, uint64_t addr, unsigned int arg_mask,
		       unsigned int flags, struct attach_point *ap);

/* "push (emulated)" etc.; never NULL. */
const char *attach_point__reason_str(unsigned int reason);
/* "rdi" etc. for enum x86_reg; "?" when out of range. */
const char *x86_reg_name(int reg);

/* ---- The x86-64 length decoder underneath, exposed for tests and tools. ---- */

enum x86_flow {
	X86_FLOW_NEXT,	 /* falls through */
	X86_FLOW_JCC,	 /* conditional, direct: rel */
	X86_FLOW_JMP,	 /* unconditional, direct: rel */
	X86_FLOW_CALL,	 /* direct call: rel */
	X86_FLOW_LOOP,	 /* loop/loopcc/jrcxz/xbegin: conditional, direct, not emulated */
	X86_FLOW_OTHER,	 /* ret, indirect jmp/call, syscall, int, ud2, hlt ... */
};

struct x86_insn {
	uint8_t len;
	uint8_t map;	   /* 0: one-byte, 1: 0f, 2: 0f38, 3: 0f3a (also VEX/EVEX mmm) */
	uint8_t opcode;	   /* the opcode byte within its map */
	uint8_t modrm;	   /* valid if has_modrm */
	uint8_t has_modrm;
	uint8_t sib;	   /* valid if has_sib */
	uint8_t has_sib;
	uint8_t rex;	   /* REX byte in effect, 0 if none */
	uint8_t vex;	   /* 0, 2 (c5), 3 (c4) or 4 (62 = EVEX) */
	uint8_t vex_w;	   /* VEX/EVEX W bit */
	uint8_t p66, pf2, pf3, pseg, plock; /* legacy prefixes seen (pseg: es/cs/ss/ds) */
	uint8_t rip_rel;   /* ModRM addresses [rip + disp32] */
	uint8_t flow;	   /* enum x86_flow */
	int64_t rel;	   /* branch displacement from the end of the insn, if direct */
	int64_t imm;	   /* the (first) immediate, sign-extended; 0 if none */
	int32_t disp;	   /* ModRM displacement, sign-extended; 0 if none */
};

/* Decode one instruction at code[0, len) in 64-bit mode. Returns its length
 * (1..15), -ENODATA if it runs past len, -EOPNOTSUPP for opcodes the decoder
 * does not know or that are invalid in 64-bit mode. */
int x86_insn_decode(const void *code, size_t len, struct x86_insn *insn);

#endif
