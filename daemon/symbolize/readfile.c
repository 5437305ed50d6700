// SPDX-License-Identifier: Apache-2.0
/* readfile: whole-file reads for /proc files, whose size stat() does not
 * report, so the buffer grows as the kernel produces text. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "symbolize/readfile.h"

int read_file_all(const char *path, size_t max, char **out, size_t *out_len)
{
	size_t cap = 16384, len = 0;
	char *buf = NULL, *nbuf;
	int fd, err = 0;
	ssize_t n;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
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
