// SPDX-License-Identifier: Apache-2.0
/* attach_point: the x86-64 length decoder against hand-made bytes, against
 * `as`, and against objdump over whole real libraries; the attach point
 * chosen for the malloc family of glibc (shared and static), libstdc++ and
 * any other allocator installed, checked by an independent reading of
 * objdump's text; garbage and truncated input. */
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <link.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "collect/attach_point.h"
#include "harness.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* ---------------------------------------------------------------------- */
/* Hand-made byte sequences with known lengths.                            */

struct dcase {
	const char *name;
	uint8_t bytes[16];
	int len;	  /* expected decode result (length or -errno) */
	int flow;	  /* expected enum x86_flow when len > 0 */
	long long rel;	  /* expected displacement for direct branches */
};

void test_attach_point_decode_table(void)
{
	static const struct dcase cases[] = {
		{ "push rbp", { 0x55 }, 1, X86_FLOW_NEXT },
		{ "push r12", { 0x41, 0x54 }, 2, X86_FLOW_NEXT },
		{ "test rdi,rdi", { 0x48, 0x85, 0xff }, 3, X86_FLOW_NEXT },
		{ "je rel32", { 0x0f, 0x84, 0xbf, 0x00, 0x00, 0x00 }, 6, X86_FLOW_JCC, 0xbf },
		{ "je rel8 back", { 0x74, 0xfe }, 2, X86_FLOW_JCC, -2 },
		{ "jmp rel32", { 0xe9, 0x32, 0xf6, 0xff, 0xff }, 5, X86_FLOW_JMP, -0x9ce },
		{ "call rel32", { 0xe8, 0x00, 0x00, 0x00, 0x00 }, 5, X86_FLOW_CALL, 0 },
		{ "ret", { 0xc3 }, 1, X86_FLOW_OTHER },
		{ "ret imm16", { 0xc2, 0x08, 0x00 }, 3, X86_FLOW_OTHER },
		{ "jmp *rax (notrack)", { 0x3e, 0xff, 0xe0 }, 3, X86_FLOW_OTHER },
		{ "call *0x10(rax)", { 0xff, 0x50, 0x10 }, 3, X86_FLOW_OTHER },
		{ "cmpb $0,rip", { 0x80, 0x3d, 0x46, 0x1b, 0x14, 0x00, 0x00 }, 7, X86_FLOW_NEXT },
		{ "mov rsp+sib disp8", { 0x48, 0x89, 0x74, 0x24, 0x08 }, 5, X86_FLOW_NEXT },
		{ "mov (rsp)", { 0x48, 0x89, 0x3c, 0x24 }, 4, X86_FLOW_NEXT },
		{ "sib no base disp32", { 0x8b, 0x04, 0x25, 0x00, 0x00, 0x00, 0x00 }, 7, X86_FLOW_NEXT },
		{ "mov fs:0", { 0x64, 0x48, 0x03, 0x04, 0x25, 0, 0, 0, 0 }, 9, X86_FLOW_NEXT },
		{ "movabs imm64", { 0x48, 0xb8, 1, 2, 3, 4, 5, 6, 7, 8 }, 10, X86_FLOW_NEXT },
		{ "mov eax imm32", { 0xb8, 1, 0, 0, 0 }, 5, X86_FLOW_NEXT },
		{ "mov ax imm16", { 0x66, 0xb8, 1, 0 }, 4, X86_FLOW_NEXT },
		{ "add ax imm16", { 0x66, 0x05, 1, 0 }, 4, X86_FLOW_NEXT },
		{ "66 REX.W add imm32", { 0x66, 0x48, 0x05, 1, 0, 0, 0 }, 7, X86_FLOW_NEXT },
		{ "movl $1,fs:(rax)", { 0x64, 0xc7, 0x00, 0x0c, 0, 0, 0 }, 7, X86_FLOW_NEXT },
		{ "movw $1,disp32(rip)", { 0x66, 0xc7, 0x05, 0, 0, 0, 0, 1, 0 }, 9, X86_FLOW_NEXT },
		{ "test imm8 (f6 /0)", { 0xf6, 0xc1, 0x01 }, 3, X86_FLOW_NEXT },
		{ "test imm32 (f7 /0)", { 0xf7, 0xc7, 0xff, 0x0f, 0, 0 }, 6, X86_FLOW_NEXT },
		{ "neg (f7 /3)", { 0x48, 0xf7, 0xd8 }, 3, X86_FLOW_NEXT },
		{ "mul (f7 /4)", { 0x48, 0xf7, 0xe6 }, 3, X86_FLOW_NEXT },
		{ "moffs64", { 0x48, 0xa1, 1, 2, 3, 4, 5, 6, 7, 8 }, 10, X86_FLOW_NEXT },
		{ "moffs32 (67)", { 0x67, 0xa1, 1, 2, 3, 4 }, 6, X86_FLOW_NEXT },
		{ "enter", { 0xc8, 0x10, 0x00, 0x01 }, 4, X86_FLOW_NEXT },
		{ "endbr64", { 0xf3, 0x0f, 0x1e, 0xfa }, 4, X86_FLOW_NEXT },
		{ "nopw cs", { 0x66, 0x2e, 0x0f, 0x1f, 0x84, 0, 0, 0, 0, 0 }, 10, X86_FLOW_NEXT },
		{ "nopl 5", { 0x0f, 0x1f, 0x44, 0x00, 0x00 }, 5, X86_FLOW_NEXT },
		{ "cmovne", { 0x48, 0x0f, 0x45, 0xc7 }, 4, X86_FLOW_NEXT },
		{ "shld imm8", { 0x48, 0x0f, 0xa4, 0xc2, 0x05 }, 5, X86_FLOW_NEXT },
		{ "bt imm8", { 0x0f, 0xba, 0xe0, 0x03 }, 4, X86_FLOW_NEXT },
		{ "pshufd imm8", { 0x66, 0x0f, 0x70, 0xc1, 0x1b }, 5, X86_FLOW_NEXT },
		{ "pcmpistri (0f3a)", { 0x66, 0x0f, 0x3a, 0x63, 0xc1, 0x1a }, 6, X86_FLOW_NEXT },
		{ "pshufb (0f38)", { 0x66, 0x0f, 0x38, 0x00, 0xc1 }, 5, X86_FLOW_NEXT },
		{ "syscall", { 0x0f, 0x05 }, 2, X86_FLOW_OTHER },
		{ "ud2", { 0x0f, 0x0b }, 2, X86_FLOW_OTHER },
		{ "rdtsc", { 0x0f, 0x31 }, 2, X86_FLOW_NEXT },
		{ "bswap r8", { 0x49, 0x0f, 0xc8 }, 3, X86_FLOW_NEXT },
		{ "vzeroupper", { 0xc5, 0xf8, 0x77 }, 3, X86_FLOW_NEXT },
		{ "vmovdqu (c5)", { 0xc5, 0xfe, 0x6f, 0x06 }, 4, X86_FLOW_NEXT },
		{ "vpcmpeqb (c4)", { 0xc4, 0xe2, 0x7d, 0x00, 0x0e }, 5, X86_FLOW_NEXT },
		{ "vpalignr (c4 map3 ib)", { 0xc4, 0xe3, 0x7d, 0x0f, 0xc1, 0x08 }, 6, X86_FLOW_NEXT },
		{ "vmovdqu64 (evex disp8)", { 0x62, 0xe1, 0xfe, 0x48, 0x6f, 0x4e, 0x01 }, 7, X86_FLOW_NEXT },
		{ "vpcmpub (evex ib)", { 0x62, 0xb3, 0x7d, 0x48, 0x3e, 0xc8, 0x01 }, 7, X86_FLOW_NEXT },
		{ "jrcxz", { 0xe3, 0x10 }, 2, X86_FLOW_LOOP, 0x10 },
		{ "xbegin", { 0xc7, 0xf8, 0x10, 0, 0, 0 }, 6, X86_FLOW_LOOP, 0x10 },
		{ "lock cmpxchg", { 0xf0, 0x48, 0x0f, 0xb1, 0x17 }, 5, X86_FLOW_NEXT },
		{ "x87 fldt", { 0xdb, 0x6c, 0x24, 0x08 }, 4, X86_FLOW_NEXT },
		/* invalid in 64-bit mode or unknown to the decoder */
		{ "push es", { 0x06 }, -EOPNOTSUPP },
		{ "3DNow!", { 0x0f, 0x0f, 0xc1, 0x9e }, -EOPNOTSUPP },
		{ "XOP", { 0x8f, 0xe9, 0x78, 0xe1, 0xc1 }, -EOPNOTSUPP },
		{ "REX before VEX", { 0x48, 0xc5, 0xf8, 0x77 }, -EOPNOTSUPP },
		{ "16 bytes of prefixes", { 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66,
					    0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x90 }, -EOPNOTSUPP },
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		const struct dcase *c = &cases[i];
		struct x86_insn in;
		size_t n = c->len > 0 ? (size_t)c->len : sizeof(c->bytes);
		/* An exact-size heap copy: ASan catches any read past the end. */
		uint8_t *buf = malloc(n);
		int ret;

		if (!ASSERT_OK_PTR(buf, "malloc"))
			return;
		memcpy(buf, c->bytes, n);
		ret = x86_insn_decode(buf, n, &in);
		ASSERT_EQ(ret, c->len, c->name);
		if (ret > 0) {
			ASSERT_EQ(in.len, ret, c->name);
			ASSERT_EQ(in.flow, c->flow, c->name);
			if (c->flow == X86_FLOW_JCC || c->flow == X86_FLOW_JMP ||
			    c->flow == X86_FLOW_CALL || c->flow == X86_FLOW_LOOP)
				ASSERT_EQ(in.rel, c->rel, c->name);
			/* Every strict prefix of a valid instruction is truncated. */
			for (size_t k = 0; k < n; k++)
				ASSERT_EQ(x86_insn_decode(buf, k, &in), -ENODATA, c->name);
		}
		free(buf);
	}
	ASSERT_EQ(x86_insn_decode(NULL, 4, &(struct x86_insn){ 0 }), -EINVAL, "NULL code");
}

