/* SPDX-License-Identifier: Apache-2.0 */
/* PROCMAP_QUERY, the ioctl on /proc/PID/maps that answers one VMA covering
 * (or following) an address without the text of the whole file (linux/fs.h,
 * 6.11+). Declared here: Debian 12's kernel headers predate it. Kernels
 * without it fail the ioctl with ENOTTY (or EINVAL), and callers fall back
 * to the text. */
#ifndef PROFD_PROCMAP_QUERY_H
#define PROFD_PROCMAP_QUERY_H

#include <stdint.h>
#include <sys/ioctl.h>

struct procmap_query {
	uint64_t size, query_flags, query_addr;
	uint64_t vma_start, vma_end, vma_flags, vma_page_size, vma_offset, inode;
	uint32_t dev_major, dev_minor, vma_name_size, build_id_size;
	uint64_t vma_name_addr, build_id_addr;
};

#define PROCMAP_QUERY_IOCTL _IOWR('f', 17, struct procmap_query)

/* query_flags, and vma_flags for the first four */
#define PROCMAP_VMA_READABLE 0x01
#define PROCMAP_VMA_WRITABLE 0x02
#define PROCMAP_VMA_EXECUTABLE 0x04
#define PROCMAP_VMA_SHARED 0x08
#define PROCMAP_COVERING_OR_NEXT_VMA 0x10

#endif
