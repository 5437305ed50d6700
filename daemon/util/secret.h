/* SPDX-License-Identifier: Apache-2.0 */
/* secret: read a token or password from a file the way a daemon should:
 * refuse files other users can read or write, and values that could inject
 * HTTP headers. */
#ifndef PROFD_SECRET_H
#define PROFD_SECRET_H

#include <stddef.h>

#define SECRET_MAX_LEN 4096

/* Read path into buf (size > 1), trailing whitespace removed. Returns 0, or
 * -EACCES (readable or writable by others: the message says which mode and
 * how to fix it), -EINVAL (not a regular file, empty, control characters,
 * longer than SECRET_MAX_LEN or size-1), or -errno from open/read. The
 * message in err names the file. */
int secret__read(const char *path, char *buf, size_t size, char *err, size_t errlen);

#endif
