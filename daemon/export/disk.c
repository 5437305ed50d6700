// SPDX-License-Identifier: Apache-2.0
/* disk: atomic profile files and retention. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "export/disk.h"
#include "util/log.h"
#include "util/fileio.h"
#include "util/text.h"

#define TMP_MARK ".tmp."
/* A temporary file this old is a crash's leftover, not a write in progress. */
#define TMP_STALE_NS (600LL * 1000000000)
#define SUFFIX ".pb.gz"

struct disk_store {
	char *dir;
	uint64_t max_bytes;
	uint64_t max_age_ns;
	struct disk_stats st;
	uint64_t failing;       /* consecutive failed writes: log transitions only */
	int64_t scanned_ns;     /* the last retain's now (0: none yet) */
	int64_t oldest_ns;      /* mtime of the oldest profile it kept, or 0 */
	/* Directories whose new entries (files renamed in, directories made)
	 * disk_store__commit() is to fsync; duplicates go at the commit. */
	char **pending;
	size_t npending, pending_cap;
	/* Profiles written, waiting in their temporaries for the commit. */
	struct staged *staged;
	size_t nstaged, staged_cap;
	bool batch;             /* between disk_store__begin() and the commit */
};

/* Between two retains, the store's own writes keep the totals; a scan
 * is due sooner when they say something must go. */
#define RESCAN_NS (300LL * 1000000000)

/* Directories remembered before a commit is forced. */
#define PENDING_MAX 4096
/* Profiles staged (an open file each) before a commit is forced. */
#define DISK_MAX_STAGED 256

static int sync_pending(struct disk_store *d);

struct entry {
	int64_t mtime_ns;
	uint64_t size;
	char *rel;              /* <process>/<pid>/<file> */
};

/* Remember dir (the first n bytes of it) for the next commit. Returns 0,
 * or -errno when it could not be remembered: then it is synced at once. */
static int pending_add(struct disk_store *d, const char *dir, size_t n)
{
	char *copy;
	int err;

	if (d->npending >= PENDING_MAX) /* a caller that never commits */
		sync_pending(d);
	if (d->npending == d->pending_cap) {
		size_t cap = d->pending_cap ? d->pending_cap * 2 : 64;
		char **grown = reallocarray(d->pending, cap, sizeof(*grown));

		if (!grown)
			goto now;
		d->pending = grown;
		d->pending_cap = cap;
	}
	copy = strndup(dir, n);
	if (!copy)
		goto now;
	d->pending[d->npending++] = copy;
	return 0;
now:
	copy = strndup(dir, n);
	err = copy ? fsync_dir(copy) : -ENOMEM;
	free(copy);
	return err;
}

/* A directory made: its entry in its parent is new too. */
static int mkdir_one(struct disk_store *d, const char *path)
{
	const char *slash;

	if (mkdir(path, 0750))
		return errno == EEXIST ? 0 : -errno;
	slash = strrchr(path, '/');
	if (d && slash && slash > path)
		pending_add(d, path, slash - path);
	return 0;
}

/* mkdir -p for an absolute path we built (no "." or ".." components); the
 * parents of the directories it made are pending in d (when not NULL). */
static int mkdir_p(struct disk_store *d, const char *path)
{
	char buf[PATH_MAX];
	size_t n = strlen(path);
	int err;

	if (n >= sizeof(buf))
		return -ENAMETOOLONG;
	memcpy(buf, path, n + 1);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		err = mkdir_one(d, buf);
		*p = '/';
		if (err)
			return err;
	}
	return mkdir_one(d, buf);
}

struct disk_store *disk_store__new(const char *dir, uint64_t max_bytes, uint64_t max_age_ns)
{
	struct disk_store *d;
	int err;

	if (!dir || !*dir) {
		errno = EINVAL;
		return NULL;
	}
	d = calloc(1, sizeof(*d));
	if (!d)
		return NULL;
	d->dir = strdup(dir);
	if (!d->dir) {
		free(d);
		errno = ENOMEM;
		return NULL;
	}
	/* No trailing slash: paths are dir + "/" + ... */
	for (size_t n = strlen(d->dir); n > 1 && d->dir[n - 1] == '/'; n--)
		d->dir[n - 1] = '\0';
	err = mkdir_p(NULL, d->dir);
	if (err) {
		disk_store__free(d);
		errno = -err;
		return NULL;
	}
	d->max_bytes = max_bytes;
	d->max_age_ns = max_age_ns;
	return d;
}

