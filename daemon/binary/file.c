// SPDX-License-Identifier: Apache-2.0
/* file: opening mapped files without side effects (stat before open, so a
 * mapped device node is never opened) and checking the fd is the file the
 * maps line names. */
#include <errno.h>
#include <fcntl.h>
#include <libelf.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <unistd.h>

#include "binary/file.h"
#include "binary/procmaps.h"

static int elf_ok;

static void elf_init_once(void)
{
	elf_ok = elf_version(EV_CURRENT) != EV_NONE;
}

int binary_elf_init(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;

	pthread_once(&once, elf_init_once);
	return elf_ok ? 0 : -ENOTSUP;
}

void binary_key__from_stat(struct binary_key *k, const struct procmaps_entry *e,
			   const struct stat *st)
{
	k->dev = procmaps_entry__dev(e);
	k->ino = e->inode ? e->inode : (uint64_t)st->st_ino;
	k->size = st->st_size;
	k->mtime = st->st_mtim;
}

int binary_open_regular(const char *path, struct stat *st)
{
	struct stat pre;
	int fd;

	if (stat(path, &pre))
		return -errno;
	if (!S_ISREG(pre.st_mode))
		return -ENOEXEC;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return -errno;
	if (fstat(fd, st) || !S_ISREG(st->st_mode) || st->st_dev != pre.st_dev ||
	    st->st_ino != pre.st_ino) {
		close(fd);
		return -ESTALE;
	}
	return fd;
}

static void map_files_path(char *buf, size_t len, pid_t pid, const struct procmaps_entry *e)
{
	snprintf(buf, len, "/proc/%d/map_files/%llx-%llx", (int)pid, (unsigned long long)e->start,
		 (unsigned long long)e->end);
}

/* map_files is the mapped file itself, even deleted or in another mount
 * namespace, but needs CAP_SYS_ADMIN; /proc/PID/root/PATH is a fallback
 * that may name a different file by now, hence the inode check. */
int binary_open_mapped(pid_t pid, const struct procmaps_entry *e, struct stat *st)
{
	char path[PATH_MAX + 64];
	int fd;

	map_files_path(path, sizeof(path), pid, e);
	fd = binary_open_regular(path, st);
	if (fd >= 0 || (e->flags & PROCMAPS_DELETED) || e->path[0] != '/')
		return fd;
	if ((size_t)snprintf(path, sizeof(path), "/proc/%d/root%s", (int)pid, e->path) >=
	    sizeof(path))
		return -ENAMETOOLONG;
	fd = binary_open_regular(path, st);
	if (fd >= 0 && e->inode && (uint64_t)st->st_ino != e->inode) {
		close(fd);
		fd = -ESTALE;
	}
	return fd;
}

bool binary_file__changed(pid_t pid, const struct procmaps_entry *e, const struct binary_key *k)
{
	char path[PATH_MAX + 64];
	struct stat st;

	map_files_path(path, sizeof(path), pid, e);
	if (stat(path, &st)) {
		if ((e->flags & PROCMAPS_DELETED) || e->path[0] != '/' ||
		    (size_t)snprintf(path, sizeof(path), "/proc/%d/root%s", (int)pid, e->path) >=
			    sizeof(path) ||
		    stat(path, &st) || (uint64_t)st.st_ino != e->inode)
			return false;
	}
	return st.st_size != k->size || st.st_mtim.tv_sec != k->mtime.tv_sec ||
	       st.st_mtim.tv_nsec != k->mtime.tv_nsec;
}
