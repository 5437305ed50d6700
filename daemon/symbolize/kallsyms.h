/* SPDX-License-Identifier: Apache-2.0 */
/* kallsyms: the kernel's text symbols from /proc/kallsyms, sorted, with
 * sizes taken from the next symbol. Internal to symbolize/ (and its unit tests). */
#ifndef PROFD_SYMBOLIZE_KALLSYMS_H
#define PROFD_SYMBOLIZE_KALLSYMS_H

#include <stddef.h>
#include <stdint.h>

/* /proc/kallsyms is ~10 MB with many modules; refuse anything much bigger. */
#define KALLSYMS_MAX_BYTES (128u << 20)
/* kallsyms has no sizes: a symbol ends at the next one, and never spans
 * more than this (the largest x86 kernel functions are ~20 KiB; module
 * areas have unmapped gaps after their last function). */
#define KALLSYMS_MAX_SYM_SIZE (128u << 10)

struct ksym {
	uint64_t addr;
	uint64_t size;
	uint32_t name;     /* "do_sys_openat2" */
	uint32_t sys_name; /* same, or "nf_hook_slow [nf_tables]" for a module */
};

struct kallsyms {
	struct ksym *syms; /* sorted by addr, one per address */
	size_t nsyms;
	char *names;
	size_t names_len;
	uint64_t lo, hi; /* [lowest text address, end of the highest symbol) */
};

/* Parse kallsyms text (len bytes, need not be NUL-terminated). Malformed
 * lines are skipped. Returns 0, -EPERM when every address reads as zero
 * (kptr_restrict / missing CAP_SYSLOG: names without addresses are
 * useless), -ENODATA when there is no text symbol, -ENOMEM. */
int kallsyms__parse(const char *buf, size_t len, struct kallsyms **out);
/* kallsyms__parse() of a file, normally "/proc/kallsyms". */
int kallsyms__load(const char *path, struct kallsyms **out);
void kallsyms__free(struct kallsyms *k);

/* The text symbol covering addr, or NULL. O(log n). */
const struct ksym *kallsyms__find(const struct kallsyms *k, uint64_t addr);

size_t kallsyms__bytes(const struct kallsyms *k);

/* The GNU build id from a raw note file such as /sys/kernel/notes, as
 * lowercase hex into hex[hexlen]. Returns 0, -ENOENT (no build id note),
 * -ENOSPC (hex too small) or -errno from reading. */
int kernel_notes__build_id(const char *path, char *hex, size_t hexlen);

#endif
