// SPDX-License-Identifier: Apache-2.0
/* attach_point: an x86-64 instruction length decoder plus the prologue walk
 * that finds the first instruction the kernel's uprobe code emulates
 * (arch/x86/kernel/uprobes.c: branch_setup_xol_ops, push_setup_xol_ops and,
 * since 6.18, the 5-byte-nop optimisation). The rules this file encodes, with
 * the measurements behind them, are in docs/heap-probes.md. */
#include <errno.h>
#include <string.h>

#include "collect/attach_point.h"

/* Immediate operand kinds of the one-byte and 0f opcode maps. */
enum imm_kind {
	IMM_NONE,
	IMM_B,	   /* 8 bits */
	IMM_W,	   /* 16 bits */
	IMM_Z,	   /* 16 with 66, else 32 (REX.W keeps it 32, sign-extended) */
	IMM_V,	   /* mov r, imm: 64 with REX.W, 16 with 66, else 32 */
	IMM_MOFFS, /* mov al/ax, [moffs]: 64-bit address, 32 with 67 */
	IMM_WB,	   /* enter: 16 + 8 */
	IMM_REL8,
	IMM_REL32,
};

#define A_MODRM 0x10
#define A_BAD 0x20 /* invalid in 64-bit mode or not supported by this decoder */
#define A_IMM(a) ((a) & 0x0f)

/* Attributes of the one-byte map (legacy prefixes, REX, VEX/EVEX escapes and
 * 0f are handled before this is consulted). */
static unsigned int onebyte_attr(uint8_t op)
{
	if (op < 0x40) {
		switch (op & 7) {
		case 4:
			return IMM_B;
		case 5:
			return IMM_Z;
		case 6:
		case 7: /* push/pop seg, daa/das/aaa/aas: invalid in 64-bit mode */
			return A_BAD;
		default:
			return A_MODRM;
		}
	}
	if (op >= 0x50 && op <= 0x5f)
		return IMM_NONE;
	if (op >= 0x70 && op <= 0x7f)
		return IMM_REL8;
	if (op >= 0x84 && op <= 0x8f)
		return A_MODRM;
	if ((op >= 0x90 && op <= 0x99) || (op >= 0x9b && op <= 0x9f))
		return IMM_NONE;
	if (op >= 0xa0 && op <= 0xa3)
		return IMM_MOFFS;
	if ((op >= 0xa4 && op <= 0xa7) || (op >= 0xaa && op <= 0xaf))
		return IMM_NONE;
	if (op >= 0xb0 && op <= 0xb7)
		return IMM_B;
	if (op >= 0xb8 && op <= 0xbf)
		return IMM_V;
	if (op >= 0xd8 && op <= 0xdf)
		return A_MODRM; /* x87 */
	if (op >= 0xe0 && op <= 0xe7)
		return op <= 0xe3 ? IMM_REL8 : IMM_B; /* loop/jrcxz, in/out imm */
	switch (op) {
	case 0x63:
		return A_MODRM;
	case 0x68:
		return IMM_Z;
	case 0x69:
		return A_MODRM | IMM_Z;
	case 0x6a:
		return IMM_B;
	case 0x6b:
		return A_MODRM | IMM_B;
	case 0x6c: case 0x6d: case 0x6e: case 0x6f:
		return IMM_NONE;
	case 0x80: case 0x83: case 0xc0: case 0xc1: case 0xc6:
		return A_MODRM | IMM_B;
	case 0x81: case 0xc7:
		return A_MODRM | IMM_Z;
	case 0xa8:
		return IMM_B;
	case 0xa9:
		return IMM_Z;
	case 0xc2: case 0xca:
		return IMM_W;
	case 0xc3: case 0xc9: case 0xcb: case 0xcc: case 0xcf:
		return IMM_NONE;
	case 0xc8:
		return IMM_WB;
	case 0xcd:
		return IMM_B;
	case 0xd0: case 0xd1: case 0xd2: case 0xd3:
		return A_MODRM;
	case 0xd7:
		return IMM_NONE;
	case 0xe8: case 0xe9:
		return IMM_REL32;
	case 0xeb:
		return IMM_REL8;
	case 0xec: case 0xed: case 0xee: case 0xef:
	case 0xf1: case 0xf4: case 0xf5:
	case 0xf8: case 0xf9: case 0xfa: case 0xfb: case 0xfc: case 0xfd:
		return IMM_NONE;
	case 0xf6: case 0xf7: case 0xfe: case 0xff:
		return A_MODRM; /* f6/f7 /0,/1 add an immediate: see below */
	default: /* 60-62, 82, 9a, c4/c5, ce, d4-d6, ea: invalid or escapes */
		return A_BAD;
	}
}