/* ---------------------------------------------------------------------- */
/* Helpers: temporary files, ELF reading, objdump.                         */

static int run(const char *cmd)
{
	int st = system(cmd);

	return st == 0 ? 0 : -1;
}

static char *make_tmpdir(void)
{
	char tmpl[] = "/tmp/profd-ap-XXXXXX";
	char *d = mkdtemp(tmpl);

	return d ? strdup(d) : NULL;
}

static void rm_tmpdir(char *dir)
{
	char cmd[300];

	if (!dir)
		return;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "  note: could not remove %s\n", dir);
	free(dir);
}

static int write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "we");
	int err = 0;

	if (!f)
		return -errno;
	if (fputs(text, f) < 0)
		err = -EIO;
	if (fclose(f))
		err = -errno;
	return err;
}

struct image {
	int fd;
	Elf *elf;
};

static int image_open(const char *path, struct image *im)
{
	elf_version(EV_CURRENT);
	im->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (im->fd < 0)
		return -errno;
	im->elf = elf_begin(im->fd, ELF_C_READ, NULL);
	if (!im->elf) {
		close(im->fd);
		return -EINVAL;
	}
	return 0;
}

static void image_close(struct image *im)
{
	elf_end(im->elf);
	if (im->fd >= 0)
		close(im->fd);
}

/* A defined function symbol (symtab first, then dynsym) and the size. */
static int image_func(struct image *im, const char *name, uint64_t *addr, uint64_t *size)
{
	Elf_Scn *scn = NULL;

	for (int pass = 0; pass < 2; pass++) {
		while ((scn = elf_nextscn(im->elf, scn))) {
			GElf_Shdr sh;
			Elf_Data *d;

			if (!gelf_getshdr(scn, &sh) ||
			    sh.sh_type != (pass ? SHT_DYNSYM : SHT_SYMTAB) || !sh.sh_entsize)
				continue;
			d = elf_getdata(scn, NULL);
			for (size_t i = 0; d && i < sh.sh_size / sh.sh_entsize; i++) {
				GElf_Sym s;
				const char *n;

				if (!gelf_getsym(d, (int)i, &s) || s.st_shndx == SHN_UNDEF ||
				    (GELF_ST_TYPE(s.st_info) != STT_FUNC &&
				     GELF_ST_TYPE(s.st_info) != STT_NOTYPE))
					continue;
				n = elf_strptr(im->elf, sh.sh_link, s.st_name);
				if (n && !strcmp(n, name)) {
					*addr = s.st_value;
					*size = s.st_size;
					return 0;
				}
			}
		}
	}
	return -ENOENT;
}

/* Copy `len` bytes at virtual address `addr` out of the section holding them. */
static uint8_t *image_bytes(struct image *im, uint64_t addr, size_t len)
{
	Elf_Scn *scn = NULL;

	while ((scn = elf_nextscn(im->elf, scn))) {
		GElf_Shdr sh;
		uint8_t *buf;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_PROGBITS ||
		    !(sh.sh_flags & SHF_EXECINSTR) || addr < sh.sh_addr ||
		    addr + len > sh.sh_addr + sh.sh_size)
			continue;
		buf = malloc(len ? len : 1);
		if (buf && pread(im->fd, buf, len, (off_t)(sh.sh_offset + addr - sh.sh_addr)) !=
				   (ssize_t)len) {
			free(buf);
			buf = NULL;
		}
		return buf;
	}
	return NULL;
}

static int image_text(struct image *im, uint64_t *addr, uint64_t *size)
{
	Elf_Scn *scn = NULL;
	size_t shstrndx;

	if (elf_getshdrstrndx(im->elf, &shstrndx))
		return -EINVAL;
	while ((scn = elf_nextscn(im->elf, scn))) {
		GElf_Shdr sh;
		const char *n;

		if (!gelf_getshdr(scn, &sh))
			continue;
		n = elf_strptr(im->elf, shstrndx, sh.sh_name);
		if (n && !strcmp(n, ".text")) {
			*addr = sh.sh_addr;
			*size = sh.sh_size;
			return 0;
		}
	}
	return -ENOENT;
}

/* One objdump instruction line: address and "mnemonic operands". */
struct dline {
	uint64_t addr;
	char text[120];
};

static int parse_dline(const char *line, struct dline *dl)
{
	char *end;
	const char *tab;

	while (*line == ' ')
		line++;
	dl->addr = strtoull(line, &end, 16);
	if (end == line || *end != ':' || end[1] != '\t')
		return -1;
	tab = end + 2;
	snprintf(dl->text, sizeof(dl->text), "%s", tab);
	dl->text[strcspn(dl->text, "\n")] = 0;
	return 0;
}

/* Strip the prefixes objdump prints as words; returns the mnemonic's start. */
static const char *mnemonic(const char *text)
{
	static const char *const prefixes[] = { "rep ", "repz ", "repnz ", "lock ", "data16 ",
						"cs ", "ds ", "bnd ", "notrack ", "addr32 " };
	int again = 1;

	while (again) {
		again = 0;
		for (size_t i = 0; i < ARRAY_SIZE(prefixes); i++)
			if (!strncmp(text, prefixes[i], strlen(prefixes[i]))) {
				text += strlen(prefixes[i]);
				again = 1;
			}
	}
	return text;
}

static int is_control(const char *m)
{
	return m[0] == 'j' || !strncmp(m, "call", 4) || !strncmp(m, "ret", 3) ||
	       !strncmp(m, "loop", 4) || !strncmp(m, "syscall", 7) || !strncmp(m, "int", 3) ||
	       !strncmp(m, "ud", 2) || !strncmp(m, "hlt", 3) || !strncmp(m, "xbegin", 6) ||
	       !strncmp(m, "xabort", 6);
}

struct disasm {
	uint64_t *addr;	   /* every instruction start in .text, ascending */
	size_t n;
	uint64_t *targets; /* every direct branch target, unsorted */
	size_t ntargets;
	size_t bad;	   /* lines objdump could not decode */
};

static void disasm_free(struct disasm *d)
{
	free(d->addr);
	free(d->targets);
	memset(d, 0, sizeof(*d));
}

static int push_u64(uint64_t **v, size_t *n, size_t *cap, uint64_t x)
{
	if (*n == *cap) {
		size_t c = *cap ? *cap * 2 : 4096;
		uint64_t *nv = realloc(*v, c * sizeof(**v));

		if (!nv)
			return -ENOMEM;
		*v = nv;
		*cap = c;
	}
	(*v)[(*n)++] = x;
	return 0;
}

/* objdump -d of the executable sections of `path` (start/stop optional). */
static int disasm_load(const char *path, uint64_t start, uint64_t stop, struct disasm *d,
		       struct dline **lines_out)
{
	char cmd[600], line[512];
	size_t cap = 0, tcap = 0, lcap = 0, nl = 0;
	struct dline *lines = NULL;
	FILE *p;
	int err = 0;

