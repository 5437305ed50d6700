// SPDX-License-Identifier: Apache-2.0
/* bpf_diag: who refused a load, from libbpf's messages as Debian 12's 6.1
 * kernel made libbpf print them (CO-RE relocation refused in libbpf; the
 * verifier's refusal of a context access), and from garbage. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collect/bpf_diag.h"
#include "collect/probe.h"
#include "harness.h"

static void feed(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	bpf_diag__print(0, fmt, ap);
	va_end(ap);
}

/* As libbpf 1.1 printed it (debug lines too: they are captured) for profd's cpu.bpf.o (built against 6.18's
 * vmlinux.h, pt_regs.cs a u16) loading on 6.1 (pt_regs.cs unsigned long). */
static const char *core_log =
	"libbpf: prog 'on_cpu_sample_dwarf': relo #6: <byte_off> [96] struct bpf_perf_event_data.regs.ip (0:0:16 @ offset 128)\n"
	"libbpf: prog 'on_cpu_sample_dwarf': relo #6: matching candidate #0 <byte_off> [1872] struct bpf_perf_event_data.regs.ip (0:0:16 @ offset 128)\n"
	"libbpf: prog 'on_cpu_sample_dwarf': relo #7: <byte_off> [96] struct bpf_perf_event_data.regs.cs (0:0:17:0 @ offset 136)\n"
	"libbpf: prog 'on_cpu_sample_dwarf': relo #7: matching candidate #0 <byte_off> [1872] struct bpf_perf_event_data.regs.cs (0:0:17 @ offset 136)\n"
	"libbpf: prog 'on_cpu_sample_dwarf': relo #7: patched insn #74 (LDX/ST/STX) off 136 -> 136\n"
	"libbpf: prog 'on_cpu_sample_dwarf': relo #7: insn #74 (LDX/ST/STX) unexpected mem size: got 8, exp 2\n"
	"libbpf: prog 'on_cpu_sample_dwarf': relo #7: failed to patch insn #74: -22\n"
	"libbpf: failed to perform CO-RE relocations: -22\n"
	"libbpf: failed to load object 'cpu_bpf'\n"
	"libbpf: failed to load BPF skeleton 'cpu_bpf': -22\n";

void test_bpf_diag_core_relocation(void)
{
	char buf[768];
	const char *m = bpf_diag__explain_text(core_log, -EINVAL, buf, sizeof(buf));

	ASSERT_TRUE(strstr(m, "libbpf refused program 'on_cpu_sample_dwarf' before the kernel saw it"),
		    "names libbpf and the program");
	ASSERT_TRUE(strstr(m, "struct bpf_perf_event_data.regs.cs"), "names the field");
	ASSERT_TRUE(strstr(m, "unexpected mem size: got 8, exp 2"), "gives libbpf's reason");
	ASSERT_FALSE(strstr(m, "kernel rejected"), "does not blame the kernel");
	ASSERT_FALSE(strstr(m, "failed to patch"), "the reason, not the consequence");
	ASSERT_FALSE(strstr(m, "patched insn"), "the reason, not libbpf's progress");
}

/* The verifier's log ends with its verdict after the instruction trace. */
static const char *verifier_log =
	"libbpf: prog 'on_cpu_sample': BPF program load failed: Permission denied\n"
	"libbpf: prog 'on_cpu_sample': -- BEGIN PROG LOAD LOG --\n"
	"0: R1=ctx(off=0,imm=0) R10=fp0\n"
	"; int on_cpu_sample(struct bpf_perf_event_data *ctx)\n"
	"0: (bf) r6 = r1                       ; R1=ctx(off=0,imm=0) R6_w=ctx(off=0,imm=0)\n"
	"75: (b7) r2 = 136                     ; R2_w=136\n"
	"76: (0f) r1 += r2                     ; R1_w=ctx(off=136,imm=0) R2_w=136\n"
	"; \n"
	"77: (79) r1 = *(u64 *)(r1 +0)\n"
	"dereference of modified ctx ptr R1 off=136 disallowed\n"
	"processed 78 insns (limit 1000000) max_states_per_insn 0 total_states 6 peak_states 6 mark_read 4\n"
	"-- END PROG LOAD LOG --\n"
	"libbpf: prog 'on_cpu_sample': failed to load: -13\n"
	"libbpf: failed to load object 'cpu_bpf'\n";

void test_bpf_diag_verifier(void)
{
	char buf[768];
	const char *m = bpf_diag__explain_text(verifier_log, -EACCES, buf, sizeof(buf));

	ASSERT_TRUE(strstr(m, "verifier refused program 'on_cpu_sample'"), "names the verifier and the program");
	ASSERT_TRUE(strstr(m, "dereference of modified ctx ptr R1 off=136 disallowed"), "its verdict");
	ASSERT_TRUE(strstr(m, "-v"), "points to the whole log");
	ASSERT_FALSE(strstr(m, "R6_w"), "no instruction trace");
}

