// SPDX-License-Identifier: Apache-2.0
/* debuginfo: who holds what. A binary image (binary/image.h) holds one
 * reference on its debuginfo; an unreferenced one stays findable by key on
 * a bounded LRU, like the image cache's. Entries without a build id are not shared (their key
 * would be a guess) and die with their last reference. Open DWARF sits on
 * a second LRU, across all entries, trimmed after each lookup to
 * max_dwarf_open files and max_dwarf_bytes of heap; a closed one is opened
 * again on its next lookup. Debug files are found in GDB's order (GDB
 * manual, "Separate Debug Files"): the build-id path under each debug
 * directory, then .gnu_debuglink beside the binary, in its .debug/ and
 * under each debug directory, each tried in the target's root first and
 * then on the host; a build-id file must carry the same build id, a
 * debuglink file the recorded CRC. Then debuginfod; MiniDebugInfo and Go's
 * pclntab only add names when no full symbol table was found. */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <lzma.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "binary/ehframe.h"
#include "binary/elf.h"
#include "binary/file.h"
#include "binary/image.h"
#include "binary/procmaps.h"
#include "symbolize/debuginfo.h"
#include "symbolize/dwarf.h"
#include "symbolize/gopclntab.h"
#include "symbolize/perfmap.h"

#define DBG_MIN_BUCKETS 64
#define DBG_CRC_CHUNK (256u << 10)
#define DBG_DEFAULT_DIRS "/usr/lib/debug"
/* xz's decoder may use this much memory; MiniDebugInfo streams need ~10 MB. */
#define DBG_XZ_MEMLIMIT (128u << 20)

/* libdebuginfod's API (elfutils/debuginfod.h), loaded with dlopen so that
 * profd neither needs the header nor links libcurl through it. */
struct debuginfod_client;
struct dfod {
	bool tried;
	void *lib;
	struct debuginfod_client *client;
	struct debuginfod_client *(*begin)(void);
	int (*find_debuginfo)(struct debuginfod_client *, const unsigned char *, int, char **);
	void (*end)(struct debuginfod_client *);
};

struct dbgcache {
	char *dirs[DBG_MAX_DEBUG_DIRS];
	size_t ndirs;
	struct dbgcache_opts opts;
	struct debuginfo **buckets;
	size_t nbuckets, nhashed;
	struct debuginfo *lru_head, *lru_tail; /* unused entries */
	size_t nunused;
	struct debuginfo *open_head, *open_tail; /* open DWARF */
	size_t nopen;
	size_t dwarf_bytes;
	size_t nheld;   /* entries holding their files open (dbgcache__hold) */
	uint64_t next_id;
	struct dfod dfod;
	/* totals */
	size_t ninfos, nsyms, bytes, shared_hits, with_dwarf, separate, dwarf_opens, evictions;
};

/* --- CRC and small helpers ------------------------------------------------ */

int file_crc32(int fd, uint32_t *out)
{
	unsigned char *buf = malloc(DBG_CRC_CHUNK);
	uLong crc = crc32(0L, Z_NULL, 0);
	off_t off = 0;
	ssize_t n;
	int err = 0;

	if (!buf)
		return -ENOMEM;
	for (;;) {
		n = pread(fd, buf, DBG_CRC_CHUNK, off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			err = -errno;
			break;
		}
		if (!n)
			break;
		crc = crc32(crc, buf, (uInt)n);
		off += n;
	}
	free(buf);
	*out = (uint32_t)crc;
	return err;
}

static uint64_t key_hash(const char *k)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	while (*k)
		h = (h ^ (unsigned char)*k++) * 0x100000001b3ULL;
	return h;
}

/* Open a regular file read-only without side effects (no FIFO blocks, no
 * controlling tty), in pid's root or (pid 0) on the host. */
static int open_file(pid_t pid, const char *path, struct stat *st)
{
	int flags = O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC;
	int fd = pid ? open_in_root(pid, path, flags) : open(path, flags);

	if (fd < 0)
		return pid ? fd : -errno;
	if (fstat(fd, st) || !S_ISREG(st->st_mode)) {
		close(fd);
		return -ENOEXEC;
	}
	return fd;
}

/* --- the entry table and its LRU -------------------------------------- */

struct dbgcache *dbgcache__new(const struct dbgcache_opts *o)
{
	struct dbgcache *dc = calloc(1, sizeof(*dc));
	const char *dirs;
	char *copy = NULL, *tok, *save = NULL;