	memset(d, 0, sizeof(*d));
	if (stop)
		snprintf(cmd, sizeof(cmd),
			 "objdump -d --no-show-raw-insn --start-address=0x%llx "
			 "--stop-address=0x%llx '%s'",
			 (unsigned long long)start, (unsigned long long)stop, path);
	else
		snprintf(cmd, sizeof(cmd), "objdump -d --no-show-raw-insn -j .text '%s'", path);
	p = popen(cmd, "re");
	if (!p)
		return -errno;
	while (!err && fgets(line, sizeof(line), p)) {
		struct dline dl;
		const char *m, *ops;

		if (parse_dline(line, &dl))
			continue;
		if (strstr(dl.text, "(bad)"))
			d->bad++;
		err = push_u64(&d->addr, &d->n, &cap, dl.addr);
		m = mnemonic(dl.text);
		ops = strpbrk(m, " ");
		if (!err && ops && (m[0] == 'j' || !strncmp(m, "call", 4) ||
				    !strncmp(m, "loop", 4) || !strncmp(m, "xbegin", 6))) {
			char *end;
			uint64_t t;

			while (*ops == ' ')
				ops++;
			t = strtoull(ops, &end, 16);
			if (end != ops && *end == ' ' && end[1] == '<')
				err = push_u64(&d->targets, &d->ntargets, &tcap, t);
		}
		if (!err && lines_out) {
			if (nl == lcap) {
				size_t c = lcap ? lcap * 2 : 64;
				struct dline *nv = realloc(lines, c * sizeof(*lines));

				if (!nv) {
					err = -ENOMEM;
					break;
				}
				lines = nv;
				lcap = c;
			}
			lines[nl++] = dl;
		}
	}
	if (pclose(p) != 0 && !err)
		err = -EIO;
	if (lines_out) {
		if (!err && nl < lcap)
			memset(&lines[nl], 0, sizeof(*lines)); /* terminator: addr 0 */
		else if (!err) {
			struct dline *nv = realloc(lines, (nl + 1) * sizeof(*lines));

			if (!nv)
				err = -ENOMEM;
			else {
				lines = nv;
				memset(&lines[nl], 0, sizeof(*lines));
			}
		}
		*lines_out = lines;
	} else {
		free(lines);
	}
	return err;
}

/* ---------------------------------------------------------------------- */
/* The decoder against `as`: every instruction between two labels.        */

void test_attach_point_decode_assembled(void)
{
	static const char *const insns[] = {
		"push %rbp", "push %r15", "pushq $0x12345", "pushq $1", "pop %r12",
		"mov %rdi,%rbx", "mov %edi,%esi", "mov $0x1122334455667788,%rax",
		"mov $1,%r9d", "movw $7,%ax", "movb $7,%r10b", "mov 0x12345678(%rip),%rax",
		"mov %fs:0x28,%rax", "mov %fs:(%rax),%r8", "mov -0x8(%rdi),%rax",
		"mov 0x8(%rdi,%rax,1),%rax", "mov 0x12345(,%rcx,8),%edx", "lea -0x11(%rax),%rbp",
		"lea 0x7(%rdi),%rax", "lea (%r13,%r12,4),%r14", "movslq %edi,%rax",
		"movzbl (%rdx,%rax,1),%esi", "movsbq %al,%rax", "cmpb $0x0,0x141b46(%rip)",
		"cmpq $0x0,%fs:(%rdx)", "cmp $0x1000,%rdi", "cmp $0x1f,%rax", "test %rdi,%rdi",
		"testb $0x2,%al", "test $0x2,%al", "test $0xfff,%edi", "testw $0x100,(%rsi)",
		"add $0x10,%rsp", "sub $0x118,%rsp", "and $0xfffffffffffffff0,%rax",
		"and $0xffffffffc0000000,%rcx", "shr $0x1a,%rax", "shl %cl,%rdx", "sar $1,%edx",
		"imul $0x38,%rdi,%rax", "imul %rsi,%rdi", "mul %rsi", "div %rcx", "neg %rax",
		"not %r11", "inc %eax", "dec %r9", "xchg %ax,%ax", "xchg %rdi,%rsi",
		"cmove %rdx,%rax", "cmovne %rdi,%rax", "sete %al", "seto %al", "bsf %rdi,%rax",
		"tzcnt %rdi,%rax", "lzcnt %esi,%eax", "popcnt %rdi,%rax", "bt $3,%eax",
		"bts %rax,%rdx", "shld $5,%rax,%rdx", "bswap %r8", "cqto", "cltq", "cwtl",
		"xadd %rax,(%rdi)", "lock cmpxchg %rdx,(%rdi)", "lock xadd %eax,0x10(%rdx)",
		"rep stosb", "rep movsq", "repz cmpsb", "cld", "std", "pause", "nop", "xchg %ax,%ax",
		"nopl (%rax)", "nopl 0x0(%rax)", "nopl 0x0(%rax,%rax,1)", "nopw 0x0(%rax,%rax,1)",
		"nopl 0x0(%rax,%rax,1)", ".byte 0x66,0x66,0x2e,0x0f,0x1f,0x84,0,0,0,0,0",
		"endbr64", "endbr32",
		"rdtsc", "cpuid", "rdpkru", "xgetbv", "ud2", "syscall", "hlt", "int3", "int $0x80",
		"leave", "enter $0x10,$0", "ret", "ret $8", "lretq", "jmp *%rax", "notrack jmp *%rax",
		"jmp *0x8(%rax)", "call *%rdx", "call *0x18(%rbx)", "jmp *0x1234(%rip)",
		"movaps %xmm0,(%rsp)", "movdqa %xmm1,%xmm2", "movdqu (%rsi),%xmm0",
		"movups %xmm7,0x10(%rdi)", "movq %xmm0,%rax", "movq %rax,%xmm0", "movd %xmm1,%edx",
		"movd %ecx,%xmm1", "pxor %xmm0,%xmm0", "pcmpeqb (%rdi),%xmm1", "pmovmskb %xmm1,%eax",
		"pshufd $0x1b,%xmm1,%xmm0", "palignr $8,%xmm1,%xmm2", "pshufb %xmm1,%xmm0",
		"pcmpistri $0x1a,(%rdi),%xmm1", "pextrw $3,%xmm1,%eax", "pinsrw $2,%eax,%xmm0",
		"shufps $0x44,%xmm1,%xmm0", "cmpps $1,%xmm1,%xmm0", "cvtsi2sd %rax,%xmm0",
		"cvttsd2si %xmm0,%rax", "ucomisd %xmm1,%xmm0", "sqrtsd %xmm1,%xmm0",
		"mulsd 0x10(%rip),%xmm0", "movmskps %xmm0,%eax", "prefetcht0 (%rdi)",
		"prefetchw 0x40(%rsi)", "sfence", "mfence", "lfence", "stmxcsr -4(%rsp)",
		"fxsave (%rdi)", "fldt 0x8(%rsp)", "fstpt (%rax)", "fnstsw %ax", "fxch %st(1)",
		"faddp %st,%st(1)", "fildll 0x10(%rsp)", "vzeroupper", "vzeroall",
		"vmovdqu (%rsi),%ymm0", "vmovdqa %ymm1,0x20(%rdi)", "vpcmpeqb (%rdi),%ymm0,%ymm1",
		"vpmovmskb %ymm1,%eax", "vpminub %ymm2,%ymm1,%ymm3", "vpbroadcastb %xmm0,%ymm0",
		"vpalignr $8,%ymm1,%ymm2,%ymm3", "vpternlogd $0xde,%zmm1,%zmm2,%zmm3",
		"vmovdqu64 0x40(%rsi),%zmm16", "vmovdqu8 %zmm17,(%rdi){%k1}",
		"vpcmpub $1,%zmm1,%zmm2,%k1", "vptestnmb %zmm1,%zmm1,%k0", "kmovd %k0,%eax",
		"kmovq %rax,%k1", "kortestd %k0,%k1", "vpxorq %zmm0,%zmm0,%zmm0",
		"vpcmpeqb 0x40(%rdi),%ymm16,%k0", "vmovq %xmm0,%rax", "vpextrq $1,%xmm0,%rcx",
		"andn %rdx,%rax,%rcx", "bzhi %rax,%rdi,%rdx", "sarx %rcx,%rdi,%rax",
		"shlx %rsi,%rdi,%rax", "rorx $3,%rax,%rdx", "pdep %rax,%rbx,%rcx",
		"blsr %rdi,%rax", "blsmsk %esi,%eax", "mulx %rsi,%rax,%rdx", "movbe (%rdi),%rax",
		"crc32q %rax,%rcx", "adcx %rax,%rdx", "rdrand %rax", "rdfsbase %rax", "rdsspq %rax",
		"xbegin 1f", "xend", "xabort $1", "xtest", "jrcxz 1f", "loop 1f", "1: nop",
		"movabs 0x1122334455667788,%al", "movabs %rax,0x1122334455667788",
		"addr32 mov 0x10(%eax),%eax", "mov %ds,%eax", "mov %eax,%es",
	};
	char *dir = make_tmpdir(), path[300], obj[300], cmd[800];
	struct image im = { .fd = -1 };
	FILE *f = NULL;
	uint64_t taddr = 0, tsize = 0, prev = 0;
	uint8_t *text = NULL;
	int checked = 0;

	if (!ASSERT_OK_PTR(dir, "mkdtemp"))
		return;
	snprintf(path, sizeof(path), "%s/insns.s", dir);
	snprintf(obj, sizeof(obj), "%s/insns.o", dir);
	f = fopen(path, "we");
	if (!ASSERT_OK_PTR(f, "open .s"))
		goto cleanup;
	fprintf(f, ".text\n");
	for (size_t i = 0; i < ARRAY_SIZE(insns); i++)
		fprintf(f, "i%zu: %s\n", i, insns[i]);
	fprintf(f, "i%zu: nop\n", ARRAY_SIZE(insns));
	fclose(f);
	snprintf(cmd, sizeof(cmd), "as --64 -o '%s' '%s'", obj, path);
	if (!ASSERT_OK(run(cmd), "as"))
		goto cleanup;
	if (!ASSERT_OK(image_open(obj, &im), "open .o") ||
	    !ASSERT_OK(image_text(&im, &taddr, &tsize), ".text"))
		goto cleanup;
	text = image_bytes(&im, taddr, tsize);
	if (!ASSERT_OK_PTR(text, "text bytes"))
		goto cleanup;
	for (size_t i = 0; i <= ARRAY_SIZE(insns); i++) {
		char name[16];
		uint64_t a, sz;
		struct x86_insn in;

		snprintf(name, sizeof(name), "i%zu", i);
		if (!ASSERT_OK(image_func(&im, name, &a, &sz), name))
			goto cleanup;
		if (i) {
			int ret = x86_insn_decode(text + prev, tsize - prev, &in);

			if (!ASSERT_EQ(ret, (long long)(a - prev), insns[i - 1]))
				fprintf(stderr, "    (%s)\n", insns[i - 1]);
			checked++;
		}
		prev = a;
	}
	ASSERT_EQ(checked, ARRAY_SIZE(insns), "all checked");
cleanup:
	free(text);
	if (im.elf)
		image_close(&im);
	rm_tmpdir(dir);
}