/* Attributes of the 0f map. */
static unsigned int twobyte_attr(uint8_t op)
{
	if ((op >= 0x10 && op <= 0x23) || (op >= 0x28 && op <= 0x2f) ||
	    (op >= 0x40 && op <= 0x6f) || (op >= 0x74 && op <= 0x76) ||
	    (op >= 0x7c && op <= 0x7f) || (op >= 0x90 && op <= 0x9f) ||
	    (op >= 0xb0 && op <= 0xb9) || (op >= 0xbb && op <= 0xc1) || op >= 0xd0)
		return A_MODRM;
	if (op >= 0x70 && op <= 0x73)
		return A_MODRM | IMM_B;
	if (op >= 0x80 && op <= 0x8f)
		return IMM_REL32;
	if (op >= 0xc8 && op <= 0xcf)
		return IMM_NONE; /* bswap */
	switch (op) {
	case 0x00: case 0x01: case 0x02: case 0x03: case 0x0d:
	case 0x78: case 0x79: case 0xa3: case 0xa5: case 0xab:
	case 0xad: case 0xae: case 0xaf: case 0xc3: case 0xc7:
		return A_MODRM;
	case 0x05: case 0x06: case 0x07: case 0x08: case 0x09:
	case 0x0b: case 0x0e: case 0x30: case 0x31: case 0x32:
	case 0x33: case 0x34: case 0x35: case 0x37: case 0x77:
	case 0xa0: case 0xa1: case 0xa2: case 0xa8: case 0xa9: case 0xaa:
		return IMM_NONE;
	case 0xa4: case 0xac: case 0xba: case 0xc2: case 0xc4: case 0xc5: case 0xc6:
		return A_MODRM | IMM_B;
	default: /* 04, 0a, 0c, 0f (3DNow!), 24-27, 36, 39-3f, 7a, 7b, a6, a7 */
		return A_BAD;
	}
}

/* Immediate-bearing opcodes of VEX/EVEX map 1 (the 0f map's SIMD subset). */
static int vex_map1_has_ib(uint8_t op)
{
	return (op >= 0x70 && op <= 0x73) || op == 0xc2 || (op >= 0xc4 && op <= 0xc6);
}

static enum x86_flow flow_of(const struct x86_insn *in)
{
	unsigned int reg = (in->modrm >> 3) & 7;

	if (in->vex)
		return X86_FLOW_NEXT;
	if (in->map == 1) {
		if (in->opcode >= 0x80 && in->opcode <= 0x8f)
			return X86_FLOW_JCC;
		switch (in->opcode) {
		case 0x00: case 0x01: /* system groups, incl. xend/vmcall */
		case 0x05: case 0x07: case 0x0b: case 0x34: case 0x35:
		case 0xb9: case 0xff: /* ud1, ud0 */
			return X86_FLOW_OTHER;
		}
		return X86_FLOW_NEXT;
	}
	if (in->map)
		return X86_FLOW_NEXT;
	if (in->opcode >= 0x70 && in->opcode <= 0x7f)
		return X86_FLOW_JCC;
	switch (in->opcode) {
	case 0xeb: case 0xe9:
		return X86_FLOW_JMP;
	case 0xe8:
		return X86_FLOW_CALL;
	case 0xe0: case 0xe1: case 0xe2: case 0xe3:
		return X86_FLOW_LOOP;
	case 0xc7:
		return in->modrm == 0xf8 ? X86_FLOW_LOOP : X86_FLOW_NEXT; /* xbegin */
	case 0xc6:
		return in->modrm == 0xf8 ? X86_FLOW_OTHER : X86_FLOW_NEXT; /* xabort */
	case 0xc2: case 0xc3: case 0xca: case 0xcb: case 0xcc:
	case 0xcd: case 0xcf: case 0xf1: case 0xf4:
		return X86_FLOW_OTHER;
	case 0xff:
		return reg >= 2 && reg <= 5 ? X86_FLOW_OTHER : X86_FLOW_NEXT;
	}
	return X86_FLOW_NEXT;
}

static int64_t read_le(const uint8_t *p, unsigned int n)
{
	uint64_t v = 0;

	for (unsigned int i = 0; i < n; i++)
		v |= (uint64_t)p[i] << (8 * i);
	if (n && n < 8 && (v >> (8 * n - 1)) & 1) /* sign-extend */
		v |= ~0ULL << (8 * n);
	return (int64_t)v;
}

