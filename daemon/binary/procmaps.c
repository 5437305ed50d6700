// SPDX-License-Identifier: Apache-2.0
/* procmaps: a strict parser for /proc/PID/maps lines. The format is
 * "START-END PERMS OFFSET MAJ:MIN INODE [padding PATH]" (fs/proc/task_mmu.c
 * show_vma_header_prefix); anything else is rejected rather than guessed. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "binary/procmap_query.h"
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

/* The path (len bytes, NUL-terminated) as the kernel wrote it: " (deleted)"
 * trimmed, the flags set. */
static void entry_path(struct procmaps_entry *e, char *p, size_t len)
{
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
	entry_path(e, p, len);
	return 0;
}

/* A line whose permissions (after the first space) are well-formed and
 * not executable: skipped without parsing the rest (most lines of a maps
 * file: data, heap, stacks, the read-only segments of every library). */
static bool line_not_exec(const char *line, const char *nl)
{
	const char *sp = memchr(line, ' ', (size_t)(nl - line));

	return sp && nl - sp > 4 && (sp[1] == 'r' || sp[1] == '-') &&
	       (sp[2] == 'w' || sp[2] == '-') && sp[3] == '-' && (sp[4] == 'p' || sp[4] == 's');
}

/* cb for each well-formed executable line of the text buf (len bytes, NULs
 * written over its newlines); malformed lines counted in *nbad. */
static int text_each(char *buf, size_t len, procmaps_cb cb, void *ctx, size_t *nbad)
{
	struct procmaps_entry e;
	char *line, *nl;
	int err;

	for (line = buf; line < buf + len; line = nl + 1) {
		nl = memchr(line, '\n', (size_t)(buf + len - line));
		if (!nl)
			nl = buf + len; /* last line without newline */
		if (line_not_exec(line, nl))
			continue;
		*nl = '\0';
		/* An embedded NUL would hide the rest of the line: reject it. */
		if (strlen(line) != (size_t)(nl - line) || procmaps__parse_line(line, &e)) {
			(*nbad)++;
			continue;
		}
		if (!procmaps_entry__is_exec(&e))
			continue;
		err = cb(&e, ctx);
		if (err)
			return err;
	}
	return 0;
}

int procmaps__read_file(const char *path, procmaps_cb cb, void *ctx, size_t *nbad)
{
	char *buf = NULL;
	size_t len = 0, bad = 0;
	int err;

	err = read_file_all(path, PROCMAPS_MAX_BYTES, &buf, &len);
	if (!err)
		err = text_each(buf, len, cb, ctx, &bad);
	if (nbad)
		*nbad = bad;
	free(buf);
	return err;
}

static int maps_path(pid_t pid, char *path, size_t size)
{
	if (pid <= 0)
		return -EINVAL;
	snprintf(path, size, "/proc/%d/maps", (int)pid);
	return 0;
}

int procmaps__read(pid_t pid, procmaps_cb cb, void *ctx, size_t *nbad)
{
	char path[64];
	int err;

	err = maps_path(pid, path, sizeof(path));
	if (!err)
		err = procmaps__read_file(path, cb, ctx, nbad);
	/* A pid without a /proc entry is a process that is gone. */
	return err == -ENOENT ? -ESRCH : err;
}

/* --- kept mappings --------------------------------------------------------- */

/* Entries whose paths are offsets into a growing names buffer until the
 * end of the read (the buffer moves as it grows). */
struct keep_ctx {
	struct procmaps *pm;
	size_t cap;
	size_t *off;
	size_t names_len, names_cap;
};

static int keep_one(const struct procmaps_entry *e, void *arg)
{
	struct keep_ctx *c = arg;
	struct procmaps *pm = c->pm;
	size_t len = strlen(e->path) + 1;

	if (pm->n == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 32;
		struct procmaps_entry *ne;
		size_t *noff;

		if (cap * (sizeof(*ne) + sizeof(*noff)) > PROCMAPS_MAX_BYTES)
			return -EFBIG;
		ne = realloc(pm->e, cap * sizeof(*ne));
		if (!ne)
			return -ENOMEM;
		pm->e = ne;
		noff = realloc(c->off, cap * sizeof(*noff));
		if (!noff)
			return -ENOMEM;
		c->off = noff;
		c->cap = cap;
	}
	if (c->names_cap - c->names_len < len) {
		size_t cap = c->names_cap ? c->names_cap : 1024;
		char *nn;

		while (cap - c->names_len < len)
			cap *= 2;
		if (cap > PROCMAPS_MAX_BYTES)
			return -EFBIG;
		nn = realloc(pm->names, cap);
		if (!nn)
			return -ENOMEM;
		pm->names = nn;
		c->names_cap = cap;
	}
	memcpy(pm->names + c->names_len, e->path, len);
	pm->e[pm->n] = *e;
	c->off[pm->n++] = c->names_len;
	c->names_len += len;
	return 0;
}

static int keep_done(struct keep_ctx *c, int err)
{
	struct procmaps *pm = c->pm;

	if (!err)
		for (size_t i = 0; i < pm->n; i++)
			pm->e[i].path = pm->names + c->off[i];
	free(c->off);
	if (err)
		procmaps__release(pm);
	return err;
}

int procmaps__load_file(const char *path, struct procmaps *pm, size_t *nbad)
{
	struct keep_ctx c = { .pm = pm };

	*pm = (struct procmaps){};
	return keep_done(&c, procmaps__read_file(path, keep_one, &c, nbad));
}


/* Whether the kernel has PROCMAP_QUERY: 1 yes, -1 no, 0 not asked yet. */
static int query_state;