/* ---------------------------------------------------------------------- */
/* Prologue shapes built by hand.                                          */

struct pcase {
	const char *name;
	uint8_t bytes[64];
	size_t len;
	unsigned int args, flags;
	uint64_t addr;
	int ret;	  /* 0 or -ENOENT */
	unsigned int offset, reason;
	int8_t arg0_reg;  /* expected arg_reg[0] when args & 1 */
};

void test_attach_point_prologues(void)
{
	static const struct pcase cases[] = {
		{ "glibc free: test; je",
		  { 0x48, 0x85, 0xff, 0x0f, 0x84, 0xbf, 0, 0, 0, 0x55, 0xc3 }, 11,
		  ATTACH_ARG(0), 0, 0, 0, 3, ATTACH_POINT_JCC, X86_RDI },
		{ "glibc malloc: push r12 at entry",
		  { 0x41, 0x54, 0x55, 0x53, 0x48, 0x89, 0xfb, 0xc3 }, 8,
		  ATTACH_ARG(0), ATTACH_POINT_F_STACK, 0, 0, 0, ATTACH_POINT_PUSH, X86_RDI },
		{ "CET: endbr64; push",
		  { 0xf3, 0x0f, 0x1e, 0xfa, 0x55, 0x48, 0x89, 0xe5, 0xc3 }, 9,
		  ATTACH_ARG(0), ATTACH_POINT_F_STACK, 0, 0, 4, ATTACH_POINT_PUSH, X86_RDI },
		{ "jemalloc: cmp imm32; ja",
		  { 0x48, 0x81, 0xff, 0, 0x10, 0, 0, 0x0f, 0x87, 0x93, 0, 0, 0, 0xc3 }, 14,
		  ATTACH_ARG(0), ATTACH_POINT_F_STACK, 0, 0, 7, ATTACH_POINT_JCC, X86_RDI },
		{ "mimalloc: size moved to rsi before the branch",
		  { 0x48, 0x8b, 0x05, 0x49, 0xb4, 0, 0,	/* mov rip,%rax */
		    0x48, 0x89, 0xfe,			/* mov %rdi,%rsi */
		    0x64, 0x48, 0x8b, 0x38,		/* mov %fs:(%rax),%rdi */
		    0x48, 0x81, 0xfe, 0, 4, 0, 0,	/* cmp $0x400,%rsi */
		    0x77, 0x29, 0xc3 }, 24,
		  ATTACH_ARG(0), ATTACH_POINT_F_STACK, 0, 0, 21, ATTACH_POINT_JCC, X86_RSI },
		{ "argument overwritten, no copy",
		  { 0x31, 0xff, 0xeb, 0x00, 0xc3 }, 5,
		  ATTACH_ARG(0), 0, 0, -ENOENT, 0, ATTACH_POINT_ARG_CLOBBERED, X86_RDI },
		{ "argument not needed: same bytes succeed",
		  { 0x31, 0xff, 0xeb, 0x00, 0xc3 }, 5,
		  0, 0, 0, 0, 2, ATTACH_POINT_JMP, -1 },
		{ "32-bit move is not a copy",
		  { 0x89, 0xfe, 0x31, 0xff, 0xeb, 0x00, 0xc3 }, 7,
		  ATTACH_ARG(0), 0, 0, -ENOENT, 0, ATTACH_POINT_ARG_CLOBBERED, X86_RDI },
		{ "sub rsp; call: stack moved",
		  { 0x48, 0x83, 0xec, 0x08, 0xe8, 0, 0, 0, 0, 0xc3 }, 10,
		  ATTACH_ARG(0), ATTACH_POINT_F_STACK, 0, -ENOENT, 0, ATTACH_POINT_STACK_MOVED,
		  X86_RDI },
		{ "sub rsp; call: fine without F_STACK",
		  { 0x48, 0x83, 0xec, 0x08, 0xe8, 0, 0, 0, 0, 0xc3 }, 10,
		  ATTACH_ARG(0), 0, 0, 0, 4, ATTACH_POINT_CALL, X86_RDI },
		{ "test; ret: non-emulated branch first",
		  { 0x48, 0x85, 0xff, 0xc3 }, 4,
		  ATTACH_ARG(0), 0, 0, -ENOENT, 0, ATTACH_POINT_BRANCH, X86_RDI },
		{ "branch back into the prologue",
		  { 0x48, 0x85, 0xff,		/* 0: test */
		    0x74, 0x03,			/* 3: je 8 */
		    0x48, 0xff, 0xc7,		/* 5: inc %rdi */
		    0x48, 0x85, 0xf6,		/* 8: test %rsi,%rsi */
		    0x75, 0xf3,			/* 11: jne 0 → fine */
		    0xeb, 0xf4,			/* 13: jmp 3 → lands on the je */
		    0xc3 }, 16,
		  ATTACH_ARG(0), 0, 0, -ENOENT, 0, ATTACH_POINT_BACKEDGE, X86_RDI },
		{ "branch back to offset 0 is fine",
		  { 0x48, 0x85, 0xff, 0x74, 0x02, 0xeb, 0xf9, 0xc3 }, 8,
		  ATTACH_ARG(0), 0, 0, 0, 3, ATTACH_POINT_JCC, X86_RDI },
		{ "undecodable body",
		  { 0x48, 0x85, 0xff, 0x74, 0x04, 0x0f, 0x0f, 0xc1, 0x9e, 0xc3 }, 10,
		  ATTACH_ARG(0), 0, 0, -ENOENT, 0, ATTACH_POINT_BODY_UNDECODABLE, X86_RDI },
		{ "undecodable body, partial view",
		  { 0x48, 0x85, 0xff, 0x74, 0x04, 0x0f, 0x0f, 0xc1, 0x9e, 0xc3 }, 10,
		  ATTACH_ARG(0), ATTACH_POINT_F_PARTIAL, 0, 0, 3, ATTACH_POINT_JCC, X86_RDI },
		{ "undecodable prologue",
		  { 0x48, 0x85, 0xff, 0x06, 0x74, 0x00 }, 6,
		  ATTACH_ARG(0), 0, 0, -ENOENT, 0, ATTACH_POINT_UNDECODABLE, X86_RDI },
		{ "nop5 inside a page",
		  { 0x0f, 0x1f, 0x44, 0x00, 0x00, 0xc3 }, 6,
		  0, 0, 0x1000, 0, 0, ATTACH_POINT_NOP5, -1 },
		{ "nop5 across a page: emulated, not optimised",
		  { 0x0f, 0x1f, 0x44, 0x00, 0x00, 0xc3 }, 6,
		  0, 0, 0x1ffc, 0, 0, ATTACH_POINT_NOP, -1 },
		{ "nop5 on an old kernel is stepped: walk on",
		  { 0x0f, 0x1f, 0x44, 0x00, 0x00, 0x55, 0xc3 }, 7,
		  0, ATTACH_POINT_F_OLD_KERNEL, 0x1000, 0, 5, ATTACH_POINT_PUSH, -1 },
		{ "nopl 4 on an old kernel is stepped: walk on",
		  { 0x0f, 0x1f, 0x40, 0x00, 0x90, 0xc3 }, 6,
		  0, ATTACH_POINT_F_OLD_KERNEL, 0, 0, 4, ATTACH_POINT_NOP, -1 },
		{ "66 90 nop after mov",
		  { 0x48, 0x89, 0xf8, 0x66, 0x90, 0xc3 }, 6,
		  ATTACH_ARG(0), 0, 0, 0, 3, ATTACH_POINT_NOP, X86_RDI },
		{ "41 90 is xchg %eax,%r8d, not a nop",
		  { 0x41, 0x90, 0xc3 }, 3,
		  0, 0, 0, -ENOENT, 0, ATTACH_POINT_BRANCH, -1 },
		{ "cs-prefixed nop is refused by uprobes",
		  { 0x2e, 0x0f, 0x1f, 0x84, 0, 0, 0, 0, 0, 0xc3 }, 10,
		  0, 0, 0, -ENOENT, 0, ATTACH_POINT_BRANCH, -1 },
		{ "ds-prefixed jcc (branch hint) is refused by uprobes",
		  { 0x48, 0x85, 0xff, 0x3e, 0x74, 0x00, 0xc3 }, 7,
		  0, 0, 0, -ENOENT, 0, ATTACH_POINT_BRANCH, -1 },
		{ "66-prefixed jmp is not emulated",
		  { 0x66, 0xe9, 0x00, 0x00, 0x00, 0x00, 0xc3 }, 7,
		  0, 0, 0, -ENOENT, 0, ATTACH_POINT_BRANCH, -1 },
		{ "push with REX.W is not emulated",
		  { 0x48, 0x55, 0x90, 0xc3 }, 4,
		  0, 0, 0, 0, 2, ATTACH_POINT_NOP, -1 },
		{ "REX.W push moves rsp, so F_STACK refuses what follows",
		  { 0x48, 0x55, 0x74, 0x00, 0xc3 }, 5,
		  0, ATTACH_POINT_F_STACK, 0, -ENOENT, 0, ATTACH_POINT_STACK_MOVED, -1 },
		{ "mov, then push r12 is the probe (it has not run yet)",
		  { 0x48, 0x8b, 0x07, 0x41, 0x54, 0x74, 0x00, 0xc3 }, 8,
		  ATTACH_ARG(0), ATTACH_POINT_F_STACK, 0, 0, 3, ATTACH_POINT_PUSH, X86_RDI },
		{ "prologue runs off the buffer",
		  { 0x48, 0x85, 0xff, 0x48, 0x85 }, 5,
		  ATTACH_ARG(0), 0, 0, -ENOENT, 0, ATTACH_POINT_UNDECODABLE, X86_RDI },
		{ "nothing emulated within the window",
		  { 0x48, 0x85, 0xff, 0x48, 0x85, 0xff, 0x48, 0x85, 0xff, 0x48, 0x85, 0xff,
		    0x48, 0x85, 0xff, 0x48, 0x85, 0xff, 0x48, 0x85, 0xff, 0x48, 0x85, 0xff,
		    0x48, 0x85, 0xff, 0x48, 0x85, 0xff, 0x48, 0x85, 0xff, 0x48, 0x85, 0xff,
		    0x48, 0x85, 0xff, 0x48, 0x85, 0xff, 0x48, 0x85, 0xff, 0x48, 0x85, 0xff,
		    0x48, 0x85, 0xff, 0xc3 }, 52,
		  ATTACH_ARG(0), 0, 0, -ENOENT, 0, ATTACH_POINT_TOO_FAR, X86_RDI },
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		const struct pcase *c = &cases[i];
		struct attach_point ap;
		uint8_t *buf = malloc(c->len);
		int ret;

		if (!ASSERT_OK_PTR(buf, "malloc"))
			return;
		memcpy(buf, c->bytes, c->len);
		ret = attach_point__find(buf, c->len, c->addr, c->args, c->flags, &ap);
		ASSERT_EQ(ret, c->ret, c->name);
		ASSERT_EQ(ap.offset, c->offset, c->name);
		if (!ASSERT_EQ(ap.reason, c->reason, c->name))
			fprintf(stderr, "    got: %s\n", attach_point__reason_str(ap.reason));
		if (c->args & 1)
			ASSERT_EQ(ap.arg_reg[0], c->arg0_reg, c->name);
		for (int a = 1; a < ATTACH_NR_ARGS; a++)
			ASSERT_EQ(ap.arg_reg[a], -1, "unasked argument");
		if (!ret)
			ASSERT_TRUE(ap.offset + ap.insn_len <= c->len, c->name);
		free(buf);
	}
	/* Where the return address is, and whether the kernel's callchain
	 * already has the caller, for the BPF side's stack fix-up. */
	{
		static const struct {
			const char *name;
			uint8_t bytes[24];
			size_t len;
			int ret, offset, ra, rbp, kadds;
		} fr[] = {
			{ "push %rbp at entry", { 0x55, 0x48, 0x89, 0xe5, 0xc3 }, 5, 0, 0, 0, 1, 1 },
			{ "push %r12 at entry", { 0x41, 0x54, 0xc3 }, 3, 0, 0, 0, 1, 0 },
			{ "after sub $0x18,%rsp", { 0x48, 0x83, 0xec, 0x18, 0xe8, 0, 0, 0, 0, 0xc3 }, 10,
			  0, 4, 0x18, 1, 0 },
			{ "after sub; pushw (untracked)",
			  { 0x48, 0x83, 0xec, 0x18, 0x66, 0x50, 0x74, 0x00, 0xc3 }, 9, 0, 6, -1, 1, 0 },
			{ "after lea -0x28(%rsp),%rsp, rbp clobbered",
			  { 0x48, 0x8d, 0x64, 0x24, 0xd8, 0x48, 0x89, 0xfd, 0x55, 0xc3 }, 10,
			  0, 8, 0x28, 0, 1 },
			{ "lea with an index is not tracked",
			  { 0x48, 0x8d, 0x64, 0x04, 0xd8, 0x74, 0x00, 0xc3 }, 8, 0, 5, -1, 1, 0 },
			{ "after add $8,%rsp (a tail after a call-free sub)",
			  { 0x48, 0x83, 0xec, 0x10, 0x48, 0x83, 0xc4, 0x08, 0xeb, 0x00 }, 10,
			  0, 8, 8, 1, 0 },
		};
		for (size_t i = 0; i < ARRAY_SIZE(fr); i++) {
			struct attach_point ap;
			uint8_t *buf = malloc(fr[i].len);

			if (!ASSERT_OK_PTR(buf, "malloc"))
				return;
			memcpy(buf, fr[i].bytes, fr[i].len);
			ASSERT_EQ(attach_point__find(buf, fr[i].len, 0, 0, 0, &ap), fr[i].ret, fr[i].name);
			ASSERT_EQ(ap.offset, fr[i].offset, fr[i].name);
			ASSERT_EQ(ap.ra_offset, fr[i].ra, fr[i].name);
			ASSERT_EQ(ap.rbp_intact, fr[i].rbp, fr[i].name);
			ASSERT_EQ(ap.kernel_adds_caller, fr[i].kadds, fr[i].name);
			free(buf);
		}
	}
	/* The branch target of a thunk is reported relative to the function. */
	{
		static const uint8_t thunk[] = { 0xf3, 0x0f, 0x1e, 0xfa, 0xe9, 0x10, 0, 0, 0 };
		struct attach_point ap;

		ASSERT_OK(attach_point__find(thunk, sizeof(thunk), 0, ATTACH_ARG(0), ATTACH_POINT_F_STACK,
					     &ap), "thunk");
		ASSERT_EQ(ap.offset, 4, "thunk offset");
		ASSERT_EQ(ap.reason, ATTACH_POINT_JMP, "thunk reason");
		ASSERT_EQ(ap.target, 9 + 0x10, "thunk target");
	}
	ASSERT_EQ(attach_point__find(NULL, 4, 0, 0, 0, &(struct attach_point){ 0 }), -EINVAL,
		  "NULL code");
	ASSERT_EQ(attach_point__find("\x90", 0, 0, 0, 0, &(struct attach_point){ 0 }), -EINVAL,
		  "empty");
	ASSERT_EQ(attach_point__find("\x90", 1, 0, 0, 0, NULL), -EINVAL, "NULL ap");
	ASSERT_STREQ(attach_point__reason_str(ATTACH_POINT_JCC), "jcc (emulated)", "reason str");
	ASSERT_STREQ(attach_point__reason_str(999), "unknown", "reason str oob");
	ASSERT_STREQ(x86_reg_name(X86_R12), "r12", "reg name");
	ASSERT_STREQ(x86_reg_name(16), "?", "reg name oob");
}