void disk_store__free(struct disk_store *d)
{
	if (!d)
		return;
	disk_store__commit(d);
	free(d->staged);
	free(d->pending);
	free(d->dir);
	free(d);
}

const struct disk_stats *disk_store__stats(const struct disk_store *d)
{
	return &d->st;
}

/* "<dir>/<process>/<pid>" into buf; the file name part separately. */
static int build_paths(const struct disk_store *d, const char *process, int pid, const char *type,
		       int64_t start_ns, char *dirbuf, size_t dirsz, char *file, size_t filesz)
{
	char name[DISK_MAX_NAME + 1], tname[DISK_MAX_NAME + 1], stamp[32];
	time_t secs = start_ns / 1000000000;
	struct tm tm;
	int n;

	path_component_sanitize(name, sizeof(name), process ? process : "");
	path_component_sanitize(tname, sizeof(tname), type ? type : "");
	if (!gmtime_r(&secs, &tm) || !strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%S", &tm))
		return -EINVAL;
	/* pid <= 0: a service's profile, one level down (group_by = service). */
	n = pid > 0 ? snprintf(dirbuf, dirsz, "%s/%s/%d", d->dir, name, pid)
		    : snprintf(dirbuf, dirsz, "%s/%s", d->dir, name);
	if (n < 0 || (size_t)n >= dirsz)
		return -ENAMETOOLONG;
	/* Milliseconds keep an exiting process's flush apart from the
	 * interval's own profile in the same second; names sort by time. */
	n = snprintf(file, filesz, "%s-%s.%03dZ" SUFFIX, tname, stamp,
		     (int)((start_ns % 1000000000) / 1000000));
	if (n < 0 || (size_t)n >= filesz)
		return -ENAMETOOLONG;
	return 0;
}

int disk_store__path(const struct disk_store *d, const char *process, int pid, const char *type,
		     int64_t start_ns, char *path, size_t size)
{
	char dir[PATH_MAX], file[NAME_MAX + 1];
	int err, n;

	err = build_paths(d, process, pid, type, start_ns, dir, sizeof(dir), file, sizeof(file));
	if (err)
		return err;
	n = snprintf(path, size, "%s/%s", dir, file);
	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

static void count_failure(struct disk_store *d, int err, const char *path)
{
	d->st.errors++;
	if (err == -ENOSPC || err == -EDQUOT)
		d->st.enospc++;
	/* One line when writes start failing, one when they recover: a full
	 * disk must not also flood the journal, once per process per interval. */
	if (!d->failing++)
		log_warn("cannot write profile '%s': %s; dropping profiles until writes succeed "
			 "(counted in metrics)", path, strerror(-err));
}

/* A profile in its temporary (data written, writeback started), waiting
 * for the commit to sync and name it. */
struct staged {
	int fd;
	int err;                /* of its data's sync */
	size_t len;
	size_t dirlen;          /* path[0..dirlen) is its directory */
	char *tmp;              /* the temporary's path */
	char *path;             /* the name it is to get ("-N" added if taken) */
};

static void staged_done(struct staged *s)
{
	free(s->tmp);
	free(s->path);
}

/* Write data into a new temporary beside the profile's name, start its
 * writeback, and append it to d->staged. Returns 0 or -errno (counted;
 * nothing is left behind). */
static int stage(struct disk_store *d, const char *process, int pid, const char *type,
		 int64_t start_ns, const void *data, size_t len, bool may_retry)
{
	char dir[PATH_MAX], file[NAME_MAX + 1], path[PATH_MAX], tmp[PATH_MAX];
	struct staged *s;
	int fd = -1, err, n;

	path[0] = file[0] = '\0';
	err = build_paths(d, process, pid, type, start_ns, dir, sizeof(dir), file, sizeof(file));
	if (err)
		goto fail;
	n = snprintf(path, sizeof(path), "%s/%s", dir, file);
	if (n < 0 || (size_t)n >= sizeof(path) ||
	    (size_t)snprintf(tmp, sizeof(tmp), "%s/.%s" TMP_MARK "XXXXXX", dir, file) >= sizeof(tmp)) {
		err = -ENAMETOOLONG;
		goto fail;
	}
	if (d->nstaged == d->staged_cap) {
		size_t cap = d->staged_cap ? d->staged_cap * 2 : 64;
		struct staged *grown = reallocarray(d->staged, cap, sizeof(*grown));

		if (!grown) {
			err = -ENOMEM;
			goto fail;
		}
		d->staged = grown;
		d->staged_cap = cap;
	}
	fd = mkostemp(tmp, O_CLOEXEC);
	/* The directory is missing (the process's first profile, or removed
	 * by retention): make it and try again, once. mkdir -p before every
	 * write was 5 syscalls a profile. */
	if (fd < 0 && errno == ENOENT) {
		err = mkdir_p(d, dir);
		if (err)
			goto fail;
		memcpy(tmp + strlen(tmp) - 6, "XXXXXX", 6); /* as it was */
		fd = mkostemp(tmp, O_CLOEXEC);
	}
	if (fd < 0) {
		err = -errno;
		goto fail;
	}
	/* The mode before the data: both reach the disk at the fdatasync. */
	err = fchmod(fd, 0640) ? -errno : write_all(fd, data, len);
	if (err)
		goto fail;
	/* Start writing the data back now (best effort): the commit's
	 * fdatasync of a tick's profiles then waits on I/O already under way,
	 * and the file system allocates and logs them together. */
	(void)sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE);
	s = &d->staged[d->nstaged];
	s->tmp = strdup(tmp);
	s->path = strdup(path);
	if (!s->tmp || !s->path) {
		staged_done(s);
		err = -ENOMEM;
		goto fail;
	}
	s->fd = fd;
	s->len = len;
	s->dirlen = strlen(dir);
	d->nstaged++;
	return 0;
fail:
	if (fd >= 0) {
		close(fd);
		unlink(tmp);
	}
	/* Out of file descriptors with profiles staged (an open file each):
	 * the caller commits them and tries again. */
	if (may_retry && d->nstaged && (err == -EMFILE || err == -ENFILE))
		return err;
	count_failure(d, err, path[0] ? path : file);
	return err;
}

/* Data (and size) on disk before the name: a file under a profile's name
 * is never partial, whatever crashes. Closes s's fd; s->err is the
 * outcome. */
static void sync_data(struct staged *s)
{
	s->err = fdatasync(s->fd) ? -errno : 0;
	if (close(s->fd) && !s->err)
		s->err = -errno;
	s->fd = -1;
}

/* Give a staged profile, synced, its name: the plain one, or
 * when that is taken (two profiles with one start, however that came to
 * be) "-2", "-3", ... before the suffix, so that both are kept. Its
 * directory is left for the commit to sync. Returns 0 or -errno (counted;
 * the temporary removed). */
static int finish(struct disk_store *d, struct staged *s, char *path_out, size_t path_size)
{
	char path[PATH_MAX];
	int err = s->err, n, k;

	snprintf(path, sizeof(path), "%s", s->path);
	for (k = 2; !err; k++) {
		size_t base = strlen(path) - strlen(SUFFIX);

		if (!renameat2(AT_FDCWD, s->tmp, AT_FDCWD, path, RENAME_NOREPLACE))
			break;
		err = -errno;
		if (err != -EEXIST || k > DISK_MAX_CLASHES)
			break;
		if (k > 2) /* drop the previous "-N" */
			base = strrchr(path, '-') - path;
		n = snprintf(path + base, sizeof(path) - base, "-%d" SUFFIX, k);
		err = n < 0 || (size_t)n >= sizeof(path) - base ? -ENAMETOOLONG : 0;
	}
	if (err) {
		unlink(s->tmp);
		count_failure(d, err, path);
		return err;
	}
	pending_add(d, path, s->dirlen);
	if (k > 2)
		d->st.renamed++;
	d->st.written++;
	d->st.bytes_written += s->len;
	d->st.bytes_used += s->len;
	d->st.files++;
	if (d->failing) {
		log_info("profile writes under '%s' succeed again after %llu failures", d->dir,
			 (unsigned long long)d->failing);
		d->failing = 0;
	}
	if (path_out && path_size)
		snprintf(path_out, path_size, "%s", path);
	return 0;
}

void disk_store__begin(struct disk_store *d)
{
	if (d)
		d->batch = true;
}

int disk_store__write(struct disk_store *d, const char *process, int pid, const char *type,
		      int64_t start_ns, const void *data, size_t len, char *path_out,
		      size_t path_size)
{
	struct staged s;
	int err;

	if (d->nstaged >= DISK_MAX_STAGED) { /* an open fd each */
		disk_store__commit(d);
		d->batch = true;
	}
	err = stage(d, process, pid, type, start_ns, data, len, true);
	if ((err == -EMFILE || err == -ENFILE) && d->nstaged) { /* not counted yet */
		bool batch = d->batch;

		disk_store__commit(d);
		d->batch = batch;
		err = stage(d, process, pid, type, start_ns, data, len, false);
	}
	if (err || (d->batch && !path_out))
		return err;
	/* Not in a batch, or the caller wants the final name now. */
	s = d->staged[--d->nstaged];
	sync_data(&s);
	err = finish(d, &s, path_out, path_size);
	staged_done(&s);
	return err;
}

static int dir_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int disk_store__commit(struct disk_store *d)
{
	int err = 0, e;

	if (!d)
		return 0;
	d->batch = false;
	/* fdatasync all (their writeback began at the write), then rename
	 * all: every name is given to whole data, and a journaling file
	 * system logs the renames together (interleaved, each fdatasync
	 * committed the rename before it). */
	for (size_t i = 0; i < d->nstaged; i++)
		sync_data(&d->staged[i]);
	for (size_t i = 0; i < d->nstaged; i++) {
		e = finish(d, &d->staged[i], NULL, 0);
		if (e && !err)
			err = e;
		staged_done(&d->staged[i]);
	}
	d->nstaged = 0;
	e = sync_pending(d);
	return err ? err : e;
}

/* fsync each pending directory once. Returns 0 or the first -errno. */
static int sync_pending(struct disk_store *d)
{
	int err = 0, e;

	if (!d->npending)
		return 0;
	/* Sorted: each directory once, and a parent before its children. */
	qsort(d->pending, d->npending, sizeof(*d->pending), dir_cmp);
	for (size_t i = 0; i < d->npending; i++) {
		if (i && !strcmp(d->pending[i], d->pending[i - 1]))
			continue;
		e = fsync_dir(d->pending[i]);
		d->st.dir_syncs += !e;
		/* ENOENT: retention removed it, with what was renamed in. A
		 * failure here is no failed write: the files are whole and in
		 * place, only their names may not survive a power failure. */
		if (e && e != -ENOENT && !err) {
			log_debug("cannot sync directory '%s': %s", d->pending[i], strerror(-e));
			err = e;
		}
	}
	for (size_t i = 0; i < d->npending; i++)
		free(d->pending[i]);
	d->npending = 0;
	return err;
}

static bool all_digits(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return false;
	return true;
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && !strcmp(s + n - m, suffix);
}

static int entry_cmp(const void *a, const void *b)
{
	const struct entry *x = a, *y = b;

	if (x->mtime_ns != y->mtime_ns)
		return x->mtime_ns < y->mtime_ns ? -1 : 1;
	return strcmp(x->rel, y->rel);
}

struct scan {
	struct entry *e;
	size_t n, cap;
	uint64_t total;
};

static int scan_add(struct scan *s, const char *rel, const struct stat *st)
{
	if (s->n >= DISK_MAX_FILES)
		return 0;
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 256;
		struct entry *e = realloc(s->e, cap * sizeof(*e));

		if (!e)
			return -ENOMEM;
		s->e = e;
		s->cap = cap;
	}
	s->e[s->n].rel = strdup(rel);
	if (!s->e[s->n].rel)
		return -ENOMEM;
	s->e[s->n].mtime_ns = (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
	s->e[s->n].size = st->st_size;
	s->total += st->st_size;
	s->n++;
	return 0;
}

/* Files of one <process>/<pid> directory (pname NULL: of one <service>
 * directory, pid its name): profiles into s, stale temporaries removed at
 * once. */
static int scan_pid_dir(int pfd, const char *pname, const char *pid,
			struct scan *s, int64_t now_ns, int *removed)
{
	struct dirent *de;
	char rel[PATH_MAX];
	struct stat st;
	DIR *dir;
	int fd, err = 0;

	fd = openat(pfd, pid, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return 0;
	dir = fdopendir(fd);
	if (!dir) {
		close(fd);
		return 0;
	}
	while (!err && (de = readdir(dir))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (fstatat(fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) || !S_ISREG(st.st_mode))
			continue;
		if (de->d_name[0] == '.' && strstr(de->d_name, TMP_MARK)) {
			int64_t age = now_ns - ((int64_t)st.st_mtim.tv_sec * 1000000000 +
						st.st_mtim.tv_nsec);

			if (age > TMP_STALE_NS && !unlinkat(fd, de->d_name, 0))
				(*removed)++;
			continue;
		}
		if (!ends_with(de->d_name, SUFFIX))
			continue;       /* not ours: neither counted nor deleted */
		if ((size_t)(pname ? snprintf(rel, sizeof(rel), "%s/%s/%s", pname, pid, de->d_name)
				   : snprintf(rel, sizeof(rel), "%s/%s", pid, de->d_name)) >= sizeof(rel))
			continue;
		err = scan_add(s, rel, &st);
	}
	closedir(dir);
	return err;
}

int disk_store__retain(struct disk_store *d, int64_t now_ns)
{
	struct scan s = { 0 };
	struct dirent *pe, *de;
	DIR *root = NULL, *pdir;
	char path[PATH_MAX];
	int rfd, pfd, err = 0, removed = 0;
	size_t i, gone = 0;

	rfd = open(d->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (rfd < 0)
		return -errno;
	root = fdopendir(rfd);
	if (!root) {
		err = -errno;
		close(rfd);
		return err;
	}
	while (!err && (pe = readdir(root))) {
		if (pe->d_name[0] == '.')
			continue;
		pfd = openat(rfd, pe->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (pfd < 0)
			continue;
		pdir = fdopendir(pfd);
		if (!pdir) {
			close(pfd);
			continue;
		}
		/* A service's profiles (group_by = service), then its
		 * processes' (group_by = process). */
		err = scan_pid_dir(rfd, NULL, pe->d_name, &s, now_ns, &removed);
		while (!err && (de = readdir(pdir)))
			if (all_digits(de->d_name))
				err = scan_pid_dir(pfd, pe->d_name, de->d_name, &s, now_ns, &removed);
		closedir(pdir);
	}
	if (err)
		goto cleanup;

	if (s.n) /* s.e is NULL before the first profile */
		qsort(s.e, s.n, sizeof(*s.e), entry_cmp);
	for (i = 0; i < s.n; i++) {
		bool old = d->max_age_ns && now_ns - s.e[i].mtime_ns > (int64_t)d->max_age_ns;
		bool over = d->max_bytes && s.total > d->max_bytes;

		if (!old && !over)
			break;          /* sorted oldest first: the rest are kept */
		snprintf(path, sizeof(path), "%s/%s", d->dir, s.e[i].rel);
		if (unlink(path) && errno != ENOENT)
			continue;
		s.total -= s.e[i].size;
		removed++;
		gone++;
		/* Empty <pid> and <process> directories (or the <service>
		 * one) go with their last file; never output_dir itself. */
		*strrchr(path, '/') = '\0';
		if (!rmdir(path) && strchr(s.e[i].rel, '/') != strrchr(s.e[i].rel, '/')) {
			*strrchr(path, '/') = '\0';
			rmdir(path);
		}
	}
	d->st.removed += removed;
	d->st.bytes_used = s.total;
	d->st.files = s.n - gone;
	d->scanned_ns = now_ns;
	d->oldest_ns = i < s.n ? s.e[i].mtime_ns : 0;
	err = removed;
cleanup:
	for (i = 0; i < s.n; i++)
		free(s.e[i].rel);
	free(s.e);
	closedir(root);
	return err;
}

bool disk_store__retain_due(const struct disk_store *d, int64_t now_ns)
{
	return !d->scanned_ns || now_ns - d->scanned_ns >= RESCAN_NS ||
	       (d->max_bytes && d->st.bytes_used > d->max_bytes) ||
	       (d->max_age_ns && d->oldest_ns && now_ns - d->oldest_ns > (int64_t)d->max_age_ns);
}
