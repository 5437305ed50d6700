// SPDX-License-Identifier: Apache-2.0
/* procmaps: a strict parser for /proc/PID/maps lines. The format is
 * "START-END PERMS OFFSET MAJ:MIN INODE [padding PATH]" (fs/proc/task_mmu.c
 * show_vma_header_prefix); anything else is rejected rather than guessed. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "binary/procmaps.h"
#include "util/fileio.h"
#include "util/parse.h"

#define DELETED_SUFFIX " (deleted)"

/* 1..16 hex digits; returns the first character after them or NULL. */
static char *parse_hex(char *p, uint64_t *v)
{
	uint64_t x = 0;
	int n = 0, d;

	while ((d = hexval(*p)) >= 0) {
		if (++n > 16)
			return NULL;
		x = x << 4 | (uint64_t)d;
		p++;
	}
	if (!n)
		return NULL;
	*v = x;
	return p;
}

static char *parse_dec(char *p, uint64_t *v)
{
	uint64_t x = 0;
	int n = 0;

	while (*p >= '0' && *p <= '9') {
		uint64_t d = (uint64_t)(*p - '0');

		if (x > (UINT64_MAX - d) / 10)
			return NULL;
		x = x * 10 + d;
		n++;
		p++;
	}
	if (!n)
		return NULL;
	*v = x;
	return p;
}

static char *expect(char *p, char c)
{
	return p && *p == c ? p + 1 : NULL;
}

int procmaps__parse_line(char *line, struct procmaps_entry *e)
{
	uint64_t major = 0, minor = 0;
	char *p = line;
	size_t len;

	memset(e, 0, sizeof(*e));
	p = parse_hex(p, &e->start);
	p = expect(p, '-');
	if (p)
		p = parse_hex(p, &e->end);
	p = expect(p, ' ');
	if (!p || e->start >= e->end)
		return -EINVAL;

	if ((p[0] != 'r' && p[0] != '-') || !p[1] || (p[1] != 'w' && p[1] != '-') ||
	    !p[2] || (p[2] != 'x' && p[2] != '-') || !p[3] || (p[3] != 'p' && p[3] != 's'))
		return -EINVAL;
	memcpy(e->perms, p, 4);
	e->perms[4] = '\0';
	p = expect(p + 4, ' ');

	if (p)
		p = parse_hex(p, &e->offset);
	p = expect(p, ' ');
	if (p)
		p = parse_hex(p, &major);
	p = expect(p, ':');
	if (p)
		p = parse_hex(p, &minor);
	p = expect(p, ' ');
	if (p)
		p = parse_dec(p, &e->inode);
	if (!p || major > UINT32_MAX || minor > UINT32_MAX)
		return -EINVAL;
	e->dev_major = (uint32_t)major;
	e->dev_minor = (uint32_t)minor;

	/* The inode ends the line or is followed by padding and the path. */
	if (*p && *p != ' ')
		return -EINVAL;
	while (*p == ' ')
		p++;
	len = strlen(p);
	if (len && p[len - 1] == '\n')
		p[--len] = '\0';
	if (len >= sizeof(DELETED_SUFFIX) - 1 &&
	    !strcmp(p + len - (sizeof(DELETED_SUFFIX) - 1), DELETED_SUFFIX)) {
		len -= sizeof(DELETED_SUFFIX) - 1;
		p[len] = '\0';
		e->flags |= PROCMAPS_DELETED;
	}
	/* Only absolute paths name files we can open; "[vdso]", "[anon:x]",
	 * "anon_inode:[perf_event]" and "" (anonymous, JIT) do not. */
	if (p[0] != '/')
		e->flags |= PROCMAPS_SPECIAL;
	e->path = p;
	return 0;
}

int procmaps__read_file(const char *path, procmaps_cb cb, void *ctx, size_t *nbad)
{
	struct procmaps_entry e;
	char *buf = NULL, *line, *nl;
	size_t len = 0, bad = 0;
	int err;

	err = read_file_all(path, PROCMAPS_MAX_BYTES, &buf, &len);
	if (err)
		goto cleanup;
	for (line = buf; line < buf + len; line = nl + 1) {
		nl = memchr(line, '\n', (size_t)(buf + len - line));
		if (!nl)
			nl = buf + len; /* last line without newline */
		*nl = '\0';
		/* An embedded NUL would hide the rest of the line: reject it. */
		if (strlen(line) != (size_t)(nl - line) || procmaps__parse_line(line, &e)) {
			bad++;
			continue;
		}
		if (!procmaps_entry__is_exec(&e))
			continue;
		err = cb(&e, ctx);
		if (err)
			goto cleanup;
	}
cleanup:
	if (nbad)
		*nbad = bad;
	free(buf);
	return err;
}

int procmaps__read(pid_t pid, procmaps_cb cb, void *ctx, size_t *nbad)
{
	char path[64];
	int err;

	if (pid <= 0)
		return -EINVAL;
	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	err = procmaps__read_file(path, cb, ctx, nbad);
	/* A pid without a /proc entry is a process that is gone. */
	return err == -ENOENT ? -ESRCH : err;
}