/* Garbage: never read out of bounds, always a consistent answer. */
void test_attach_point_garbage(void)
{
	uint64_t seed = 0x9e3779b97f4a7c15ULL;
	int decoded = 0;

	for (int iter = 0; iter < 20000; iter++) {
		size_t len = 1 + (size_t)(iter % 97);
		uint8_t *buf = malloc(len);
		struct attach_point ap;
		struct x86_insn in;
		int ret;

		if (!ASSERT_OK_PTR(buf, "malloc"))
			return;
		for (size_t i = 0; i < len; i++) {
			seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
			buf[i] = (uint8_t)(seed >> 56);
			/* Bias towards prefixes and escapes, the hard part. */
			if ((seed >> 40) % 5 == 0)
				buf[i] = "\x66\x67\xf2\xf3\x48\x41\x0f\x38\x3a\xc4\xc5\x62\x8f"[(seed >> 32) % 13];
		}
		ret = x86_insn_decode(buf, len, &in);
		if (ret > 0) {
			decoded++;
			if (!ASSERT_TRUE(ret <= 15 && (size_t)ret <= len, "decode length"))
				break;
		} else if (!ASSERT_TRUE(ret == -ENODATA || ret == -EOPNOTSUPP, "decode error")) {
			break;
		}
		ret = attach_point__find(buf, len, seed, (unsigned int)(seed & 0x3f),
					 (unsigned int)(seed >> 60) & 3, &ap);
		if (!ASSERT_TRUE(ret == 0 || ret == -ENOENT, "find result"))
			break;
		if (!ASSERT_TRUE(ret || ap.offset + ap.insn_len <= len, "find in bounds"))
			break;
		if (!ASSERT_TRUE(!ret || (ap.offset == 0 && ap.reason >= ATTACH_POINT_UNDECODABLE),
				 "fallback is the entry"))
			break;
		free(buf);
	}
	ASSERT_TRUE(decoded > 1000, "garbage sometimes decodes");
}