/* The "[vsyscall]" line of the text: the gate area, no VMA of the process,
 * so the ioctl never reports it. It is the same for every 64-bit process
 * (absent with vsyscall=none): read once from our own maps and added to
 * what the ioctl reports, so that both ways give the same mappings. */
static pthread_once_t vsyscall_once = PTHREAD_ONCE_INIT;
static struct procmaps_entry vsyscall;
static bool have_vsyscall;

static int find_vsyscall(const struct procmaps_entry *e, void *ctx)
{
	(void)ctx;
	if (strcmp(e->path, "[vsyscall]"))
		return 0;
	vsyscall = *e;
	vsyscall.path = "[vsyscall]";
	have_vsyscall = true;
	return 1;
}

static void vsyscall_init(void)
{
	procmaps__read_file("/proc/self/maps", find_vsyscall, NULL, NULL);
}

/* The executable mappings through fd (/proc/PID/maps) by ioctl. 0, -ENOTTY
 * (no PROCMAP_QUERY, or a path longer than the buffer: read the text),
 * -ESRCH (gone) or -errno. */
static int load_query(int fd, struct keep_ctx *c)
{
	static __thread char name[PATH_MAX + 16];
	uint64_t addr = 0;
	int err;

	for (;;) {
		struct procmap_query q = {
			.size = sizeof(q),
			.query_flags = PROCMAP_VMA_EXECUTABLE | PROCMAP_COVERING_OR_NEXT_VMA,
			.query_addr = addr,
			.vma_name_addr = (uintptr_t)name,
			.vma_name_size = sizeof(name),
		};
		struct procmaps_entry e = {};

		if (ioctl(fd, PROCMAP_QUERY_IOCTL, &q)) {
			err = errno;
			if (err == ENOENT) {
				/* No executable mapping at or after addr. */
				pthread_once(&vsyscall_once, vsyscall_init);
				return have_vsyscall && vsyscall.start >= addr ? keep_one(&vsyscall, c) : 0;
			}
			if (err == ENOTTY || err == EINVAL || err == EOPNOTSUPP) {
				if (!c->pm->n)
					__atomic_store_n(&query_state, -1, __ATOMIC_RELAXED);
				return -ENOTTY;
			}
			return err == ENAMETOOLONG ? -ENOTTY : -err;
		}
		__atomic_store_n(&query_state, 1, __ATOMIC_RELAXED);
		if (q.vma_end <= q.vma_start || q.vma_start < addr)
			return -EINVAL; /* no progress: never loop */
		e.start = q.vma_start;
		e.end = q.vma_end;
		e.offset = q.vma_offset;
		e.inode = q.inode;
		e.dev_major = q.dev_major;
		e.dev_minor = q.dev_minor;
		e.perms[0] = q.vma_flags & PROCMAP_VMA_READABLE ? 'r' : '-';
		e.perms[1] = q.vma_flags & PROCMAP_VMA_WRITABLE ? 'w' : '-';
		e.perms[2] = 'x';
		e.perms[3] = q.vma_flags & PROCMAP_VMA_SHARED ? 's' : 'p';
		if (!q.vma_name_size || q.vma_name_size > sizeof(name))
			name[0] = '\0'; /* anonymous */
		else
			name[q.vma_name_size - 1] = '\0';
		entry_path(&e, name, strlen(name));
		err = keep_one(&e, c);
		if (err)
			return err;
		addr = q.vma_end;
	}
}

/* The rest of fd's text (from its start) into a buffer. */
static int read_fd_all(int fd, char **out, size_t *out_len)
{
	size_t cap = 16384, len = 0;
	char *buf = malloc(cap), *nb;
	ssize_t n;

	if (!buf)
		return -ENOMEM;
	for (;;) {
		if (cap - len < 4096) {
			if (cap >= PROCMAPS_MAX_BYTES) {
				free(buf);
				return -EFBIG;
			}
			nb = realloc(buf, cap * 2);
			if (!nb) {
				free(buf);
				return -ENOMEM;
			}
			buf = nb;
			cap *= 2;
		}
		n = read(fd, buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			n = -errno;
			free(buf);
			return (int)n;
		}
		if (!n)
			break;
		len += (size_t)n;
	}
	*out = buf;
	*out_len = len;
	return 0;
}

int procmaps__load(pid_t pid, struct procmaps *pm)
{
	struct keep_ctx c = { .pm = pm };
	char path[64], *buf = NULL;
	size_t len = 0, bad = 0;
	int fd, err;

	*pm = (struct procmaps){};
	err = maps_path(pid, path, sizeof(path));
	if (err)
		return err;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? -ESRCH : -errno;
	err = -ENOTTY;
	if (__atomic_load_n(&query_state, __ATOMIC_RELAXED) >= 0)
		err = load_query(fd, &c);
	if (err == -ENOTTY) {
		/* The text, from the same descriptor (the same process). */
		free(c.off);
		procmaps__release(pm);
		c = (struct keep_ctx){ .pm = pm };
		err = read_fd_all(fd, &buf, &len);
		if (!err)
			err = text_each(buf, len, keep_one, &c, &bad);
		free(buf);
	}
	close(fd);
	return keep_done(&c, err);
}

void procmaps__text_only(bool off)
{
	__atomic_store_n(&query_state, off ? -1 : 0, __ATOMIC_RELAXED);
}

int procmaps__each(const struct procmaps *pm, procmaps_cb cb, void *ctx)
{
	int err;

	for (size_t i = 0; i < pm->n; i++) {
		err = cb(&pm->e[i], ctx);
		if (err)
			return err;
	}
	return 0;
}

void procmaps__release(struct procmaps *pm)
{
	free(pm->e);
	free(pm->names);
	*pm = (struct procmaps){};
}
