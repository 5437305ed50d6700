// SPDX-License-Identifier: Apache-2.0
/* procmem: reads of a process's memory (this process's own, so the bytes
 * are known) — whole ranges, unmapped and partly unmapped ones, garbage
 * addresses, wrap-around, a process that is gone, and the page cache. */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "util/procmem.h"

/* Two pages: the first readable and filled, the second PROT_NONE. */
static uint8_t *two_pages(void)
{
	uint8_t *p = mmap(NULL, 2 * PROCMEM_PAGE, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return NULL;
	for (size_t i = 0; i < PROCMEM_PAGE; i++)
		p[i] = (uint8_t)(i * 7 + 3);
	if (mprotect(p + PROCMEM_PAGE, PROCMEM_PAGE, PROT_NONE)) {
		munmap(p, 2 * PROCMEM_PAGE);
		return NULL;
	}
	return p;
}

void test_procmem_read(void)
{
	uint8_t *p = two_pages(), buf[256];
	pid_t me = getpid(), gone;
	int st;

	if (!ASSERT_TRUE(p != NULL, "fixture pages"))
		return;
	ASSERT_OK(procmem_read(me, (uintptr_t)p + 100, buf, sizeof(buf)), "whole range");
	ASSERT_TRUE(!memcmp(buf, p + 100, sizeof(buf)), "the bytes read are the target's");
	ASSERT_OK(procmem_read(me, 0x1000, buf, 0), "an empty read is no read");
	/* The range runs from the readable page into the PROT_NONE one: the
	 * kernel copies the first part; that is an error, not a short buffer. */
	ASSERT_EQ(procmem_read(me, (uintptr_t)p + PROCMEM_PAGE - 16, buf, 64), -EFAULT,
		  "partly unreadable range");
	ASSERT_EQ(procmem_read(me, (uintptr_t)p + PROCMEM_PAGE, buf, 8), -EFAULT, "PROT_NONE page");
	munmap(p + PROCMEM_PAGE, PROCMEM_PAGE);
	ASSERT_EQ(procmem_read(me, (uintptr_t)p + PROCMEM_PAGE, buf, 8), -EFAULT, "unmapped page");
	ASSERT_EQ(procmem_read(me, 0, buf, 8), -EFAULT, "address 0");
	ASSERT_EQ(procmem_read(me, 0xffffffffff600000ULL, buf, 8) < 0, 1, "kernel address");
	ASSERT_EQ(procmem_read(me, UINT64_MAX - 3, buf, 8), -EFAULT, "range wraps around");
	ASSERT_EQ(procmem_read(me, (uintptr_t)p, buf, PROCMEM_MAX_READ + 1), -E2BIG,
		  "a read past the bound is refused before the kernel is asked");
	gone = fork();
	if (!gone)
		_exit(0);
	waitpid(gone, &st, 0);
	ASSERT_EQ(procmem_read(gone, (uintptr_t)p, buf, 8), -ESRCH, "a process that is gone");
	munmap(p, PROCMEM_PAGE);
}

void test_procmem_cache(void)
{
	struct procmem_cache *m = calloc(1, sizeof(*m));
	uint8_t *p = two_pages(), buf[64];
	uint64_t v;
	size_t reads;

	if (!ASSERT_TRUE(m && p, "fixture"))
		goto out;
	procmem_cache_reset(m, getpid());
	ASSERT_OK(procmem_cache_read(m, (uintptr_t)p + 8, &v, sizeof(v)), "a word");
	ASSERT_TRUE(!memcmp(&v, p + 8, sizeof(v)), "its bytes");
	reads = m->reads;
	ASSERT_OK(procmem_cache_read(m, (uintptr_t)p + 200, buf, sizeof(buf)), "same page");
	ASSERT_TRUE(!memcmp(buf, p + 200, sizeof(buf)), "its bytes");
	ASSERT_EQ(m->reads, reads, "served from the page already read");
	ASSERT_EQ(procmem_cache_read(m, (uintptr_t)p + PROCMEM_PAGE - 8, buf, 16), -EFAULT,
		  "a read across into the PROT_NONE page fails whole");
	ASSERT_EQ(m->failures, 1, "the failed page is counted");
	ASSERT_EQ(procmem_cache_read(m, UINT64_MAX - 3, buf, 8), -EFAULT, "wraps around");
	ASSERT_EQ(procmem_cache_read(m, 8, buf, 8), -EFAULT, "garbage address");
	/* A page read for one process is not served for another. */
	procmem_cache_reset(m, getppid());
	for (int i = 0; i < PROCMEM_PAGES; i++)
		ASSERT_EQ(m->addr[i], 0, "reset empties the pages");
out:
	if (p)
		munmap(p, 2 * PROCMEM_PAGE);
	free(m);
}