	if (!dc)
		goto err;
	dc->opts = *o;
	dc->opts.debug_dirs = NULL;
	dc->nbuckets = DBG_MIN_BUCKETS;
	dc->buckets = calloc(dc->nbuckets, sizeof(*dc->buckets));
	dirs = o->debug_dirs ? o->debug_dirs : DBG_DEFAULT_DIRS;
	copy = strdup(dirs);
	if (!dc->buckets || !copy)
		goto err;
	for (tok = strtok_r(copy, ":", &save); tok && dc->ndirs < DBG_MAX_DEBUG_DIRS;
	     tok = strtok_r(NULL, ":", &save)) {
		size_t l = strlen(tok);

		while (l > 1 && tok[l - 1] == '/')
			tok[--l] = '\0';
		if (tok[0] != '/')
			continue; /* relative to what? */
		dc->dirs[dc->ndirs] = strdup(tok);
		if (!dc->dirs[dc->ndirs])
			goto err;
		dc->ndirs++;
	}
	free(copy);
	return dc;
err:
	free(copy);
	dbgcache__free(dc);
	errno = ENOMEM;
	return NULL;
}

static void open_unlink(struct dbgcache *dc, struct debuginfo *di)
{
	if (di->open_prev)
		di->open_prev->open_next = di->open_next;
	else
		dc->open_head = di->open_next;
	if (di->open_next)
		di->open_next->open_prev = di->open_prev;
	else
		dc->open_tail = di->open_prev;
	di->open_prev = di->open_next = NULL;
}

static size_t lines_bytes(const struct debuginfo *di)
{
	return dwarf_file__bytes(di->dw) + gopclntab__bytes(di->go);
}

static void dwarf_close(struct dbgcache *dc, struct debuginfo *di)
{
	if (!di->dw && !di->go)
		return;
	open_unlink(dc, di);
	dc->nopen--;
	dc->dwarf_bytes -= lines_bytes(di);
	dwarf_file__free(di->dw);
	gopclntab__free(di->go);
	di->dw = NULL;
	di->go = NULL;
}

static void info_free(struct dbgcache *dc, struct debuginfo *di)
{
	dwarf_close(dc, di);
	dc->ninfos--;
	dc->bytes -= di->bytes;
	if (di->img)
		dc->nsyms -= di->img->nsyms;
	if (di->src != DBG_SRC_NONE && di->src != DBG_SRC_GOPCLNTAB)
		dc->with_dwarf--;
	if (di->syms_from & DBG_SYMS_DEBUGFILE || di->src == DBG_SRC_ROOT ||
	    di->src == DBG_SRC_HOST)
		dc->separate--;
	if (di->held) {
		if (di->held_self >= 0)
			close(di->held_self);
		if (di->held_debug >= 0)
			close(di->held_debug);
		dc->nheld--;
	}
	ehframe_funcs__free(di->funcs);
	elf_image__free(di->img);
	free(di->debug_path);
	free(di);
}

static void unhash(struct dbgcache *dc, struct debuginfo *di)
{
	struct debuginfo **pp = &dc->buckets[key_hash(di->key) & (dc->nbuckets - 1)];

	for (; *pp; pp = &(*pp)->hnext) {
		if (*pp == di) {
			*pp = di->hnext;
			di->hnext = NULL;
			di->hashed = false;
			dc->nhashed--;
			return;
		}
	}
}

static void lru_unlink(struct dbgcache *dc, struct debuginfo *di)
{
	if (di->lru_prev)
		di->lru_prev->lru_next = di->lru_next;
	else
		dc->lru_head = di->lru_next;
	if (di->lru_next)
		di->lru_next->lru_prev = di->lru_prev;
	else
		dc->lru_tail = di->lru_prev;
	di->lru_prev = di->lru_next = NULL;
	dc->nunused--;
}

static void lru_trim(struct dbgcache *dc)
{
	while (dc->nunused > dc->opts.max_unused) {
		struct debuginfo *di = dc->lru_tail;

		lru_unlink(dc, di);
		unhash(dc, di);
		info_free(dc, di);
	}
}

void dbgcache__free(struct dbgcache *dc)
{
	if (!dc)
		return;
	dc->opts.max_unused = 0;
	lru_trim(dc);
	for (size_t i = 0; dc->buckets && i < dc->nbuckets; i++) {
		while (dc->buckets[i]) {
			struct debuginfo *di = dc->buckets[i];

			dc->buckets[i] = di->hnext;
			info_free(dc, di);
		}
	}
	free(dc->buckets);
	for (size_t i = 0; i < dc->ndirs; i++)
		free(dc->dirs[i]);
	if (dc->dfod.client)
		dc->dfod.end(dc->dfod.client);
	if (dc->dfod.lib)
		dlclose(dc->dfod.lib);
	free(dc);
}