/* ---------------------------------------------------------------------- */
/* Real libraries.                                                         */

/* Register family (enum x86_reg) of an AT&T register operand, -1 if it is
 * not a general-purpose register; *wide = 1 for the 64-bit names. */
static int reg_family_w(const char *s, size_t n, int *wide)
{
	static const char *const names[4][16] = {
		{ "rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi",
		  "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15" },
		{ "eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi",
		  "r8d", "r9d", "r10d", "r11d", "r12d", "r13d", "r14d", "r15d" },
		{ "ax", "cx", "dx", "bx", "sp", "bp", "si", "di",
		  "r8w", "r9w", "r10w", "r11w", "r12w", "r13w", "r14w", "r15w" },
		{ "al", "cl", "dl", "bl", "spl", "bpl", "sil", "dil",
		  "r8b", "r9b", "r10b", "r11b", "r12b", "r13b", "r14b", "r15b" },
	};

	*wide = 0;
	if (!n || s[0] != '%')
		return -1;
	s++, n--;
	for (int w = 0; w < 4; w++)
		for (int r = 0; r < 16; r++)
			if (strlen(names[w][r]) == n && !strncmp(names[w][r], s, n)) {
				*wide = w == 0;
				return r;
			}
	if (n == 2 && s[1] == 'h' && strchr("acdb", s[0]))
		return (int)(strchr("acdb", s[0]) - "acdb");
	return -1;
}

static int reg_family(const char *s, size_t n)
{
	int wide;

	return reg_family_w(s, n, &wide);
}

/* Split AT&T operands at top-level commas. */
static int split_ops(const char *ops, const char *out[4], size_t outn[4])
{
	int n = 0, depth = 0;
	const char *start = ops;

	for (const char *p = ops;; p++) {
		if (*p == '(')
			depth++;
		else if (*p == ')')
			depth--;
		if ((*p == ',' && !depth) || !*p || *p == ' ' || *p == '#' || *p == '<') {
			if (n < 4 && p > start) {
				out[n] = start;
				outn[n] = (size_t)(p - start);
				n++;
			}
			if (*p != ',')
				break;
			start = p + 1;
		}
	}
	return n;
}

/* The independent check: simulate register contents over objdump's text of
 * the instructions before the probe. vals[r] = entry register whose value r
 * holds, -1 when unknown. Returns -1 if a control transfer or a mnemonic
 * with implicit writes this reader does not model appears. */
static int text_simulate(const struct dline *lines, uint64_t start, uint64_t stop,
			 int vals[16], int *rsp_moved, long *ra)
{
	for (int r = 0; r < 16; r++)
		vals[r] = r;
	*rsp_moved = 0;
	*ra = 0;
	for (const struct dline *l = lines; l->addr; l++) {
		const char *m, *ops[4], *sp;
		size_t opn[4], mlen;
		int nops, dst;

		if (l->addr < start || l->addr >= stop)
			continue;
		m = mnemonic(l->text);
		sp = strpbrk(m, " ");
		mlen = sp ? (size_t)(sp - m) : strlen(m);
		while (sp && *sp == ' ')
			sp++;
		nops = sp ? split_ops(sp, ops, opn) : 0;
		if (is_control(m))
			return -1;
		if (!strncmp(m, "cmp", 3) || !strncmp(m, "test", 4) || !strncmp(m, "nop", 3) ||
		    !strncmp(m, "endbr", 5) || !strncmp(m, "prefetch", 8) || !strncmp(m, "ucomis", 6) ||
		    !strncmp(m, "comis", 5) || (mlen == 2 && !strncmp(m, "bt", 2)) ||
		    !strncmp(m, "xchg   %ax,%ax", 14) || !strncmp(m, "pause", 5))
			continue;
		if (!strncmp(m, "push", 4)) {
			*rsp_moved = 1;
			if (*ra >= 0)
				*ra += 8;
			continue;
		}
		/* sub/add $imm,%rsp: objdump prints the immediate in hex */
		if ((!strncmp(m, "sub ", 4) || !strncmp(m, "add ", 4)) && nops == 2 &&
		    reg_family(ops[1], opn[1]) == X86_RSP && opn[1] == 4 && ops[0][0] == '$') {
			long v = strtol(ops[0] + 1, NULL, 16);

			*rsp_moved = 1;
			if (*ra >= 0)
				*ra += m[0] == 's' ? v : -v;
			continue;
		}
		if (!strncmp(m, "cpuid", 5) || !strncmp(m, "rdtsc", 5) || !strncmp(m, "stos", 4) ||
		    !strncmp(m, "movs", 4) || !strncmp(m, "lods", 4) || !strncmp(m, "scas", 4) ||
		    !strncmp(m, "xgetbv", 6) || !strncmp(m, "leave", 5) || !strncmp(m, "enter", 5)) {
			for (int r = 0; r < 16; r++)
				vals[r] = -1;
			*rsp_moved = 1;
			*ra = -1;
			continue;
		}
		if (!strncmp(m, "cqto", 4) || !strncmp(m, "cltd", 4)) {
			vals[X86_RDX] = -1;
			continue;
		}
		if (!strncmp(m, "cltq", 4) || !strncmp(m, "cwtl", 4)) {
			vals[X86_RAX] = -1;
			continue;
		}
		if (nops == 1 && (!strncmp(m, "mul", 3) || !strncmp(m, "imul", 4) ||
				  !strncmp(m, "div", 3) || !strncmp(m, "idiv", 4))) {
			vals[X86_RAX] = vals[X86_RDX] = -1;
			continue;
		}
		if (!strncmp(m, "pop", 3)) {
			*rsp_moved = 1;
			if (*ra >= 0)
				*ra -= 8;
			if (nops == 1 && (dst = reg_family(ops[0], opn[0])) >= 0)
				vals[dst] = -1;
			continue;
		}
		if (!strncmp(m, "xchg", 4) && nops == 2) {
			int a = reg_family(ops[0], opn[0]), b = reg_family(ops[1], opn[1]);

			if (a >= 0)
				vals[a] = -1;
			if (b >= 0)
				vals[b] = -1;
			if (a == X86_RSP || b == X86_RSP)
				*rsp_moved = 1, *ra = -1;
			continue;
		}
		if (!nops)
			continue;
		dst = reg_family(ops[nops - 1], opn[nops - 1]);
		if (dst < 0)
			continue;
		if (dst == X86_RSP) {
			*rsp_moved = 1;
			*ra = -1;
		}
		/* A 64-bit register-to-register mov keeps the value. */
		if (nops == 2 && (mlen == 3 || mlen == 4) && !strncmp(m, "mov", 3) &&
		    (mlen == 3 || m[3] == 'q')) {
			int w0, w1, src = reg_family_w(ops[0], opn[0], &w0);

			reg_family_w(ops[1], opn[1], &w1);
			if (src >= 0 && w0 && w1) {
				vals[dst] = vals[src];
				continue;
			}
		}
		vals[dst] = -1;
	}
	return 0;
}