int x86_insn_decode(const void *code, size_t len, struct x86_insn *in)
{
	const uint8_t *p = code;
	size_t max = len < 15 ? len : 15, i = 0;
	unsigned int attr, imm = 0, rel = 0, addr32 = 0;
	uint8_t b;

	if (!p || !in)
		return -EINVAL;
	memset(in, 0, sizeof(*in));

	/* Legacy prefixes, then at most one REX that must touch the opcode. */
	for (;; i++) {
		if (i >= max)
			return len < 15 ? -ENODATA : -EOPNOTSUPP;
		b = p[i];
		if (b >= 0x40 && b <= 0x4f) {
			in->rex = b;
			continue;
		}
		if (b == 0x66) {
			in->p66 = 1;
		} else if (b == 0xf2) {
			in->pf2 = 1;
			in->pf3 = 0;
		} else if (b == 0xf3) {
			in->pf3 = 1;
			in->pf2 = 0;
		} else if (b == 0xf0) {
			in->plock = 1;
		} else if (b == 0x26 || b == 0x2e || b == 0x36 || b == 0x3e) {
			in->pseg = 1;
		} else if (b == 0x67) {
			addr32 = 1; /* only moffs changes length in 64-bit mode */
		} else if (b != 0x64 && b != 0x65) { /* fs/gs: no effect on length */
			break;
		}
		in->rex = 0; /* a REX followed by a legacy prefix is ignored */
	}

	b = p[i++];
	if (b == 0xc4 || b == 0xc5 || b == 0x62) {
		/* VEX/EVEX: no REX, 66, f2, f3 or lock may precede them. */
		unsigned int nbytes = b == 0xc5 ? 1 : b == 0xc4 ? 2 : 3, pp;

		if (in->rex || in->p66 || in->pf2 || in->pf3 || in->plock)
			return -EOPNOTSUPP;
		if (i + nbytes >= max)
			return len < 15 && i + nbytes >= len ? -ENODATA : -EOPNOTSUPP;
		in->vex = b == 0xc5 ? 2 : b == 0xc4 ? 3 : 4;
		if (b == 0xc5) {
			in->map = 1;
			pp = p[i] & 3;
		} else if (b == 0xc4) {
			in->map = p[i] & 0x1f;
			in->vex_w = p[i + 1] >> 7;
			pp = p[i + 1] & 3;
		} else {
			in->map = p[i] & 7;
			in->vex_w = p[i + 1] >> 7;
			pp = p[i + 1] & 3;
			if (!(p[i + 1] & 0x04)) /* EVEX P1 bit 2 is fixed to 1 */
				return -EOPNOTSUPP;
		}
		if (in->map < 1 || in->map > 3)
			return -EOPNOTSUPP;
		in->p66 = pp == 1;
		in->pf3 = pp == 2;
		in->pf2 = pp == 3;
		i += nbytes;
		in->opcode = p[i++];
		/* vzeroupper/vzeroall are the only VEX opcodes without ModRM. */
		attr = (in->vex != 4 && in->map == 1 && in->opcode == 0x77) ? IMM_NONE : A_MODRM;
		if (in->map == 3 || (in->map == 1 && vex_map1_has_ib(in->opcode)))
			attr |= IMM_B;
	} else if (b == 0x0f) {
		if (i >= max)
			return len < 15 ? -ENODATA : -EOPNOTSUPP;
		b = p[i++];
		if (b == 0x38 || b == 0x3a) {
			if (i >= max)
				return len < 15 ? -ENODATA : -EOPNOTSUPP;
			in->map = b == 0x38 ? 2 : 3;
			in->opcode = p[i++];
			attr = A_MODRM | (in->map == 3 ? IMM_B : IMM_NONE);
		} else {
			in->map = 1;
			in->opcode = b;
			attr = twobyte_attr(b);
			/* extrq/insertq (66/f2 0f 78) carry two immediates. */
			if (b == 0x78 && (in->p66 || in->pf2))
				return -EOPNOTSUPP;
		}
	} else {
		in->opcode = b;
		attr = onebyte_attr(b);
	}
	if (attr & A_BAD)
		return -EOPNOTSUPP;

	if (attr & A_MODRM) {
		unsigned int mod, rm;

		if (i >= max)
			return len < 15 ? -ENODATA : -EOPNOTSUPP;
		in->modrm = p[i++];
		in->has_modrm = 1;
		mod = in->modrm >> 6;
		rm = in->modrm & 7;
		/* 8f /1-7 is AMD's XOP escape, which this decoder does not know. */
		if (!in->map && in->opcode == 0x8f && ((in->modrm >> 3) & 7))
			return -EOPNOTSUPP;
		if (mod != 3) {
			unsigned int disp = mod == 1 ? 1 : mod == 2 ? 4 : 0;

			if (rm == 4) { /* SIB */
				if (i >= max)
					return len < 15 ? -ENODATA : -EOPNOTSUPP;
				if (mod == 0 && (p[i] & 7) == 5)
					disp = 4;
				in->sib = p[i++];
				in->has_sib = 1;
			} else if (mod == 0 && rm == 5) {
				disp = 4;
				in->rip_rel = 1;
			}
			if (disp && i + disp <= max)
				in->disp = (int32_t)read_le(p + i, disp);
			i += disp;
		}
		if (!in->map && (in->opcode == 0xf6 || in->opcode == 0xf7) &&
		    ((in->modrm >> 3) & 7) < 2)
			attr |= in->opcode == 0xf6 ? IMM_B : IMM_Z;
	}
	if (in->vex)
		in->rex = 0;

	switch (A_IMM(attr)) {
	case IMM_B:
		imm = 1;
		break;
	case IMM_W:
		imm = 2;
		break;
	case IMM_Z:
		imm = in->p66 && !(in->rex & 8) ? 2 : 4;
		break;
	case IMM_V:
		imm = in->rex & 8 ? 8 : in->p66 ? 2 : 4;
		break;
	case IMM_MOFFS:
		imm = addr32 ? 4 : 8;
		break;
	case IMM_WB:
		imm = 3;
		break;
	case IMM_REL8:
		imm = rel = 1;
		break;
	case IMM_REL32:
		imm = rel = 4;
		break;
	}
	if (!in->map && in->opcode == 0xc7 && in->modrm == 0xf8)
		rel = imm; /* xbegin rel16/32 */
	if (i + imm > max)
		return len < 15 && i + imm > len ? -ENODATA : -EOPNOTSUPP;
	if (rel)
		in->rel = read_le(p + i + imm - rel, rel);
	else if (imm)
		in->imm = read_le(p + i, imm == 3 ? 2 : imm);
	i += imm;
	in->len = (uint8_t)i;
	in->flow = flow_of(in);
	return (int)i;
}

