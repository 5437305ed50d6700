// SPDX-License-Identifier: Apache-2.0
/* procmem: see procmem.h. */
#include <errno.h>
#include <string.h>
#include <sys/uio.h>

#include "util/procmem.h"

int procmem_read(pid_t pid, uint64_t addr, void *buf, size_t len)
{
	struct iovec local = { .iov_base = buf, .iov_len = len };
	struct iovec remote = { .iov_base = (void *)(uintptr_t)addr, .iov_len = len };
	ssize_t n;

	if (!len)
		return 0;
	if (len > PROCMEM_MAX_READ)
		return -E2BIG;
	if (addr + len < addr)
		return -EFAULT;
	n = process_vm_readv(pid, &local, 1, &remote, 1, 0);
	if (n < 0)
		return -errno;
	/* A short count: the range runs into an unmapped page. */
	return (size_t)n == len ? 0 : -EFAULT;
}

void procmem_cache_reset(struct procmem_cache *m, pid_t pid)
{
	if (m->pid == pid)
		return;
	m->pid = pid;
	memset(m->addr, 0, sizeof(m->addr));
}

int procmem_cache_read(struct procmem_cache *m, uint64_t addr, void *out, size_t len)
{
	uint8_t *o = out;

	if (len > PROCMEM_MAX_READ)
		return -E2BIG;
	if (addr + len < addr)
		return -EFAULT;
	while (len) {
		uint64_t pg = addr & ~(PROCMEM_PAGE - 1), off = addr - pg;
		size_t n = PROCMEM_PAGE - off < len ? PROCMEM_PAGE - off : len;
		int slot = -1, err;

		for (int i = 0; i < PROCMEM_PAGES; i++)
			if (m->addr[i] == pg + 1)
				slot = i;
		if (slot < 0) {
			slot = m->next++ % PROCMEM_PAGES;
			m->addr[slot] = 0;
			m->reads++;
			err = procmem_read(m->pid, pg, m->page[slot], PROCMEM_PAGE);
			if (err) {
				m->failures++;
				return err;
			}
			m->addr[slot] = pg + 1;
		}
		memcpy(o, m->page[slot] + off, n);
		o += n;
		addr += n;
		len -= n;
	}
	return 0;
}
