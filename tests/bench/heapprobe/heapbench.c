// SPDX-License-Identifier: Apache-2.0
/* heapbench: cost per call of the malloc family, and of tiny functions that
 * each start with one instruction class, so a uprobe attached from outside
 * (bpftrace, profd) can be priced per call: run once bare, once probed, and
 * subtract. Prints one line: "heapbench: mode=M iters=N size=S ns_per_op=X".
 *
 *   heapbench pair    [iters] [size]   malloc(size) + free
 *   heapbench calloc  [iters] [size]   calloc(1, size) + free
 *   heapbench realloc [iters] [size]   malloc(size) + realloc(2*size) + free
 *   heapbench new     [iters] [size]   operator new + operator delete (libstdc++ via dlopen)
 *   heapbench stub:NAME [iters]        call hb_NAME (see the asm below) in a loop
 *
 * Calls go through volatile function pointers so the compiler cannot elide a
 * malloc/free pair, and so LD_PRELOAD'ed allocators are measured the same way.
 * Build: cc -O2 -o heapbench heapbench.c -ldl */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* One-instruction stubs: the probe goes on the first instruction (offset 0),
 * whose kernel handling (emulated or single-stepped) is what is priced. */
__asm__(".text\n"
	".p2align 4\n.globl hb_push\n.type hb_push,@function\n"
	"hb_push: push %rbp\n pop %rbp\n ret\n"
	".p2align 4\n.globl hb_push_r12\n.type hb_push_r12,@function\n"
	"hb_push_r12: push %r12\n pop %r12\n ret\n"
	".p2align 4\n.globl hb_test\n.type hb_test,@function\n"
	"hb_test: test %rdi,%rdi\n ret\n"
	".p2align 4\n.globl hb_mov\n.type hb_mov,@function\n"
	"hb_mov: mov %rdi,%rax\n ret\n"
	".p2align 4\n.globl hb_sub\n.type hb_sub,@function\n"
	"hb_sub: sub $8,%rsp\n add $8,%rsp\n ret\n"
	".p2align 4\n.globl hb_riprel\n.type hb_riprel,@function\n"
	"hb_riprel: cmpb $0,hb_flag(%rip)\n ret\n"
	".p2align 4\n.globl hb_jcc\n.type hb_jcc,@function\n"
	"hb_jcc: je 1f\n1: ret\n"
	".p2align 4\n.globl hb_jmp\n.type hb_jmp,@function\n"
	"hb_jmp: jmp 1f\n1: ret\n"
	".p2align 4\n.globl hb_call\n.type hb_call,@function\n"
	"hb_call: call hb_ret\n ret\n"
	".p2align 4\n.globl hb_ret\n.type hb_ret,@function\n"
	"hb_ret: ret\n"
	".p2align 4\n.globl hb_nop1\n.type hb_nop1,@function\n"
	"hb_nop1: nop\n ret\n"
	".p2align 4\n.globl hb_nop3\n.type hb_nop3,@function\n"
	"hb_nop3: .byte 0x0f,0x1f,0x00\n ret\n"
	".p2align 4\n.globl hb_nop8\n.type hb_nop8,@function\n"
	"hb_nop8: .byte 0x0f,0x1f,0x84,0x00,0x00,0x00,0x00,0x00\n ret\n"
	".p2align 4\n.globl hb_nop5\n.type hb_nop5,@function\n"
	"hb_nop5: .byte 0x0f,0x1f,0x44,0x00,0x00\n ret\n"
	".p2align 4\n.globl hb_endbr\n.type hb_endbr,@function\n"
	"hb_endbr: .byte 0xf3,0x0f,0x1e,0xfa\n ret\n"
	".data\nhb_flag: .byte 0\n.text\n");

void hb_push(void), hb_push_r12(void), hb_test(void), hb_mov(void), hb_sub(void);
void hb_riprel(void), hb_jcc(void), hb_jmp(void), hb_call(void), hb_ret(void);
void hb_nop1(void), hb_nop3(void), hb_nop5(void), hb_nop8(void), hb_endbr(void);

static const struct {
	const char *name;
	void (*fn)(void);
} stubs[] = {
	{ "push", hb_push },   { "push_r12", hb_push_r12 }, { "test", hb_test },
	{ "mov", hb_mov },     { "sub", hb_sub },	    { "riprel", hb_riprel },
	{ "jcc", hb_jcc },     { "jmp", hb_jmp },	    { "call", hb_call },
	{ "ret", hb_ret },     { "nop1", hb_nop1 },	    { "nop3", hb_nop3 },
	{ "nop5", hb_nop5 },   { "nop8", hb_nop8 },	    { "endbr", hb_endbr },
};

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static void *(*volatile p_malloc)(size_t) = malloc;
static void *(*volatile p_calloc)(size_t, size_t) = calloc;
static void *(*volatile p_realloc)(void *, size_t) = realloc;
static void (*volatile p_free)(void *) = free;

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "pair";
	long iters = argc > 2 ? atol(argv[2]) : 1000000;
	size_t size = argc > 3 ? strtoul(argv[3], NULL, 0) : 64;
	void *(*p_new)(size_t) = NULL;
	void (*p_delete)(void *) = NULL;
	void (*volatile stub)(void) = NULL;
	double t0, t1;

	if (iters <= 0) {
		fprintf(stderr, "heapbench: bad iteration count\n");
		return 2;
	}
	if (!strncmp(mode, "stub:", 5)) {
		for (size_t i = 0; i < sizeof(stubs) / sizeof(stubs[0]); i++)
			if (!strcmp(mode + 5, stubs[i].name))
				stub = stubs[i].fn;
		if (!stub) {
			fprintf(stderr, "heapbench: unknown stub '%s'\n", mode + 5);
			return 2;
		}
	} else if (!strcmp(mode, "new")) {
		void *h = dlopen("libstdc++.so.6", RTLD_NOW);

		p_new = h ? (void *(*)(size_t))dlsym(h, "_Znwm") : NULL;
		p_delete = h ? (void (*)(void *))dlsym(h, "_ZdlPv") : NULL;
		if (!p_new || !p_delete) {
			fprintf(stderr, "heapbench: libstdc++ operator new/delete not found\n");
			return 2;
		}
	} else if (strcmp(mode, "pair") && strcmp(mode, "calloc") && strcmp(mode, "realloc")) {
		fprintf(stderr, "heapbench: unknown mode '%s'\n", mode);
		return 2;
	}

	t0 = now_ns();
	for (long i = 0; i < iters; i++) {
		void *p;

		if (stub) {
			stub();
			continue;
		}
		switch (mode[0]) {
		case 'p':
			p = p_malloc(size);
			break;
		case 'c':
			p = p_calloc(1, size);
			break;
		case 'r':
			p = p_realloc(p_malloc(size), 2 * size);
			break;
		default:
			p = p_new(size);
			p_delete(p);
			continue;
		}
		if (!p) {
			fprintf(stderr, "heapbench: allocation failed\n");
			return 1;
		}
		p_free(p);
	}
	t1 = now_ns();
	printf("heapbench: mode=%s iters=%ld size=%zu ns_per_op=%.1f\n", mode, iters, size,
	       (t1 - t0) / iters);
	return 0;
}