/* The nop encodings the kernel emulates (x86_nops[1..8] in
 * arch/x86/include/asm/nops.h; 9-11 carry a cs prefix, which uprobes refuse). */
static const uint8_t kernel_nops[9][8] = {
	[1] = { 0x90 },
	[2] = { 0x66, 0x90 },
	[3] = { 0x0f, 0x1f, 0x00 },
	[4] = { 0x0f, 0x1f, 0x40, 0x00 },
	[5] = { 0x0f, 0x1f, 0x44, 0x00, 0x00 },
	[6] = { 0x66, 0x0f, 0x1f, 0x44, 0x00, 0x00 },
	[7] = { 0x0f, 0x1f, 0x80, 0x00, 0x00, 0x00, 0x00 },
	[8] = { 0x0f, 0x1f, 0x84, 0x00, 0x00, 0x00, 0x00, 0x00 },
};

#define NOT_EMULATED ATTACH_POINT__NR_REASONS

/* Does the kernel emulate this instruction (no single-step), and how?
 * Mirrors arch_uprobe_analyze_insn(): cs/ds/es/ss/lock prefixes are refused
 * outright, branch and nop emulation come first, push second. */
static unsigned int kernel_emulation(const struct x86_insn *in, const uint8_t *p, uint64_t addr,
				     unsigned int flags)
{
	int recent = !(flags & ATTACH_POINT_F_OLD_KERNEL);

	if (in->pseg || in->plock || in->vex)
		return NOT_EMULATED;
	if (recent && in->len == 5 && ((!in->map && in->opcode == 0x90 && !(in->rex & 1)) ||
			     (in->map == 1 && in->opcode == 0x1f && !((in->modrm >> 3) & 7)))) {
		/* can_optimize(): a 5-byte nop that does not cross a page. */
		if ((addr & 4095) <= 4096 - 5)
			return ATTACH_POINT_NOP5;
	}
	if (recent && in->len <= 8 && !memcmp(p, kernel_nops[in->len], in->len))
		return ATTACH_POINT_NOP;
	if (!in->map && in->opcode == 0x90 && !(in->rex & 1))
		return ATTACH_POINT_NOP; /* prefixed nop, pause; 41 90 is xchg %eax,%r8d */
	if (in->flow == X86_FLOW_JCC || in->flow == X86_FLOW_JMP || in->flow == X86_FLOW_CALL)
		return in->p66 ? NOT_EMULATED : in->flow == X86_FLOW_JCC ? ATTACH_POINT_JCC
						 : in->flow == X86_FLOW_JMP ? ATTACH_POINT_JMP
									    : ATTACH_POINT_CALL;
	if (!in->map && in->opcode >= 0x50 && in->opcode <= 0x57 &&
	    (in->len == 1 || (in->len == 2 && in->rex == 0x41)))
		return ATTACH_POINT_PUSH;
	return NOT_EMULATED;
}

