// SPDX-License-Identifier: Apache-2.0
/* fileio: whole-file reads grow their buffer as the kernel produces text
 * (stat() reports no size for /proc files); atomic writes go through a
 * temporary in the same directory. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/fileio.h"

int read_file_all(const char *path, size_t max, char **out, size_t *out_len)
{
	size_t cap = 16384, len = 0;
	char *buf = NULL, *nbuf;
	int fd, err = 0;
	ssize_t n;

	struct stat st;

	/* O_NONBLOCK: opening a FIFO must not wait for a writer. */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st)) {
		err = -errno;
		goto cleanup;
	}
	if (!S_ISREG(st.st_mode)) {
		err = S_ISDIR(st.st_mode) ? -EISDIR : -READ_FILE_NOT_REGULAR;
		goto cleanup;
	}
	buf = malloc(cap);
	if (!buf) {
		err = -ENOMEM;
		goto cleanup;
	}
	for (;;) {
		if (cap - len < 4096 + 1) {
			if (len > max) {
				err = -EFBIG;
				goto cleanup;
			}
			nbuf = realloc(buf, cap * 2);
			if (!nbuf) {
				err = -ENOMEM;
				goto cleanup;
			}
			buf = nbuf;
			cap *= 2;
		}
		n = read(fd, buf + len, cap - len - 1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			err = -errno;
			goto cleanup;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (len > max) {
		err = -EFBIG;
		goto cleanup;
	}
	buf[len] = '\0';
	*out = buf;
	*out_len = len;
	buf = NULL;
cleanup:
	free(buf);
	close(fd);
	return err;
}

int write_all(int fd, const void *data, size_t len)
{
	const char *p = data;

	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (!n)
			return -EIO;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int fsync_dir(const char *dir)
{
	int fd, err = 0;

	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fsync(fd))
		err = -errno;
	close(fd);
	return err;
}

/* Make the rename itself durable. Best effort: the new file is already in
 * place and complete, so failing here must not report the write as failed. */
static void sync_dir_of(const char *path)
{
	char dir[PATH_MAX];
	const char *slash = strrchr(path, '/');

	if (!slash)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == path)
		snprintf(dir, sizeof(dir), "/");
	else if ((size_t)snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path) >= sizeof(dir))
		return;
	(void)fsync_dir(dir);
}

int write_file_atomic(const char *path, char *tmpl, const struct iovec *iov, int iovcnt,
		      mode_t mode, unsigned flags)
{
	int fd, err = 0;

	fd = mkostemp(tmpl, O_CLOEXEC);
	if (fd < 0)
		return -errno;
	/* The mode before the data: it reaches the disk with them. */
	if (mode && fchmod(fd, mode))
		err = -errno;
	for (int i = 0; i < iovcnt && !err; i++)
		err = write_all(fd, iov[i].iov_base, iov[i].iov_len);
	/* Data on disk before the name: after a crash the file is whole or absent. */
	if (!err && ((flags & ATOMIC_DATASYNC) ? fdatasync(fd) : fsync(fd)))
		err = -errno;
	if (close(fd) && !err)
		err = -errno;
	if (!err) {
		if (flags & ATOMIC_NOREPLACE)
			err = renameat2(AT_FDCWD, tmpl, AT_FDCWD, path, RENAME_NOREPLACE) ? -errno : 0;
		else
			err = rename(tmpl, path) ? -errno : 0;
	}
	if (err) {
		unlink(tmpl);
		return err;
	}
	if (flags & ATOMIC_SYNC_DIR)
		sync_dir_of(path);
	return 0;
}
