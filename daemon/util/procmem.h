/* SPDX-License-Identifier: Apache-2.0 */
/* procmem: reads of another process's memory with process_vm_readv(), the
 * one way profd reads a target (Python code objects and frames, stacks and
 * mutex words of the threads snapshot). No ptrace, no stop; the kernel
 * checks that profd may read the process. Every read is bounded and all or
 * nothing: a range that is partly unmapped is an error, never a short
 * buffer that looks whole. */
#ifndef PROFD_PROCMEM_H
#define PROFD_PROCMEM_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Largest single read (a Python line table is the biggest profd makes). */
#define PROCMEM_MAX_READ (1U << 20)

/* len bytes at addr of pid into buf. 0, -EFAULT when any byte of the range
 * is unmapped (or addr + len wraps), -E2BIG past PROCMEM_MAX_READ, or the
 * errno of process_vm_readv (-ESRCH: gone, -EPERM: not allowed). */
int procmem_read(pid_t pid, uint64_t addr, void *buf, size_t len);

/* Pages of one process read on demand and kept for the many small reads of
 * a stack walk (user stacks of a snapshot). Not thread-safe; one per walk. */
#define PROCMEM_PAGES 16
#define PROCMEM_PAGE 4096ULL
struct procmem_cache {
	pid_t pid;
	unsigned next;
	uint64_t addr[PROCMEM_PAGES]; /* page address + 1, 0 = empty */
	uint8_t page[PROCMEM_PAGES][PROCMEM_PAGE];
	size_t reads, failures;       /* page reads, failed ones */
};

/* Forget the pages when pid changes (no-op for the same pid). */
void procmem_cache_reset(struct procmem_cache *m, pid_t pid);
/* Like procmem_read(), through the pages. 0 or -errno. */
int procmem_cache_read(struct procmem_cache *m, uint64_t addr, void *out, size_t len);

#endif