#define ALL_GPRS 0xffffu
#define BIT(r) (1u << (r))

/* General-purpose registers an instruction may write, over-approximated:
 * an unknown writer clobbers everything, which only costs a fallback. Also
 * reports a full 64-bit register-to-register copy in *src and *dst. */
static unsigned int gpr_writes(const struct x86_insn *in, int *src, int *dst)
{
	unsigned int reg = ((in->modrm >> 3) & 7) | (in->rex & 4 ? 8 : 0);
	unsigned int rm = (in->modrm & 7) | (in->rex & 1 ? 8 : 0);
	unsigned int rm_w = in->has_modrm && (in->modrm >> 6) == 3 ? BIT(rm) : 0;
	unsigned int low = (in->opcode & 7) | (in->rex & 1 ? 8 : 0);
	unsigned int ext = (in->modrm >> 3) & 7;
	uint8_t op = in->opcode;

	*src = *dst = -1;
	if (in->vex) {
		/* GPR destinations among VEX/EVEX ops: vmovd/q to r/m, vmovmsk,
		 * vpmovmskb, vpextr*, vcvt*2si, kmov to GPR and BMI1/2. */
		if ((in->map == 1 && (op == 0x50 || op == 0x7e || op == 0x93 || op == 0xc5 ||
				      op == 0xd7 || op == 0x2c || op == 0x2d)) ||
		    (in->map == 3 && op >= 0x14 && op <= 0x17) || (in->map >= 2 && op >= 0xf0))
			return ALL_GPRS;
		return 0;
	}
	if (in->map == 2) /* movbe, crc32, adcx/adox write a GPR; the rest SIMD */
		return op >= 0xf0 ? ALL_GPRS : 0;
	if (in->map == 3) /* pextrb/w/d/q, extractps */
		return op >= 0x14 && op <= 0x17 ? rm_w : 0;
	if (in->map == 1) {
		if (op >= 0x40 && op <= 0x4f)
			return BIT(reg); /* cmovcc */
		if (op >= 0x90 && op <= 0x9f)
			return rm_w; /* setcc */
		if (op >= 0xc8)
			return op <= 0xcf ? BIT(low) : op == 0xd7 ? BIT(reg) : 0;
		switch (op) {
		case 0x0d: case 0x18: case 0x19: case 0x1a: case 0x1b:
		case 0x1c: case 0x1d: case 0x1f:
			return 0; /* prefetch, hint nops */
		case 0x1e: /* endbr64/32 write nothing; rdsspd/q (f3 0f 1e /1) do */
			return in->pf3 && ext == 1 ? rm_w : 0;
		case 0x10: case 0x11: case 0x12: case 0x13: case 0x14:
		case 0x15: case 0x16: case 0x17: case 0x28: case 0x29:
		case 0x2a: case 0x2b: case 0x2e: case 0x2f:
			return 0; /* SSE moves, unpck, cvtsi2ss, (u)comis */
		case 0x2c: case 0x2d: case 0x50:
			return BIT(reg); /* cvt(t)s*2si, movmskp* */
		case 0x7e: /* movd/movq to r/m unless f3 (xmm to xmm) */
			return in->pf3 ? 0 : rm_w;
		case 0x31:
			return BIT(X86_RAX) | BIT(X86_RDX); /* rdtsc */
		case 0xa2:
			return BIT(X86_RAX) | BIT(X86_RBX) | BIT(X86_RCX) | BIT(X86_RDX);
		case 0xa0: case 0xa8:
			return BIT(X86_RSP); /* push fs/gs */
		case 0xa1: case 0xa9:
			return BIT(X86_RSP); /* pop fs/gs */
		case 0xa3:
			return 0; /* bt */
		case 0xab: case 0xb3: case 0xbb: case 0xa4: case 0xa5: case 0xac: case 0xad:
			return rm_w;
		case 0xba:
			return ext >= 5 ? rm_w : 0;
		case 0xaf: case 0xb6: case 0xb7: case 0xbe: case 0xbf:
		case 0xb8: case 0xbc: case 0xbd: case 0xc5:
			return BIT(reg);
		case 0xb0: case 0xb1:
			return rm_w | BIT(X86_RAX);
		case 0xc0: case 0xc1:
			return rm_w | BIT(reg);
		case 0xc2: case 0xc3: case 0xc4: case 0xc6:
			return 0; /* cmpps, movnti (memory), pinsrw, shufps */
		case 0xae: /* fences, fxsave...; f3 0f ae /0,/1: rd{fs,gs}base */
			return in->pf3 && ext <= 1 ? rm_w : 0;
		}
		if (op >= 0x51 && op <= 0x7f)
			return 0; /* SSE/MMX arithmetic and moves into vector regs */
		if (op >= 0xd0)
			return 0;
		return ALL_GPRS;
	}

	/* One-byte map. */
	if (op < 0x40) {
		if ((op >> 3) == 7)
			return 0; /* cmp */
		switch (op & 7) {
		case 0: case 1:
			return rm_w;
		case 2: case 3:
			return BIT(reg);
		default:
			return BIT(X86_RAX);
		}
	}
	if (op >= 0x50 && op <= 0x57)
		return BIT(X86_RSP);
	if (op >= 0x58 && op <= 0x5f)
		return BIT(X86_RSP) | BIT(low);
	if (op >= 0x70 && op <= 0x7f)
		return 0;
	if (op >= 0x91 && op <= 0x97)
		return BIT(X86_RAX) | BIT(low);
	if (op >= 0xb0 && op <= 0xbf)
		return BIT(low);
	if (op >= 0xd8 && op <= 0xdf) /* x87; fnstsw %ax */
		return op == 0xdf && in->modrm == 0xe0 ? BIT(X86_RAX) : 0;
	switch (op) {
	case 0x63: case 0x69: case 0x6b: case 0x8d:
		return BIT(reg);
	case 0x68: case 0x6a: case 0x9c: case 0x9d:
		return BIT(X86_RSP);
	case 0x84: case 0x85: case 0x8e: case 0xa2: case 0xa3: case 0xa8: case 0xa9:
	case 0x9b: case 0x9e: case 0xf5: case 0xf8: case 0xf9: case 0xfc: case 0xfd:
		return 0;
	case 0x90:
		return in->rex & 1 ? BIT(X86_RAX) | BIT(X86_R8) : 0;
	case 0x80: case 0x81: case 0x83:
		return ext == 7 ? 0 : rm_w;
	case 0x86: case 0x87:
		return rm_w | BIT(reg);
	case 0x88: case 0x8c:
		return rm_w;
	case 0x89:
		if (rm_w && (in->rex & 8))
			*src = (int)reg, *dst = (int)rm;
		return rm_w;
	case 0x8a:
		return BIT(reg);
	case 0x8b:
		if (rm_w && (in->rex & 8))
			*src = (int)rm, *dst = (int)reg;
		return BIT(reg);
	case 0x8f:
		return BIT(X86_RSP) | rm_w;
	case 0x98: case 0x9f: case 0xa0: case 0xa1:
		return BIT(X86_RAX);
	case 0x99:
		return BIT(X86_RDX);
	case 0xa4: case 0xa5: case 0xa6: case 0xa7:
		return BIT(X86_RSI) | BIT(X86_RDI) | BIT(X86_RCX);
	case 0xaa: case 0xab: case 0xae: case 0xaf:
		return BIT(X86_RDI) | BIT(X86_RCX);
	case 0xac: case 0xad:
		return BIT(X86_RAX) | BIT(X86_RSI) | BIT(X86_RCX);
	case 0xc0: case 0xc1: case 0xd0: case 0xd1: case 0xd2: case 0xd3:
		return rm_w;
	case 0xc6: case 0xc7:
		return ext == 0 ? rm_w : ALL_GPRS;
	case 0xc8: case 0xc9:
		return BIT(X86_RSP) | BIT(X86_RBP);
	case 0xf6: case 0xf7:
		return ext < 2 ? 0 : ext < 4 ? rm_w : BIT(X86_RAX) | BIT(X86_RDX);
	case 0xfe:
		return ext < 2 ? rm_w : ALL_GPRS;
	case 0xff:
		return ext < 2 ? rm_w : ext == 6 ? BIT(X86_RSP) : ALL_GPRS;
	}
	return ALL_GPRS;
}

