/* SPDX-License-Identifier: Apache-2.0 */
/* perfmap: names of JIT-compiled code from /tmp/perf-PID.map, the text file
 * JITs (V8 --perf-basic-prof, Python -X perf, .NET, the JVM's
 * perf-map-agent, LuaJIT) append "START SIZE name" lines to. Internal to
 * symbolize/ (and its unit tests). */
#ifndef PROFD_SYMBOLIZE_PERFMAP_H
#define PROFD_SYMBOLIZE_PERFMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#define PERFMAP_MAX_NAME 4096  /* longer names are cut */
#define PERFMAP_MAX_LINES (4u << 20)

struct perfmap_sym {
	uint64_t start;
	uint64_t size;
	uint32_t name; /* offset into names */
	uint32_t seq;  /* line number: a later line wins over an older one */
};

struct perfmap {
	struct perfmap_sym *syms; /* sorted by start */
	size_t nsyms;
	char *names;
	size_t names_len;
	/* the file as read, to tell when it has grown */
	uint64_t dev, ino;
	off_t size;
	struct timespec mtime;
};

/* Parse perf map text (len bytes, need not end in a newline). Lines that
 * do not parse, and those of size 0, are skipped. Returns 0 (possibly with
 * no symbols) or -ENOMEM. */
int perfmap__parse(const char *buf, size_t len, struct perfmap **out);

/* Read the map of process pid: /tmp/perf-NSPID.map inside the process's
 * own root (/proc/PID/root, resolved so that no symlink leaves that root),
 * NSPID being its pid in its own namespace (the last NStgid of
 * /proc/PID/status). The file must be a regular file, not a symlink, owned
 * by the process's effective uid or by root, at most max_bytes. Returns 0,
 * -ENOENT (no map), -ELOOP (a symlink), -EPERM (wrong owner or type),
 * -EFBIG, -ESRCH, or -errno. */
int perfmap__load(pid_t pid, size_t max_bytes, struct perfmap **out);

/* Has pid's map file changed (grown, rewritten, replaced) since pm was
 * read? One stat-like open; false when it cannot be told. */
bool perfmap__changed(pid_t pid, const struct perfmap *pm);

/* The symbol covering addr; among overlapping ones, the latest line. */
const struct perfmap_sym *perfmap__find(const struct perfmap *pm, uint64_t addr);

static inline const char *perfmap__name(const struct perfmap *pm, const struct perfmap_sym *s)
{
	return pm->names + s->name;
}

size_t perfmap__bytes(const struct perfmap *pm);
void perfmap__free(struct perfmap *pm);

/* Open path (absolute, as seen by process pid) inside pid's root directory
 * so that ".." and symlinks cannot leave it (openat2 RESOLVE_IN_ROOT; a
 * plain /proc/PID/root/path open on kernels without openat2). flags are
 * open(2) flags; O_CLOEXEC is added. Returns the fd or -errno. Shared with
 * the debug file lookup. */
int open_in_root(pid_t pid, const char *path, int flags);

#endif