static void grow(struct dbgcache *dc)
{
	size_t n = dc->nbuckets * 2;
	struct debuginfo **b = calloc(n, sizeof(*b));

	if (!b)
		return; /* longer chains, still correct */
	for (size_t i = 0; i < dc->nbuckets; i++) {
		while (dc->buckets[i]) {
			struct debuginfo *di = dc->buckets[i];
			size_t h = key_hash(di->key) & (n - 1);

			dc->buckets[i] = di->hnext;
			di->hnext = b[h];
			b[h] = di;
		}
	}
	free(dc->buckets);
	dc->buckets = b;
	dc->nbuckets = n;
}

static struct debuginfo *lookup(struct dbgcache *dc, const char *key)
{
	struct debuginfo *di = dc->buckets[key_hash(key) & (dc->nbuckets - 1)];

	for (; di; di = di->hnext)
		if (!strcmp(di->key, key))
			return di;
	return NULL;
}

/* --- finding separate debug files ---------------------------------------- */

/* Is path (in pid's root, or on the host for pid 0) the debug file of img?
 * A build-id file must carry img's build id; a debuglink file must have
 * the CRC the link records (and no other build id). Returns the fd. */
static int try_debug_file(pid_t pid, const char *path, const struct elf_image *img,
			  bool by_build_id, const struct stat *self, struct stat *st)
{
	struct elf_image *h = NULL;
	uint32_t crc;
	int fd, err;

	fd = open_file(pid, path, st);
	if (fd < 0)
		return fd;
	/* a debuglink named like the binary, beside it: the binary itself */
	if (st->st_dev == self->st_dev && st->st_ino == self->st_ino) {
		err = -ELOOP;
		goto fail;
	}
	err = elf_image__open_fd_opts(fd, ELF_IMAGE_NO_SYMS, &h);
	if (err)
		goto fail;
	if (by_build_id) {
		err = strcmp(h->build_id, img->build_id) ? -ESTALE : 0;
	} else if (img->build_id[0] && h->build_id[0] && strcmp(h->build_id, img->build_id)) {
		err = -ESTALE;
	} else {
		err = file_crc32(fd, &crc);
		if (!err && crc != img->debuglink_crc)
			err = -ESTALE;
	}
	elf_image__free(h);
	if (err)
		goto fail;
	return fd;
fail:
	close(fd);
	return err;
}

/* path tried in the target's root (unless that is ours), then on the host. */
static int try_both(pid_t pid, bool same_root, const char *path, const struct elf_image *img,
		    bool by_build_id, const struct stat *self, struct stat *st, int *where)
{
	int fd = -ENOENT;

	if (!same_root) {
		fd = try_debug_file(pid, path, img, by_build_id, self, st);
		if (fd >= 0) {
			*where = DBG_SRC_ROOT;
			return fd;
		}
	}
	fd = try_debug_file(0, path, img, by_build_id, self, st);
	if (fd >= 0)
		*where = DBG_SRC_HOST;
	return fd;
}

/* Does pid see the files we see? Same root directory and same mount
 * namespace (a private tmpfs on a debug directory changes what a path
 * names without changing the root). */