/* Smallest target in (0, len) of any direct branch in the body, or len when
 * there is none; -1 when the body cannot be decoded to its end. */
static long first_internal_target(const uint8_t *p, size_t len)
{
	long first = (long)len;
	size_t off = 0;

	while (off < len) {
		struct x86_insn in;
		int n = x86_insn_decode(p + off, len - off, &in);

		if (n < 0)
			return -1;
		off += (size_t)n;
		if (in.flow == X86_FLOW_JCC || in.flow == X86_FLOW_JMP || in.flow == X86_FLOW_CALL ||
		    in.flow == X86_FLOW_LOOP) {
			int64_t t = (int64_t)off + in.rel;

			if (t > 0 && t < first)
				first = (long)t;
		}
	}
	return first;
}

/* How an instruction that writes %rsp moves it: the change in bytes pushed
 * since entry (push: +8), or INT32_MIN when the walk cannot tell. */
static int32_t rsp_push_delta(const struct x86_insn *in)
{
	unsigned int ext = (in->modrm >> 3) & 7;
	int rm_is_rsp = in->has_modrm && (in->modrm >> 6) == 3 && (in->modrm & 7) == X86_RSP &&
			!(in->rex & 1);

	if (in->vex || in->p66)
		return INT32_MIN;
	if (!in->map) {
		if ((in->opcode >= 0x50 && in->opcode <= 0x57) || in->opcode == 0x68 ||
		    in->opcode == 0x6a || in->opcode == 0x9c || (in->opcode == 0xff && ext == 6))
			return 8;
		if (in->opcode >= 0x58 && in->opcode <= 0x5f) /* pop %rsp is a load */
			return (in->opcode & 7) == X86_RSP && !(in->rex & 1) ? INT32_MIN : -8;
		if (in->opcode == 0x9d)
			return -8;
		if ((in->opcode == 0x81 || in->opcode == 0x83) && rm_is_rsp && (in->rex & 8) &&
		    (ext == 0 || ext == 5))
			return (int32_t)(ext == 5 ? in->imm : -in->imm);
		/* lea disp(%rsp),%rsp: SIB 0x24 is base %rsp, no index */
		if (in->opcode == 0x8d && (in->rex & 8) && !(in->rex & 7) &&
		    ((in->modrm >> 3) & 7) == X86_RSP && (in->modrm >> 6) != 3 &&
		    (in->modrm & 7) == 4 && in->sib == 0x24)
			return -in->disp;
	}
	return INT32_MIN;
}