struct func_spec {
	const char *name;
	unsigned int args;
	unsigned int flags;
	int must_succeed; /* the design depends on it: fail loudly if not */
};

#define ALLOC(n, a) { n, a, ATTACH_POINT_F_STACK, 0 }
#define FREE(n, a) { n, a, 0, 0 }

static const int sysv[ATTACH_NR_ARGS] = { X86_RDI, X86_RSI, X86_RDX, X86_RCX, X86_R8, X86_R9 };

/* Check every function of `specs` present in `path`; returns how many were
 * checked, and how many got an emulated attach point in *ok. */
static int check_library(const char *path, const struct func_spec *specs, size_t nspecs, int *ok)
{
	struct image im = { .fd = -1 };
	struct disasm all = { 0 };
	uint64_t taddr, tsize;
	uint8_t *text = NULL;
	int checked = 0;
	size_t mismatches = 0;

	*ok = 0;
	if (!ASSERT_OK(image_open(path, &im), path))
		return 0;
	if (!ASSERT_OK(image_text(&im, &taddr, &tsize), ".text") ||
	    !ASSERT_OK(disasm_load(path, 0, 0, &all, NULL), "objdump .text"))
		goto out;
	text = image_bytes(&im, taddr, tsize);
	if (!ASSERT_OK_PTR(text, "read .text"))
		goto out;

	/* (a) the length decoder agrees with objdump on every instruction. */
	for (size_t i = 0; i + 1 < all.n; i++) {
		struct x86_insn in;
		uint64_t a = all.addr[i], b = all.addr[i + 1];
		int ret;

		if (a < taddr || b > taddr + tsize || b <= a)
			continue;
		ret = x86_insn_decode(text + (a - taddr), tsize - (a - taddr), &in);
		if (ret != (int)(b - a)) {
			if (mismatches++ < 5) {
				fprintf(stderr, "  %s: 0x%llx: decoded %d, objdump %d:", path,
					(unsigned long long)a, ret, (int)(b - a));
				for (uint64_t k = a; k < b && k < a + 15; k++)
					fprintf(stderr, " %02x", text[k - taddr]);
				fprintf(stderr, "\n");
			}
		}
	}
	ASSERT_EQ(all.bad, 0, "objdump (bad) lines");
	ASSERT_EQ(mismatches, 0, "decoder vs objdump over .text");
	ASSERT_TRUE(all.n > 100, "enough instructions");

	/* (b) attach points of the malloc family. */
	for (size_t s = 0; s < nspecs; s++) {
		const struct func_spec *fs = &specs[s];
		struct attach_point ap;
		struct disasm fd = { 0 };
		struct dline *lines = NULL;
		uint64_t addr, size;
		uint8_t *code;
		int ret, vals[16], moved, boundary = 0;
		long ra;

		if (image_func(&im, fs->name, &addr, &size) || !size)
			continue;
		code = image_bytes(&im, addr, size);
		if (!ASSERT_OK_PTR(code, fs->name))
			continue;
		ret = attach_point__find(code, size, addr, fs->args, fs->flags, &ap);
		printf("       %s %s: +%u %s%s", strrchr(path, '/') + 1, fs->name, ap.offset,
		       attach_point__reason_str(ap.reason), ret ? " -> entry" : "");
		for (int a = 0; a < ATTACH_NR_ARGS; a++)
			if (fs->args & ATTACH_ARG(a))
				printf(" arg%d=%s", a, x86_reg_name(ap.arg_reg[a]));
		printf(" ra=rsp+%d%s\n", ap.ra_offset, ap.kernel_adds_caller ? " (kernel adds caller)" : "");
		checked++;
		if (!ret)
			(*ok)++;
		if (fs->must_succeed)
			ASSERT_OK(ret, fs->name);
		if (ret) {
			ASSERT_EQ(ap.offset, 0, fs->name);
			free(code);
			continue;
		}
		if (!ASSERT_OK(disasm_load(path, addr, addr + size, &fd, &lines), "objdump func")) {
			free(code);
			continue;
		}
		/* The offset is an instruction boundary for objdump too. */
		for (size_t i = 0; i < fd.n; i++)
			boundary |= fd.addr[i] == addr + ap.offset;
		ASSERT_TRUE(boundary, fs->name);
		/* Nothing before it branches, moves the stack (if asked) or
		 * loses an argument, by objdump's own account. */
		if (ASSERT_OK(text_simulate(lines, addr, addr + ap.offset, vals, &moved, &ra),
			      fs->name)) {
			for (int a = 0; a < ATTACH_NR_ARGS; a++)
				if (fs->args & ATTACH_ARG(a)) {
					ASSERT_TRUE(ap.arg_reg[a] >= 0, fs->name);
					if (ap.arg_reg[a] >= 0)
						ASSERT_EQ(vals[ap.arg_reg[a]], sysv[a], fs->name);
				}
			if (fs->flags & ATTACH_POINT_F_STACK)
				ASSERT_FALSE(moved, fs->name);
			ASSERT_EQ(ap.stack_intact, !moved, fs->name);
			ASSERT_EQ(ap.ra_offset, ra, fs->name);
			ASSERT_EQ(ap.rbp_intact, vals[X86_RBP] == X86_RBP, fs->name);
			ASSERT_EQ(ap.kernel_adds_caller, code[ap.offset] == 0x55, fs->name);
		}
		/* No direct branch anywhere in .text lands in (addr, addr+offset]:
		 * not even from cold parts or other functions. */
		for (size_t t = 0; t < all.ntargets; t++)
			if (all.targets[t] > addr && all.targets[t] <= addr + ap.offset) {
				ASSERT_TRUE(0, fs->name);
				fprintf(stderr, "    branch to 0x%llx\n",
					(unsigned long long)all.targets[t]);
			}
		free(lines);
		disasm_free(&fd);
		free(code);
	}
out:
	free(text);
	disasm_free(&all);
	image_close(&im);
	return checked;
}

static int find_libc(struct dl_phdr_info *info, size_t size, void *data)
{
	char *out = data;

	(void)size;
	if (info->dlpi_name && strstr(info->dlpi_name, "/libc.so.6")) {
		snprintf(out, 256, "%s", info->dlpi_name);
		return 1;
	}
	return 0;
}

static const struct func_spec glibc_specs[] = {
	{ "malloc", ATTACH_ARG(0), ATTACH_POINT_F_STACK, 1 },
	{ "free", ATTACH_ARG(0), 0, 1 },
	{ "calloc", ATTACH_ARG(0) | ATTACH_ARG(1), ATTACH_POINT_F_STACK, 1 },
	{ "realloc", ATTACH_ARG(0) | ATTACH_ARG(1), ATTACH_POINT_F_STACK, 1 },
	ALLOC("memalign", ATTACH_ARG(0) | ATTACH_ARG(1)),
	ALLOC("aligned_alloc", ATTACH_ARG(0) | ATTACH_ARG(1)),
	ALLOC("posix_memalign", ATTACH_ARG(0) | ATTACH_ARG(1) | ATTACH_ARG(2)),
	ALLOC("valloc", ATTACH_ARG(0)),
	ALLOC("pvalloc", ATTACH_ARG(0)),
	ALLOC("reallocarray", ATTACH_ARG(0) | ATTACH_ARG(1) | ATTACH_ARG(2)),
	FREE("cfree", ATTACH_ARG(0)),
	FREE("malloc_usable_size", ATTACH_ARG(0)),
};

