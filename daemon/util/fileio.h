/* SPDX-License-Identifier: Apache-2.0 */
/* fileio: whole-file reads with a size cap (/proc files, whose size stat()
 * does not report, and the configuration file), complete writes, and the
 * write-to-a-temporary-then-rename that makes a file appear whole or not
 * at all. */
#ifndef PROFD_UTIL_FILEIO_H
#define PROFD_UTIL_FILEIO_H

#include <errno.h>
#include <stddef.h>
#include <sys/types.h>
#include <sys/uio.h>

/* What read_file_all returns (negated) for a FIFO, device or socket. */
#define READ_FILE_NOT_REGULAR EBADFD

/* *buf gets a NUL-terminated copy of the file (caller frees). Returns 0,
 * -EFBIG when the file exceeds max bytes, -EISDIR for a directory,
 * -READ_FILE_NOT_REGULAR for anything else that is not a regular file (a
 * FIFO, device or socket could block or never end: it is opened
 * non-blocking and not read), or -errno from open/read. */
int read_file_all(const char *path, size_t max, char **buf, size_t *len);

/* write(2) until all len bytes are written (EINTR retried). 0 or -errno;
 * -EIO if write returns 0. */
int write_all(int fd, const void *buf, size_t len);

enum {
	ATOMIC_NOREPLACE = 1 << 0, /* fail with -EEXIST rather than replace path */
	ATOMIC_SYNC_DIR = 1 << 1,  /* fsync the directory after the rename (best effort) */
	/* fdatasync rather than fsync the temporary: its data and what reading
	 * them needs (size, blocks) reach the disk before the rename; only
	 * its timestamps may not. */
	ATOMIC_DATASYNC = 1 << 2,
};

/* Write iov[0..iovcnt) to path so that path is either absent/old or whole:
 * into a temporary created from tmpl (a mkostemp template ending in
 * "XXXXXX", in path's directory; modified in place), given mode (0:
 * mkostemp's 0600), written, fsync'ed (fdatasync'ed with ATOMIC_DATASYNC),
 * then renamed over path. On failure the temporary is removed. Without
 * ATOMIC_SYNC_DIR the rename itself is durable only once the caller syncs
 * the directory (fsync_dir()): a crash before that may lose the file,
 * never leave it partial. Returns 0 or -errno. */
int write_file_atomic(const char *path, char *tmpl, const struct iovec *iov, int iovcnt,
		      mode_t mode, unsigned flags);

/* fsync the directory dir (the durability of the renames and creations in
 * it). Returns 0 or -errno. */
int fsync_dir(const char *dir);

#endif