static int8_t arg_location(const int8_t vals[X86_NR_GPRS], int arg_reg)
{
	if (vals[arg_reg] == arg_reg)
		return (int8_t)arg_reg;
	for (int r = 0; r < X86_NR_GPRS; r++)
		if (vals[r] == arg_reg)
			return (int8_t)r;
	return -1;
}

static const int sysv_args[ATTACH_NR_ARGS] = { X86_RDI, X86_RSI, X86_RDX, X86_RCX, X86_R8, X86_R9 };

int attach_point__find(const void *code, size_t len, uint64_t addr, unsigned int arg_mask,
		       unsigned int flags, struct attach_point *ap)
{
	const uint8_t *p = code;
	int8_t vals[X86_NR_GPRS]; /* vals[r]: which entry register's value r holds, -1: none */
	long first_target = -2;	  /* lazily computed: the body sweep is O(function) */
	unsigned int reason = ATTACH_POINT_TOO_FAR;
	size_t off = 0;
	int rsp_moved = 0;
	int32_t pushed = 0; /* bytes between %rsp and the return address; <0: unknown */

	if (!ap)
		return -EINVAL;
	memset(ap, 0, sizeof(*ap));
	memset(ap->arg_reg, -1, sizeof(ap->arg_reg));
	if (!p || !len) {
		ap->reason = ATTACH_POINT_UNDECODABLE;
		return -EINVAL;
	}
	for (int r = 0; r < X86_NR_GPRS; r++)
		vals[r] = (int8_t)r;
	arg_mask &= (1u << ATTACH_NR_ARGS) - 1;

	for (unsigned int n = 0; n < ATTACH_POINT_MAX_INSNS && off < ATTACH_POINT_MAX_BYTES; n++) {
		struct x86_insn in;
		unsigned int kind, writes, missing = 0;
		int ret = x86_insn_decode(p + off, len - off, &in), src, dst;

		if (ret < 0) {
			reason = ATTACH_POINT_UNDECODABLE;
			break;
		}
		for (int a = 0; a < ATTACH_NR_ARGS; a++)
			if ((arg_mask & ATTACH_ARG(a)) && arg_location(vals, sysv_args[a]) < 0)
				missing = 1;
		if (missing) {
			reason = ATTACH_POINT_ARG_CLOBBERED;
			break;
		}
		if ((flags & ATTACH_POINT_F_STACK) && rsp_moved) {
			reason = ATTACH_POINT_STACK_MOVED;
			break;
		}
		kind = kernel_emulation(&in, p + off, addr + off, flags);
		if (kind != NOT_EMULATED) {
			if (off && !(flags & ATTACH_POINT_F_PARTIAL)) {
				if (first_target == -2)
					first_target = len > ATTACH_POINT_MAX_FUNC
							       ? -1
							       : first_internal_target(p, len);
				if (first_target < 0) {
					reason = ATTACH_POINT_BODY_UNDECODABLE;
					break;
				}
				if ((size_t)first_target <= off) {
					reason = ATTACH_POINT_BACKEDGE;
					break;
				}
			} else if (off) {
				/* Even a partial view must not see a branch back into
				 * the prologue within the bytes it has. */
				long t = first_internal_target(p, off + (size_t)ret);

				if (t >= 0 && (size_t)t <= off) {
					reason = ATTACH_POINT_BACKEDGE;
					break;
				}
			}
			ap->offset = (uint32_t)off;
			ap->reason = kind;
			ap->insn_len = in.len;
			ap->skipped = (uint8_t)n;
			ap->stack_intact = !rsp_moved;
			ap->rbp_intact = vals[X86_RBP] == X86_RBP;
			ap->kernel_adds_caller = p[off] == 0x55;
			ap->ra_offset = pushed >= 0 && pushed <= INT16_MAX ? (int16_t)pushed : -1;
			if (kind == ATTACH_POINT_JCC || kind == ATTACH_POINT_JMP ||
			    kind == ATTACH_POINT_CALL)
				ap->target = (int64_t)(off + in.len) + in.rel;
			for (int a = 0; a < ATTACH_NR_ARGS; a++)
				if (arg_mask & ATTACH_ARG(a))
					ap->arg_reg[a] = arg_location(vals, sysv_args[a]);
			return 0;
		}
		if (in.flow != X86_FLOW_NEXT) {
			reason = ATTACH_POINT_BRANCH;
			break;
		}
		writes = gpr_writes(&in, &src, &dst);
		if (src >= 0) {
			vals[dst] = vals[src];
		} else {
			for (int r = 0; r < X86_NR_GPRS; r++)
				if (writes & BIT(r))
					vals[r] = -1;
		}
		if (writes & BIT(X86_RSP)) {
			int32_t d = rsp_push_delta(&in);

			int64_t sum = (int64_t)pushed + d;

			rsp_moved = 1;
			/* Frames beyond 1 MiB are not prologues: give up on them. */
			pushed = pushed < 0 || d == INT32_MIN || sum < 0 || sum > (1 << 20) ? -1
											   : (int32_t)sum;
		}
		off += (size_t)ret;
		if (off >= len) {
			reason = ATTACH_POINT_UNDECODABLE;
			break;
		}
	}

	/* Fall back to the entry: what it is, for the caller's logs. */
	ap->offset = 0;
	ap->reason = reason;
	ap->stack_intact = 1;
	ap->rbp_intact = 1;
	ap->kernel_adds_caller = p[0] == 0x55 || (len >= 4 && !memcmp(p, "\xf3\x0f\x1e\xfa", 4));
	{
		struct x86_insn in;
		int ret = x86_insn_decode(p, len, &in);

		ap->insn_len = ret > 0 ? (uint8_t)ret : 0;
	}
	for (int a = 0; a < ATTACH_NR_ARGS; a++)
		if (arg_mask & ATTACH_ARG(a))
			ap->arg_reg[a] = (int8_t)sysv_args[a];
	return -ENOENT;
}

