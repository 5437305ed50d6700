/* SPDX-License-Identifier: Apache-2.0 */
/* readfile: read a whole (proc) file into memory with a size cap. Internal
 * to symbolize/. */
#ifndef PROFD_SYMBOLIZE_READFILE_H
#define PROFD_SYMBOLIZE_READFILE_H

#include <stddef.h>

/* *buf gets a NUL-terminated copy of the file (caller frees). Returns 0,
 * -EFBIG when the file exceeds max bytes, or -errno from open/read. */
int read_file_all(const char *path, size_t max, char **buf, size_t *len);

#endif
