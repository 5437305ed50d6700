// SPDX-License-Identifier: Apache-2.0
/* perfmap: /tmp is world-writable and profd is privileged, so the map is
 * opened inside the target's root without following symlinks, checked to
 * be a regular file owned by the target (or root) and read with a size
 * cap. Maps are append-only logs: a line may describe code that a later
 * line replaces, so lookups prefer the later line. */
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "symbolize/perfmap.h"
#include "util/fileio.h"
#include "util/parse.h"

/* Overlapping entries: this many earlier starts are checked for a later
 * line covering the address. */
#define PERFMAP_FIND_BACKTRACK 32
#define PROC_STATUS_MAX (64u << 10)

/* Hex number (optional 0x) at *p, then exactly one space. */
static int parse_hex(const char **p, const char *end, uint64_t *v)
{
	const char *s = *p;
	int n = 0, d;

	*v = 0;
	if (end - s > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
		s += 2;
	while (s < end && (d = hexval(*s)) >= 0) {
		if (++n > 16)
			return -EINVAL;
		*v = *v << 4 | (uint64_t)d;
		s++;
	}
	if (!n || s >= end || *s != ' ')
		return -EINVAL;
	*p = s + 1;
	return 0;
}

static int sym_cmp(const void *a, const void *b)
{
	const struct perfmap_sym *x = a, *y = b;

	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

int perfmap__parse(const char *buf, size_t len, struct perfmap **out)
{
	const char *p = buf, *end = buf + len;
	size_t cap = 0, names_cap = 0;
	struct perfmap *pm;
	uint32_t seq = 0;
	int err = 0;

	pm = calloc(1, sizeof(*pm));
	if (!pm)
		return -ENOMEM;
	while (p < end && seq < PERFMAP_MAX_LINES) {
		const char *eol = memchr(p, '\n', (size_t)(end - p)), *name;
		uint64_t start, size;
		size_t nlen;

		if (!eol)
			eol = end;
		name = p;
		p = eol + 1;
		seq++;
		if (parse_hex(&name, eol, &start) || parse_hex(&name, eol, &size) || !start ||
		    !size || start + size < start || name >= eol)
			continue;
		nlen = (size_t)(eol - name);
		if (nlen && name[nlen - 1] == '\r')
			nlen--;
		if (memchr(name, '\0', nlen))
			continue;
		if (nlen > PERFMAP_MAX_NAME)
			nlen = PERFMAP_MAX_NAME;
		if (!nlen || pm->names_len + nlen + 1 > UINT32_MAX)
			continue;
		if (pm->nsyms == cap) {
			size_t ncap = cap ? cap * 2 : 256;
			struct perfmap_sym *s = realloc(pm->syms, ncap * sizeof(*s));

			if (!s) {
				err = -ENOMEM;
				goto cleanup;
			}
			pm->syms = s;
			cap = ncap;
		}
		if (pm->names_len + nlen + 1 > names_cap) {
			size_t ncap = names_cap ? names_cap * 2 : 4096;
			char *nn;

			while (ncap < pm->names_len + nlen + 1)
				ncap *= 2;
			nn = realloc(pm->names, ncap);
			if (!nn) {
				err = -ENOMEM;
				goto cleanup;
			}
			pm->names = nn;
			names_cap = ncap;
		}
		pm->syms[pm->nsyms++] = (struct perfmap_sym){
			.start = start, .size = size, .name = (uint32_t)pm->names_len, .seq = seq
		};
		memcpy(pm->names + pm->names_len, name, nlen);
		pm->names_len += nlen;
		pm->names[pm->names_len++] = '\0';
	}
	if (pm->nsyms)
		qsort(pm->syms, pm->nsyms, sizeof(*pm->syms), sym_cmp);
	*out = pm;
	return 0;
cleanup:
	perfmap__free(pm);
	return err;
}

const struct perfmap_sym *perfmap__find(const struct perfmap *pm, uint64_t addr)
{
	const struct perfmap_sym *best = NULL;
	size_t lo = 0, hi;

	if (!pm)
		return NULL;
	hi = pm->nsyms;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (pm->syms[mid].start <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (size_t k = 0; k < PERFMAP_FIND_BACKTRACK && lo > 0; k++, lo--) {
		const struct perfmap_sym *s = &pm->syms[lo - 1];

		if (addr - s->start < s->size && (!best || s->seq > best->seq))
			best = s;
	}
	return best;
}

size_t perfmap__bytes(const struct perfmap *pm)
{
	return pm ? sizeof(*pm) + pm->nsyms * sizeof(*pm->syms) + pm->names_len : 0;
}

void perfmap__free(struct perfmap *pm)
{
	if (!pm)
		return;
	free(pm->syms);
	free(pm->names);
	free(pm);
}

/* --- opening ------------------------------------------------------------- */

int open_in_root(pid_t pid, const char *path, int flags)
{
	struct open_how how = {
		.flags = (uint64_t)(flags | O_CLOEXEC),
		.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
	};
	char root[64], full[4096 + 64];
	int rfd, fd;

	if (path[0] != '/')
		return -EINVAL;
	snprintf(root, sizeof(root), "/proc/%d/root", (int)pid);
	rfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (rfd < 0)
		return errno == ENOENT ? -ESRCH : -errno;
	fd = (int)syscall(SYS_openat2, rfd, path + 1, &how, sizeof(how));
	if (fd < 0 && errno == ENOSYS) {
		/* Before 5.6: the final component is still not followed
		 * (O_NOFOLLOW from the caller), the directories are. */
		if ((size_t)snprintf(full, sizeof(full), "%s%s", root, path) >= sizeof(full))
			errno = ENAMETOOLONG;
		else
			fd = open(full, flags | O_CLOEXEC);
	}
	if (fd < 0)
		fd = -errno;
	close(rfd);
	return fd;
}

/* The namespace pid (last NStgid) and effective uid of pid. */
static int proc_ids(pid_t pid, pid_t *nspid, uid_t *euid)
{
	char path[64], *buf = NULL, *l;
	size_t len;
	int err, found = 0;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	err = read_file_all(path, PROC_STATUS_MAX, &buf, &len);
	if (err)
		return err == -ENOENT ? -ESRCH : err;
	*nspid = pid;
	for (l = buf; l && *l; l = strchr(l, '\n'), l = l ? l + 1 : NULL) {
		if (!strncmp(l, "NStgid:", 7)) {
			char *p = l + 7, *e;
			long v;

			/* the last number on the line */
			for (;;) {
				v = strtol(p, &e, 10);
				if (e == p)
					break;
				if (v > 0)
					*nspid = (pid_t)v;
				p = e;
			}
		} else if (!strncmp(l, "Uid:", 4)) {
			unsigned long r, e;

			if (sscanf(l + 4, "%lu %lu", &r, &e) == 2) {
				*euid = (uid_t)e;
				found = 1;
			}
		}
	}
	free(buf);
	return found ? 0 : -EINVAL;
}

/* Open pid's map and check it: regular, owner, size. */
static int perfmap_open(pid_t pid, size_t max_bytes, struct stat *st)
{
	char path[64];
	pid_t nspid;
	uid_t euid = 0;
	int fd, err;

	err = proc_ids(pid, &nspid, &euid);
	if (err)
		return err;
	snprintf(path, sizeof(path), "/tmp/perf-%d.map", (int)nspid);
	/* O_NONBLOCK: a FIFO planted there must not block the open. */
	fd = open_in_root(pid, path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY);
	if (fd < 0)
		return fd;
	if (fstat(fd, st)) {
		err = -errno;
		goto fail;
	}
	if (!S_ISREG(st->st_mode) || (st->st_uid != euid && st->st_uid != 0)) {
		err = -EPERM;
		goto fail;
	}
	if ((uint64_t)st->st_size > max_bytes) {
		err = -EFBIG;
		goto fail;
	}
	return fd;
fail:
	close(fd);
	return err;
}

int perfmap__load(pid_t pid, size_t max_bytes, struct perfmap **out)
{
	size_t len = 0, cap;
	struct perfmap *pm = NULL;
	char *buf = NULL;
	struct stat st;
	ssize_t r;
	int fd, err;

	fd = perfmap_open(pid, max_bytes, &st);
	if (fd < 0)
		return fd;
	/* The file may grow while read: read what the cap allows. */
	cap = (size_t)st.st_size + 4096 < max_bytes ? (size_t)st.st_size + 4096 : max_bytes;
	buf = malloc(cap + 1);
	if (!buf) {
		err = -ENOMEM;
		goto cleanup;
	}
	while (len < cap) {
		r = read(fd, buf + len, cap - len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			err = -errno;
			goto cleanup;
		}
		if (!r)
			break;
		len += (size_t)r;
	}
	/* a line still being written is left for the next read */
	while (len && buf[len - 1] != '\n')
		len--;
	err = perfmap__parse(buf, len, &pm);
	if (err)
		goto cleanup;
	pm->dev = st.st_dev;
	pm->ino = st.st_ino;
	pm->size = (off_t)len;
	pm->mtime = st.st_mtim;
	*out = pm;
cleanup:
	free(buf);
	close(fd);
	return err;
}

bool perfmap__changed(pid_t pid, const struct perfmap *pm)
{
	struct stat st;
	int fd;

	fd = perfmap_open(pid, SIZE_MAX, &st);
	if (fd < 0)
		return false;
	close(fd);
	return st.st_dev != pm->dev || st.st_ino != pm->ino || st.st_size != pm->size ||
	       st.st_mtim.tv_sec != pm->mtime.tv_sec || st.st_mtim.tv_nsec != pm->mtime.tv_nsec;
}