const char *attach_point__reason_str(unsigned int reason)
{
	static const char *const names[ATTACH_POINT__NR_REASONS] = {
		[ATTACH_POINT_PUSH] = "push (emulated)",
		[ATTACH_POINT_JCC] = "jcc (emulated)",
		[ATTACH_POINT_JMP] = "jmp (emulated)",
		[ATTACH_POINT_CALL] = "call (emulated)",
		[ATTACH_POINT_NOP] = "nop (emulated)",
		[ATTACH_POINT_NOP5] = "5-byte nop (optimized to a trampoline call)",
		[ATTACH_POINT_UNDECODABLE] = "undecodable instruction before an emulated one",
		[ATTACH_POINT_BRANCH] = "non-emulated control transfer first",
		[ATTACH_POINT_ARG_CLOBBERED] = "argument register overwritten first",
		[ATTACH_POINT_STACK_MOVED] = "stack pointer moved first",
		[ATTACH_POINT_BACKEDGE] = "branch into the prologue",
		[ATTACH_POINT_BODY_UNDECODABLE] = "body undecodable, prologue unverified",
		[ATTACH_POINT_TOO_FAR] = "no emulated instruction in the prologue window",
	};

	return reason < ATTACH_POINT__NR_REASONS ? names[reason] : "unknown";
}

const char *x86_reg_name(int reg)
{
	static const char *const names[X86_NR_GPRS] = {
		"rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi",
		"r8",  "r9",  "r10", "r11", "r12", "r13", "r14", "r15",
	};

	return reg >= 0 && reg < X86_NR_GPRS ? names[reg] : "?";
}