/* A field this kernel lacks: libbpf poisons the instruction, the verifier
 * meets it, libbpf rewrites that log line. */
void test_bpf_diag_core_poisoned(void)
{
	static const char *log =
		"libbpf: prog 'on_switch': BPF program load failed: Invalid argument\n"
		"libbpf: prog 'on_switch': -- BEGIN PROG LOAD LOG --\n"
		"12: (85) call unknown#195896080\n"
		"failed to resolve CO-RE relocation <byte_off> [12] struct task_struct.__state (0:1 @ offset 24)\n"
		"processed 13 insns\n"
		"-- END PROG LOAD LOG --\n";
	char buf[768];
	const char *m = bpf_diag__explain_text(log, -EINVAL, buf, sizeof(buf));

	ASSERT_TRUE(strstr(m, "libbpf could not relocate program 'on_switch'"), "names libbpf and the program");
	ASSERT_TRUE(strstr(m, "struct task_struct.__state"), "names the field");
}

/* Refused by the kernel before any verification (no log). */
void test_bpf_diag_kernel_refusal(void)
{
	static const char *log = "libbpf: prog 'x': BPF program load failed: Operation not permitted\n"
				 "libbpf: prog 'x': failed to load: -1\n";
	char buf[768];
	const char *m = bpf_diag__explain_text(log, -EPERM, buf, sizeof(buf));

	ASSERT_TRUE(strstr(m, "the kernel refused it"), "the kernel");
	ASSERT_TRUE(strstr(m, "CAP_BPF"), "the likely cause");
	m = bpf_diag__explain_text("", -ENOMEM, buf, sizeof(buf));
	ASSERT_STREQ(m, probe_explain(-ENOMEM), "nothing captured: the errno's explanation");
	m = bpf_diag__explain_text(NULL, -EINVAL, buf, sizeof(buf));
	ASSERT_STREQ(m, probe_explain(-EINVAL), "no capture at all");
}

/* The capture: what the print callback got since the last reset, the
 * tail kept when a log is longer than the buffer. */
void test_bpf_diag_capture(void)
{
	const char *m;

	bpf_diag__reset();
	feed("prog '%s': relo #%d: %s\n", "p", 3, "<byte_off> [4] struct pt_regs.cs (0:17 @ offset 136)");
	feed("prog '%s': relo #%d: insn #%d (LDX/ST/STX) unexpected mem size: got %d, exp %d\n", "p", 3, 9,
	     8, 2);
	feed("failed to perform CO-RE relocations: %d\n", -22);
	m = bpf_diag__explain(-EINVAL);
	ASSERT_TRUE(strstr(m, "program 'p'") && strstr(m, "struct pt_regs.cs"), "captured and explained");
	bpf_diag__reset();
	for (int i = 0; i < 20000; i++)
		feed("%d: (bf) r6 = r1 ; R1=ctx(off=0,imm=0) padding padding padding\n", i);
	feed("invalid access to map value\nprocessed 20000 insns\n-- END PROG LOAD LOG --\n");
	m = bpf_diag__explain(-EACCES);
	/* The BEGIN line fell out of the tail: no verifier attribution, but
	 * no crash and a sentence. */
	ASSERT_TRUE(m && *m, "a sentence for a log longer than the capture");
	bpf_diag__reset();
	m = bpf_diag__explain(-EPERM);
	ASSERT_STREQ(m, probe_explain(-EPERM), "reset forgets");
}

/* Garbage of every kind: no crash, always a sentence. */
void test_bpf_diag_garbage(void)
{
	char log[4096], buf[128];
	unsigned seed = 7;
	static const char *frags[] = { "prog '", "relo #", ": <", "] ", " (", "\n", "failed to perform CO-RE relocations",
				       "-- BEGIN PROG LOAD LOG --", "-- END PROG LOAD LOG --", "'", "libbpf: ",
				       "failed to resolve CO-RE relocation", "1:", ";", "x" };

	for (int round = 0; round < 2000; round++) {
		size_t n = 0;

		while (n < sizeof(log) - 64) {
			const char *f = frags[rand_r(&seed) % (sizeof(frags) / sizeof(frags[0]))];

			if (rand_r(&seed) % 8 == 0)
				log[n++] = (char)(rand_r(&seed) % 255 + 1);
			else
				n += (size_t)snprintf(log + n, sizeof(log) - n, "%s", f);
			if (rand_r(&seed) % 200 == 0)
				break;
		}
		log[n] = 0;
		const char *m = bpf_diag__explain_text(log, -EINVAL, buf, sizeof(buf));
		if (!ASSERT_TRUE(m && strlen(m) < sizeof(buf), "bounded sentence"))
			return;
	}
}
