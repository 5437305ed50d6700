/* SPDX-License-Identifier: Apache-2.0 */
/* bpf_diag: who refused a BPF object, from what libbpf printed while
 * loading it. libbpf's messages are captured per thread (and passed
 * through to stderr only with -v); after a failed load, bpf_diag__explain()
 * names the refusal: libbpf's CO-RE relocation (program and field, before
 * the kernel saw anything), the kernel's verifier (program and the lines of
 * its log that give the reason), or another refusal by the kernel. */
#ifndef PROFD_BPF_DIAG_H
#define PROFD_BPF_DIAG_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

/* libbpf_set_print() with the capture; verbose passes every message on. */
void bpf_diag__install(bool verbose);
/* The print callback itself (tests feed it). */
int bpf_diag__print(int level, const char *fmt, va_list ap);
/* Forget what this thread captured: call before a load. */
void bpf_diag__reset(void);
/* Explain the failed load of this thread that returned err (-errno): a
 * sentence in a thread-local buffer, valid until the next call. */
const char *bpf_diag__explain(int err);
/* The same over a given text of libbpf messages (tests). */
const char *bpf_diag__explain_text(const char *log, int err, char *buf, size_t len);
struct bpf_object;
/* With -v: each loaded program of obj and how many instructions the
 * verifier walked for it (its share of the load time). */
/* At debug level: ask the kernel for its verifier statistics (before
 * load), then log each program's (after): instructions, instructions the
 * verifier walked, its states and its time. Returns the sum of the
 * verification times in ms (0 below debug level). */
void bpf_diag__request_stats(struct bpf_object *obj);
double bpf_diag__log_programs(struct bpf_object *obj);

#endif