void test_attach_point_glibc(void)
{
	char libc[256] = "";
	int ok = 0;

	dl_iterate_phdr(find_libc, libc);
	if (!ASSERT_TRUE(libc[0], "libc found"))
		return;
	ASSERT_EQ(check_library(libc, glibc_specs, ARRAY_SIZE(glibc_specs), &ok), 12, "checked");
	/* Only malloc_usable_size (test; je; ... ret) is allowed not to
	 * have one: every allocator entry point of glibc 2.36 does. */
	ASSERT_TRUE(ok >= 10, "emulated attach points in glibc");
}

void test_attach_point_other_allocators(void)
{
	static const struct func_spec cxx[] = {
		ALLOC("_Znwm", ATTACH_ARG(0)),
		ALLOC("_Znam", ATTACH_ARG(0)),
		ALLOC("_ZnwmRKSt9nothrow_t", ATTACH_ARG(0)),
		ALLOC("_ZnwmSt11align_val_t", ATTACH_ARG(0) | ATTACH_ARG(1)),
		FREE("_ZdlPv", ATTACH_ARG(0)),
		FREE("_ZdlPvm", ATTACH_ARG(0) | ATTACH_ARG(1)),
		FREE("_ZdaPv", ATTACH_ARG(0)),
		FREE("_ZdlPvSt11align_val_t", ATTACH_ARG(0)),
	};
	static const struct func_spec generic[] = {
		ALLOC("malloc", ATTACH_ARG(0)),
		FREE("free", ATTACH_ARG(0)),
		ALLOC("calloc", ATTACH_ARG(0) | ATTACH_ARG(1)),
		ALLOC("realloc", ATTACH_ARG(0) | ATTACH_ARG(1)),
		ALLOC("posix_memalign", ATTACH_ARG(0) | ATTACH_ARG(1) | ATTACH_ARG(2)),
		ALLOC("aligned_alloc", ATTACH_ARG(0) | ATTACH_ARG(1)),
		ALLOC("memalign", ATTACH_ARG(0) | ATTACH_ARG(1)),
		ALLOC("mallocx", ATTACH_ARG(0) | ATTACH_ARG(1)),
		ALLOC("rallocx", ATTACH_ARG(0) | ATTACH_ARG(1) | ATTACH_ARG(2)),
		FREE("sdallocx", ATTACH_ARG(0) | ATTACH_ARG(1)),
		FREE("dallocx", ATTACH_ARG(0)),
		ALLOC("mi_malloc", ATTACH_ARG(0)),
		FREE("mi_free", ATTACH_ARG(0)),
		ALLOC("_Znwm", ATTACH_ARG(0)),
		FREE("_ZdlPv", ATTACH_ARG(0)),
		FREE("_ZdlPvm", ATTACH_ARG(0) | ATTACH_ARG(1)),
	};
	static const char *const libs[] = {
		"/usr/lib/x86_64-linux-gnu/libjemalloc.so.2",
		"/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4",
		"/usr/lib/x86_64-linux-gnu/libmimalloc.so.2",
	};
	const char *stdcxx = "/usr/lib/x86_64-linux-gnu/libstdc++.so.6";
	int ok = 0;

	/* libstdc++ comes with the compiler the tests need anyway. */
	if (ASSERT_OK(access(stdcxx, R_OK), "libstdc++ present")) {
		ASSERT_TRUE(check_library(stdcxx, cxx, ARRAY_SIZE(cxx), &ok) >= 6, "libstdc++");
		ASSERT_TRUE(ok >= 6, "libstdc++ attach points");
	}
	for (size_t i = 0; i < ARRAY_SIZE(libs); i++) {
		if (access(libs[i], R_OK)) {
			/* scripts/deps.sh installs all of them: a skip, not a pass */
			harness_skip(__FILE__, __LINE__, "%s is not installed, not checked", libs[i]);
			continue;
		}
		ASSERT_TRUE(check_library(libs[i], generic, ARRAY_SIZE(generic), &ok) >= 2, libs[i]);
		ASSERT_TRUE(ok >= 2, "malloc and free at least");
	}
}

/* A static executable and CET-compiled code, built here with known symbols. */
void test_attach_point_built_binaries(void)
{
	static const char *const src =
		"#include <stdlib.h>\n"
		"static volatile size_t sink;\n"
		"__attribute__((noinline)) void *count_alloc(size_t n) {\n"
		"	void *p = malloc(n); sink += n; return p; }\n"
		"__attribute__((noinline)) void *count_calloc(size_t n, size_t m) {\n"
		"	void *p = calloc(n, m); sink += n; return p; }\n"
		"__attribute__((noinline)) void wrap_free(void *p) { if (p) free(p); }\n"
		"/* gcc rewrites n before its tail call: a legitimate fallback */\n"
		"__attribute__((noinline)) void *wrap_alloc(size_t n) { if (!n) n = 1; return malloc(n); }\n"
		"int main(int argc, char **argv) { (void)argv;\n"
		"	void *p = count_alloc((size_t)argc * 100), *q = count_calloc(argc, 8);\n"
		"	wrap_free(q); p = realloc(p, 300); wrap_free(p);\n"
		"	free(wrap_alloc(argc)); return 0; }\n";
	static const struct func_spec static_specs[] = {
		{ "malloc", ATTACH_ARG(0), ATTACH_POINT_F_STACK, 1 },
		{ "free", ATTACH_ARG(0), 0, 1 },
		ALLOC("calloc", ATTACH_ARG(0) | ATTACH_ARG(1)),
		ALLOC("realloc", ATTACH_ARG(0) | ATTACH_ARG(1)),
		{ "count_alloc", ATTACH_ARG(0), ATTACH_POINT_F_STACK, 1 },
		{ "count_calloc", ATTACH_ARG(0) | ATTACH_ARG(1), ATTACH_POINT_F_STACK, 1 },
		{ "wrap_free", ATTACH_ARG(0), 0, 1 },
		ALLOC("wrap_alloc", ATTACH_ARG(0)),
	};
	char *dir = make_tmpdir(), c[300], bin[300], cet[300], cmd[1400];
	int ok = 0;

	if (!ASSERT_OK_PTR(dir, "mkdtemp"))
		return;
	snprintf(c, sizeof(c), "%s/prog.c", dir);
	snprintf(bin, sizeof(bin), "%s/prog-static", dir);
	snprintf(cet, sizeof(cet), "%s/prog-cet", dir);
	if (!ASSERT_OK(write_file(c, src), "write prog.c"))
		goto cleanup;
	snprintf(cmd, sizeof(cmd), "cc -O2 -static -o '%s' '%s' && cc -O2 -fcf-protection=full -o '%s' '%s'",
		 bin, c, cet, c);
	if (!ASSERT_OK(run(cmd), "cc"))
		goto cleanup;
	ASSERT_EQ(check_library(bin, static_specs, ARRAY_SIZE(static_specs), &ok),
		  ARRAY_SIZE(static_specs), "static: all found");
	ASSERT_EQ(check_library(cet, static_specs + 4, 4, &ok), 4, "cet: all found");
	ASSERT_TRUE(ok >= 3, "cet: emulated attach points");
	/* CET code starts with endbr64, which the kernel single-steps: the
	 * attach point must be past it. */
	{
		struct image im = { .fd = -1 };
		uint64_t addr, size;
		uint8_t *code = NULL;
		struct attach_point ap;

		if (ASSERT_OK(image_open(cet, &im), "open cet") &&
		    ASSERT_OK(image_func(&im, "count_alloc", &addr, &size), "count_alloc") &&
		    ASSERT_OK_PTR(code = image_bytes(&im, addr, size), "bytes")) {
			ASSERT_TRUE(size > 4 && !memcmp(code, "\xf3\x0f\x1e\xfa", 4), "starts with endbr64");
			ASSERT_OK(attach_point__find(code, size, addr, ATTACH_ARG(0),
						     ATTACH_POINT_F_STACK, &ap), "find");
			ASSERT_TRUE(ap.offset >= 4, "past endbr64");
			/* Every truncation of the function is handled. */
			for (size_t n = 1; n < size; n++) {
				uint8_t *t = malloc(n);
				int ret;

				if (!ASSERT_OK_PTR(t, "malloc"))
					break;
				memcpy(t, code, n);
				ret = attach_point__find(t, n, addr, ATTACH_ARG(0), ATTACH_POINT_F_STACK, &ap);
				ASSERT_TRUE(ret == -ENOENT || ap.offset + ap.insn_len <= n, "truncated");
				free(t);
			}
		}
		free(code);
		if (im.elf)
			image_close(&im);
	}
cleanup:
	rm_tmpdir(dir);
}