static bool same_root_as_ours(pid_t pid)
{
	struct stat a, b;
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/root", (int)pid);
	if (stat(path, &a) || stat("/", &b))
		return true; /* cannot tell: the host is all there is */
	if (a.st_dev != b.st_dev || a.st_ino != b.st_ino)
		return false;
	snprintf(path, sizeof(path), "/proc/%d/ns/mnt", (int)pid);
	if (stat(path, &a) || stat("/proc/self/ns/mnt", &b))
		return true;
	return a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

static int find_separate(struct dbgcache *dc, pid_t pid, const struct procmaps_entry *e,
			 const struct elf_image *img, const struct stat *self, char **path_out,
			 int *where, struct stat *st)
{
	bool same_root = same_root_as_ours(pid);
	char path[PATH_MAX], dir[PATH_MAX];
	const char *slash;
	int fd;

	if (img->build_id[0] && strlen(img->build_id) > 2) {
		for (size_t i = 0; i < dc->ndirs; i++) {
			if ((size_t)snprintf(path, sizeof(path), "%s/.build-id/%.2s/%s.debug",
					     dc->dirs[i], img->build_id, img->build_id + 2) >=
			    sizeof(path))
				continue;
			fd = try_both(pid, same_root, path, img, true, self, st, where);
			if (fd >= 0)
				goto found;
		}
	}
	if (!(img->sections & ELF_IMAGE_DEBUGLINK) || e->path[0] != '/')
		return -ENOENT;
	slash = strrchr(e->path, '/');
	snprintf(dir, sizeof(dir), "%.*s", (int)(slash - e->path), e->path);
	for (size_t i = 0; i < 2 + dc->ndirs; i++) {
		int n;

		if (i == 0)
			n = snprintf(path, sizeof(path), "%s/%s", dir, img->debuglink);
		else if (i == 1)
			n = snprintf(path, sizeof(path), "%s/.debug/%s", dir, img->debuglink);
		else
			n = snprintf(path, sizeof(path), "%s%s/%s", dc->dirs[i - 2], dir,
				     img->debuglink);
		if (n < 0 || (size_t)n >= sizeof(path))
			continue;
		fd = try_both(pid, same_root, path, img, false, self, st, where);
		if (fd >= 0)
			goto found;
	}
	return -ENOENT;
found:
	*path_out = strdup(path);
	if (!*path_out) {
		close(fd);
		return -ENOMEM;
	}
	return fd;
}

/* debuginfod, when asked for and DEBUGINFOD_URLS is set: blocks while the
 * server answers (the client's DEBUGINFOD_TIMEOUT applies), once per build
 * id, since the answer is cached with the entry. */
static int find_debuginfod(struct dbgcache *dc, const struct elf_image *img, char **path_out,
			   struct stat *st)
{
	struct dfod *d = &dc->dfod;
	char *path = NULL;
	int fd;

	if (!dc->opts.debuginfod || !img->build_id[0])
		return -ENOENT;
	if (!d->tried) {
		const char *urls = getenv("DEBUGINFOD_URLS");

		d->tried = true;
		if (!urls || !urls[0])
			return -ENOENT;
		d->lib = dlopen("libdebuginfod.so.1", RTLD_NOW | RTLD_LOCAL);
		if (!d->lib)
			return -ENOENT;
		*(void **)&d->begin = dlsym(d->lib, "debuginfod_begin");
		*(void **)&d->find_debuginfo = dlsym(d->lib, "debuginfod_find_debuginfo");
		*(void **)&d->end = dlsym(d->lib, "debuginfod_end");
		if (d->begin && d->find_debuginfo && d->end)
			d->client = d->begin();
	}
	if (!d->client)
		return -ENOENT;
	/* length 0: the build id is given as a hex string */
	fd = d->find_debuginfo(d->client, (const unsigned char *)img->build_id, 0, &path);
	if (fd < 0) {
		free(path);
		return fd;
	}
	if (fstat(fd, st) || !S_ISREG(st->st_mode) || !path) {
		close(fd);
		free(path);
		return -ENOEXEC;
	}
	*path_out = path;
	return fd;
}

/* --- more names ------------------------------------------------------------ */

/* .gnu_debugdata: an xz stream holding an ELF whose .symtab has the
 * functions .dynsym lacks (how Fedora ships static function names). */
static int minidebug_image(int fd, struct elf_image **out)
{
	lzma_stream strm = LZMA_STREAM_INIT;
	uint8_t *xz = NULL, *buf = NULL, *nb;
	size_t xzlen = 0, cap = 0;
	lzma_ret r;
	int err;

	err = elf_file__section(fd, ".gnu_debugdata", DBG_MAX_DEBUGDATA, (void **)&xz, &xzlen,
				NULL);
	if (err)
		return err;
	if (lzma_stream_decoder(&strm, DBG_XZ_MEMLIMIT, 0) != LZMA_OK) {
		err = -ENOMEM;
		goto cleanup;
	}
	strm.next_in = xz;
	strm.avail_in = xzlen;
	for (;;) {
		if (!strm.avail_out) {
			size_t used = (size_t)strm.total_out, ncap = cap ? cap * 2 : xzlen * 4 + 4096;

			if (cap >= DBG_MAX_MINIDEBUG) {
				err = -EFBIG;
				goto cleanup;
			}
			if (ncap > DBG_MAX_MINIDEBUG)
				ncap = DBG_MAX_MINIDEBUG;
			nb = realloc(buf, ncap);
			if (!nb) {
				err = -ENOMEM;
				goto cleanup;
			}
			buf = nb;
			cap = ncap;
			strm.next_out = buf + used;
			strm.avail_out = cap - used;
		}
		r = lzma_code(&strm, LZMA_FINISH);
		if (r != LZMA_OK)
			break;
	}
	if (r != LZMA_STREAM_END) {
		err = r == LZMA_MEM_ERROR ? -ENOMEM : -EINVAL;
		goto cleanup;
	}
	err = elf_image__open_mem(buf, (size_t)strm.total_out, out);
cleanup:
	lzma_end(&strm);
	free(buf);
	free(xz);
	return err;
}

static int go_syms(int fd, struct elf_image *img)
{
	static const char *const names[] = { ".gopclntab", ".data.rel.ro.gopclntab" };
	struct elf_sym_in *syms = NULL;
	uint64_t text = 0, addr;
	uint8_t *tab = NULL;
	size_t len = 0, n = 0;
	int err = -ENOENT;

	for (size_t i = 0; i < 2 && err == -ENOENT; i++)
		err = elf_file__section(fd, names[i], DBG_MAX_GOPCLNTAB, (void **)&tab, &len, &addr);
	if (err)
		return err;
	/* .text's address, the base of entry offsets since Go 1.18 */
	if (elf_file__section(fd, ".text", 0, NULL, NULL, &text))
		text = 0;
	err = gopclntab__symbols(tab, len, text, &syms, &n);
	if (!err)
		err = elf_image__add_syms(img, syms, n);
	free(syms);
	free(tab);
	return err;
}

/* Look for DWARF and names beyond the file itself. Failures only mean
 * fewer names: nothing here is fatal but running out of memory. */
static int discover(struct dbgcache *dc, struct debuginfo *di, pid_t pid,
		    const struct procmaps_entry *e, int fd)
{
	struct elf_image *img = di->img, *dimg = NULL;
	unsigned sec = img->sections;
	struct stat self, st;
	char *path = NULL;
	int dfd = -ENOENT, where = DBG_SRC_NONE, err = 0;

	di->syms_from = img->from_symtab ? DBG_SYMS_SYMTAB : img->nsyms ? DBG_SYMS_DYNSYM : 0;
	if (sec & ELF_IMAGE_DEBUG_INFO)
		di->src = DBG_SRC_SELF;
	if ((sec & ELF_IMAGE_DEBUG_INFO) && (sec & ELF_IMAGE_SYMTAB))
		return 0;
	if (fstat(fd, &self))
		memset(&self, 0, sizeof(self));
	dfd = find_separate(dc, pid, e, img, &self, &path, &where, &st);
	if (dfd == -ENOMEM)
		return -ENOMEM;
	if (dfd < 0 && !(sec & ELF_IMAGE_DEBUG_INFO)) {
		dfd = find_debuginfod(dc, img, &path, &st);
		where = DBG_SRC_HOST;
	}
	if (dfd >= 0) {
		err = elf_image__open_fd(dfd, &dimg);
		if (!err && !(sec & ELF_IMAGE_DEBUG_INFO) && (dimg->sections & ELF_IMAGE_DEBUG_INFO)) {
			di->src = where;
			di->debug_path = path;
			path = NULL;
			di->dbg_dev = st.st_dev;
			di->dbg_ino = st.st_ino;
		}
		if (!err && !img->from_symtab && dimg->from_symtab) {
			err = elf_image__merge(img, dimg);
			if (!err) {
				img->from_symtab = 1;
				di->syms_from |= DBG_SYMS_DEBUGFILE;
			}
		}
		elf_image__free(dimg);
		close(dfd);
		free(path);
		if (err == -ENOMEM)
			return err;
	}
	if (!img->from_symtab && (sec & ELF_IMAGE_DEBUGDATA)) {
		dimg = NULL;
		err = minidebug_image(fd, &dimg);
		if (!err) {
			err = elf_image__merge(img, dimg);
			if (!err)
				di->syms_from |= DBG_SYMS_MINIDEBUG;
		}
		elf_image__free(dimg);
		if (err == -ENOMEM)
			return err;
	}
	if (!img->from_symtab && (sec & ELF_IMAGE_GOPCLNTAB)) {
		err = go_syms(fd, img);
		if (!err) {
			di->syms_from |= DBG_SYMS_GOPCLNTAB;
			if (di->src == DBG_SRC_NONE)
				di->src = DBG_SRC_GOPCLNTAB;
		}
		if (err == -ENOMEM)
			return err;
	}
	return 0;
}

/* --- get / put ------------------------------------------------------------- */

static void take(struct dbgcache *dc, struct debuginfo *di)
{
	if (!di->refcnt++ && di->hashed)
		lru_unlink(dc, di);
}

int dbgcache__get(struct dbgcache *dc, pid_t pid, const struct procmaps_entry *e, int fd,
		  struct debuginfo **out)
{
	struct elf_image *hdr = NULL, *img = NULL;
	struct debuginfo *di = NULL;
	char key[sizeof(di->key)];
	int err;

	err = elf_image__open_fd_opts(fd, ELF_IMAGE_NO_SYMS, &hdr);
	if (err)
		return err;
	/* A stripped copy has the build id of the original: the kinds of
	 * sections present are part of the key. */
	key[0] = '\0';
	if (hdr->build_id[0])
		snprintf(key, sizeof(key), "%s/%x", hdr->build_id, hdr->sections);
	elf_image__free(hdr);
	if (key[0]) {
		di = lookup(dc, key);
		if (di) {
			take(dc, di);
			dc->shared_hits++;
			*out = di;
			return 0;
		}
	}
	err = elf_image__open_fd(fd, &img);
	if (err)
		return err;
	di = calloc(1, sizeof(*di));
	if (!di) {
		elf_image__free(img);
		return -ENOMEM;
	}
	di->img = img;
	di->id = ++dc->next_id;
	memcpy(di->key, key, sizeof(key));
	err = discover(dc, di, pid, e, fd);
	if (err) {
		elf_image__free(di->img);
		free(di->debug_path);
		free(di);
		return err;
	}
	di->bytes = sizeof(*di) + elf_image__bytes(img) +
		    (di->debug_path ? strlen(di->debug_path) + 1 : 0);
	di->refcnt = 1;
	dc->ninfos++;
	dc->nsyms += img->nsyms;
	dc->bytes += di->bytes;
	dc->with_dwarf += di->src != DBG_SRC_NONE && di->src != DBG_SRC_GOPCLNTAB;
	dc->separate += (di->syms_from & DBG_SYMS_DEBUGFILE) || di->src == DBG_SRC_ROOT ||
			di->src == DBG_SRC_HOST;
	if (key[0]) {
		size_t h;

		if (dc->nhashed >= dc->nbuckets)
			grow(dc);
		h = key_hash(key) & (dc->nbuckets - 1);
		di->hnext = dc->buckets[h];
		dc->buckets[h] = di;
		di->hashed = true;
		dc->nhashed++;
	}
	*out = di;
	return 0;
}

void dbgcache__put(struct dbgcache *dc, struct debuginfo *di)
{
	if (!di || !di->refcnt || --di->refcnt)
		return;
	if (!di->hashed) {
		info_free(dc, di);
		return;
	}
	di->lru_prev = NULL;
	di->lru_next = dc->lru_head;
	if (dc->lru_head)
		dc->lru_head->lru_prev = di;
	else
		dc->lru_tail = di;
	dc->lru_head = di;
	dc->nunused++;
	lru_trim(dc);
}

void dbgcache__set_max_unused(struct dbgcache *dc, size_t max_unused)
{
	dc->opts.max_unused = max_unused;
	lru_trim(dc);
}

static int image_load(void *ctx, pid_t pid, const struct procmaps_entry *e, int fd, void **data)
{
	struct debuginfo *di = NULL;
	int err = dbgcache__get(ctx, pid, e, fd, &di);

	*data = di;
	return err;
}

static void image_release(void *ctx, void *data)
{
	dbgcache__put(ctx, data);
}

/* Lend the debuginfo cache what the image cache does not use of the one
 * max_unused bound they share. */
static void image_unused(void *ctx, size_t nunused, size_t max_unused)
{
	dbgcache__set_max_unused(ctx, max_unused > nunused ? max_unused - nunused : 0);
}

const struct binary_cache_ops dbgcache_image_ops = {
	.load = image_load,
	.release = image_release,
	.unused = image_unused,
};

/* --- DWARF on demand --------------------------------------------------------- */

/* The file src says (the mapped file itself for DBG_SRC_SELF), open. */
static int source_open(struct debuginfo *di, pid_t pid, const struct procmaps_entry *e, int src)
{
	struct elf_image *h = NULL;
	struct stat st;
	int fd = -ENOENT, err, held = -1;

	/* kept open (and checked) while the process lived: dbgcache__hold */
	if (di->held)
		held = src == DBG_SRC_SELF || src == DBG_SRC_GOPCLNTAB ? di->held_self :
		       src == DBG_SRC_ROOT				  ? di->held_debug :
									    -1;
	if (held >= 0) {
		fd = fcntl(held, F_DUPFD_CLOEXEC, 0);
		return fd < 0 ? -errno : fd;
	}
	switch (src) {
	case DBG_SRC_SELF:
	case DBG_SRC_GOPCLNTAB:
		fd = binary_open_mapped(pid, e, &st);
		/* the process is gone: the path on the host, if it is the
		 * same binary */
		if (fd < 0 && di->img->build_id[0] && e->path[0] == '/')
			fd = open_file(0, e->path, &st);
		break;
	case DBG_SRC_ROOT:
		fd = open_file(pid, di->debug_path, &st);
		if (fd < 0)
			fd = open_file(0, di->debug_path, &st);
		break;
	case DBG_SRC_HOST:
		fd = open_file(0, di->debug_path, &st);
		break;
	}
	if (fd < 0)
		return fd;
	if ((src == DBG_SRC_SELF || src == DBG_SRC_GOPCLNTAB) && e->inode == (uint64_t)st.st_ino)
		return fd;
	/* A different file than the one checked when found: it must still
	 * carry the build id (without one, it must be the same inode). */
	if (!di->img->build_id[0]) {
		err = src != DBG_SRC_SELF && src != DBG_SRC_GOPCLNTAB &&
				      (uint64_t)st.st_dev == di->dbg_dev && (uint64_t)st.st_ino == di->dbg_ino ?
			      0 :
			      -ESTALE;
	} else {
		err = elf_image__open_fd_opts(fd, ELF_IMAGE_NO_SYMS, &h);
		if (!err && strcmp(h->build_id, di->img->build_id))
			err = -ESTALE;
		elf_image__free(h);
	}
	if (err) {
		close(fd);
		return err;
	}
	return fd;
}

/* The file holding di's DWARF, open. */
static int dwarf_source(struct debuginfo *di, pid_t pid, const struct procmaps_entry *e)
{
	return source_open(di, pid, e, di->src);
}

static void open_push_front(struct dbgcache *dc, struct debuginfo *di)
{
	di->open_prev = NULL;
	di->open_next = dc->open_head;
	if (dc->open_head)
		dc->open_head->open_prev = di;
	else
		dc->open_tail = di;
	dc->open_head = di;
}

/* Close least recently used DWARF, never keep, until within bounds. */
/* The open DWARF to close first, other than keep: the one whose binary was
 * looked up least recently (last_used, which every lookup sets, those the
 * symbolizer answers from its cached results too), and among equals the
 * one whose DWARF was read least recently (the open list's tail). The
 * open list alone ranks by DWARF reads, which cached results spare: libc,
 * sampled all the time but mostly answered from the cache, fell to its
 * tail and was closed for a file read once, to be opened and indexed again
 * on its next miss (tens of ms for its 14 MiB of inflated sections). */
static struct debuginfo *open_coldest(const struct dbgcache *dc, const struct debuginfo *keep)
{
	struct debuginfo *v = NULL;

	for (struct debuginfo *di = dc->open_tail; di; di = di->open_prev)
		if (di != keep && (!v || di->last_used < v->last_used))
			v = di;
	return v;
}

static void budget(struct dbgcache *dc, struct debuginfo *keep)
{
	struct debuginfo *v;

	while ((dc->nopen > dc->opts.max_dwarf_open || dc->dwarf_bytes > dc->opts.max_dwarf_bytes) &&
	       (v = open_coldest(dc, keep))) {
		dwarf_close(dc, v);
		dc->evictions++;
	}
}

/* Open di's line source from fd (closed by the caller). */
static int lines_open(struct debuginfo *di, int fd)
{
	static const char *const names[] = { ".gopclntab", ".data.rel.ro.gopclntab" };
	uint8_t *tab = NULL;
	uint64_t text = 0;
	size_t len = 0;
	int err = -ENOENT;

	if (di->src != DBG_SRC_GOPCLNTAB)
		return dwarf_file__open(fd, &di->dw);
	for (size_t i = 0; i < 2 && err == -ENOENT; i++)
		err = elf_file__section(fd, names[i], DBG_MAX_GOPCLNTAB, (void **)&tab, &len, NULL);
	if (err)
		return err;
	if (elf_file__section(fd, ".text", 0, NULL, NULL, &text))
		text = 0;
	return gopclntab__open(tab, len, text, &di->go);
}

int dbgcache__lines(struct dbgcache *dc, struct debuginfo *di, pid_t pid,
		    const struct procmaps_entry *e, uint64_t vaddr, struct dwarf_line *out,
		    size_t max, bool *inlines)
{
	size_t before;
	int fd, err, n;

	*inlines = false;
	if (!dc || !di || !max || di->src == DBG_SRC_NONE || di->dw_err)
		return 0;
	if (!di->dw && !di->go) {
		fd = dwarf_source(di, pid, e);
		if (fd < 0) {
			/* gone or unreachable from this pid: try again later;
			 * a file that is not the binary's: never */
			if (fd == -ESTALE || fd == -ENOEXEC)
				di->dw_err = fd;
			return 0;
		}
		err = lines_open(di, fd);
		close(fd);
		if (err) {
			di->dw = NULL;
			di->go = NULL;
			if (err != -ENOMEM)
				di->dw_err = err;
			return 0;
		}
		dc->nopen++;
		dc->dwarf_opens++;
		dc->dwarf_bytes += lines_bytes(di);
		open_push_front(dc, di);
	} else if (dc->open_head != di) {
		open_unlink(dc, di);
		open_push_front(dc, di);
	}
	if (di->go) {
		const char *func, *file;
		int line;

		n = 0;
		if (!gopclntab__line(di->go, vaddr, &func, &file, &line) && func) {
			out[0] = (struct dwarf_line){ .name = func, .file = file, .line = line };
			n = 1;
		}
	} else {
		before = dwarf_file__bytes(di->dw);
		n = dwarf_file__lookup(di->dw, vaddr, out, max);
		dc->dwarf_bytes += dwarf_file__bytes(di->dw) - before;
		*inlines = n > 0;
	}
	budget(dc, di);
	return n;
}

void dbgcache__trim(struct dbgcache *dc, size_t max_dwarf_bytes)
{
	size_t max_unused;

	if (!dc)
		return;
	while (dc->dwarf_bytes > max_dwarf_bytes && dc->open_tail) {
		dwarf_close(dc, dc->open_tail);
		dc->evictions++;
	}
	max_unused = dc->opts.max_unused;
	dbgcache__set_max_unused(dc, 0);
	dc->opts.max_unused = max_unused;
}

bool dbgcache__close_lru(struct dbgcache *dc)
{
	struct debuginfo *mru = NULL, *v;

	if (!dc || dc->nopen < 2)
		return false;
	/* the one looked up last: the highest last_used, among equals the
	 * open list's head */
	for (struct debuginfo *di = dc->open_head; di; di = di->open_next)
		if (!mru || di->last_used > mru->last_used)
			mru = di;
	v = open_coldest(dc, mru);
	if (!v)
		return false;
	dwarf_close(dc, v);
	dc->evictions++;
	return true;
}

void dbgcache__set_max_dwarf_bytes(struct dbgcache *dc, size_t bytes)
{
	if (dc)
		dc->opts.max_dwarf_bytes = bytes;
}

int dbgcache__hold(struct dbgcache *dc, struct debuginfo *di, pid_t pid,
		   const struct procmaps_entry *e)
{
	bool self = di && (di->src == DBG_SRC_SELF || di->src == DBG_SRC_GOPCLNTAB);

	if (!dc || !di)
		return -EINVAL;
	if (!di->held) {
		if (dc->nheld >= DBG_MAX_HELD)
			return -EMFILE;
		di->held = true;
		di->held_self = di->held_debug = -1;
		dc->nheld++;
	}
	/* what another process could not open (it had exited), this one may */
	if (di->held_self < 0)
		di->held_self = source_open(di, pid, e, DBG_SRC_SELF);
	if (di->src == DBG_SRC_ROOT && di->held_debug < 0)
		di->held_debug = source_open(di, pid, e, DBG_SRC_ROOT);
	if (self && di->held_self < 0)
		return di->held_self;
	if (di->src == DBG_SRC_ROOT && di->held_debug < 0)
		return di->held_debug;
	return 0;
}

int dbgcache__func_start(struct dbgcache *dc, struct debuginfo *di, pid_t pid,
			 const struct procmaps_entry *e, uint64_t vaddr, uint64_t *start)
{
	size_t bytes;
	int fd, err;

	if (!dc || !di || di->funcs_err)
		return -ENOENT;
	if (!di->funcs) {
		/* the mapped file itself: a debug file's .eh_frame is empty */
		fd = source_open(di, pid, e, DBG_SRC_SELF);
		if (fd < 0) {
			if (fd == -ESTALE || fd == -ENOEXEC)
				di->funcs_err = fd;
			return -ENOENT;
		}
		err = ehframe_funcs__read_fd(fd, &di->funcs);
		close(fd);
		if (err) {
			if (err != -ENOMEM)
				di->funcs_err = err;
			return -ENOENT;
		}
		bytes = ehframe_funcs__bytes(di->funcs);
		di->bytes += bytes;
		dc->bytes += bytes;
	}
	return ehframe_funcs__find(di->funcs, vaddr, start);
}

void dbgcache__stats(const struct dbgcache *dc, struct dbgcache_stats *st)
{
	memset(st, 0, sizeof(*st));
	if (!dc)
		return;
	st->infos = dc->ninfos;
	st->unused = dc->nunused;
	st->symbols = dc->nsyms;
	st->bytes = dc->bytes + dc->dwarf_bytes + dc->nbuckets * sizeof(*dc->buckets);
	st->shared_hits = dc->shared_hits;
	st->with_dwarf = dc->with_dwarf;
	st->separate = dc->separate;
	st->dwarf_open = dc->nopen;
	st->dwarf_bytes = dc->dwarf_bytes;
	st->dwarf_opens = dc->dwarf_opens;
	st->dwarf_evictions = dc->evictions;
}
