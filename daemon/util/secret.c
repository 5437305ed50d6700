// SPDX-License-Identifier: Apache-2.0
/* secret: token and password files. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/secret.h"

int secret__read(const char *path, char *buf, size_t size, char *err, size_t errlen)
{
	size_t n = 0, max = size - 1 < SECRET_MAX_LEN ? size - 1 : SECRET_MAX_LEN;
	struct stat st;
	ssize_t r;
	int fd, ret = 0;

	if (size < 2) {
		snprintf(err, errlen, "%s: no room for the secret", path);
		return -EINVAL;
	}
	buf[0] = '\0';
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		ret = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return ret;
	}
	if (fstat(fd, &st)) {
		ret = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		ret = -EINVAL;
		snprintf(err, errlen, "%s: not a regular file", path);
		goto out;
	}
	if (st.st_mode & (S_IROTH | S_IWOTH)) {
		ret = -EACCES;
		snprintf(err, errlen,
			 "%s: refusing a secret file other users can %s (mode %04o); chmod o-rw it",
			 path, st.st_mode & S_IROTH ? "read" : "write", (unsigned)(st.st_mode & 07777));
		goto out;
	}
	while (n < max + 1) {
		r = read(fd, buf + n, max + 1 - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			ret = -errno;
			snprintf(err, errlen, "%s: %s", path, strerror(errno));
			goto out;
		}
		if (!r)
			break;
		n += r;
	}
	if (n > max) {
		ret = -EINVAL;
		snprintf(err, errlen, "%s: longer than %zu bytes", path, max);
		goto out;
	}
	while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' ' || buf[n - 1] == '\t'))
		n--;
	buf[n] = '\0';
	if (!n) {
		ret = -EINVAL;
		snprintf(err, errlen, "%s: empty", path);
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		if ((unsigned char)buf[i] < 0x20 || buf[i] == 0x7f) {
			ret = -EINVAL;
			snprintf(err, errlen, "%s: control character in the secret", path);
			goto out;
		}
	}
out:
	if (ret)
		memset(buf, 0, size);
	close(fd);
	return ret;
}
