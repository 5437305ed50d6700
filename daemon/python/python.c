// SPDX-License-Identifier: Apache-2.0
/* python: detect CPython per process, feed the BPF walker, name frames. */
#include <errno.h>
#include <fcntl.h>
#include <elf.h>
#include <gelf.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "binary/elf.h"
#include "binary/file.h"
#include "binary/procmaps.h"
#include "util/fileio.h"
#include "util/log.h"
#include "util/procmem.h"
#include "util/procstat.h"
#include "profd/python.h"
#include "python/gnuhash.h"
#include "python/pycode.h"
#include "python/python.h"

#define MAX_PROCS 4096
#define CODE_SLOTS 16384 /* direct-mapped cache of code objects */
#define FILE_SLOTS 256   /* ELF files looked at, python or not */
#define MAX_STR 1024
#define MAX_LINETABLE (256 << 10)

/* glibc x86-64: pthread_getspecific(k) = THREAD_SELF->specific_1stblock[k]
 * .data = fsbase + 0x310 + 16 k + 8 (Debian 12's 2.36, disassembled). */
#define GLIBC_TSD_OFF 0x318
#define GLIBC_TSD_STRIDE 16

struct py_file {
	struct binary_key key; /* the file this was read from (binary/file.h) */
	bool used, is_python, pie;
	uint64_t runtime, eval, eval_size, version, code_type; /* link-time addresses */
	struct elf_load loads[8]; /* PT_LOAD */
	int name_minor; /* N of "python3.N" / "libpython3.N" in the file name, 0 if none */
	size_t nloads;
};

/* What makes a process's code objects the same ones at its next rescan:
 * the same process (start time), the same program image (the 16 bytes the
 * kernel writes at AT_RANDOM on every exec, even without ASLR), and the
 * same interpreter file at the same load bias. */
struct py_ident {
	bool valid; /* false: unknown (not readable), never the same */
	unsigned long long start_ticks;
	uint8_t at_random[16];
	struct binary_key file;
	uint64_t bias;
};

struct py_proc {
	pid_t pid;
	const struct py_layout *lay;
	uint64_t code_type; /* runtime address of PyCode_Type, 0 if unknown */
	struct profd_py_proc v; /* what the walkers need (py_procs' value) */
	struct py_ident id;
};

struct py_code {
	pid_t pid;
	uint64_t code;
	char *name, *file;
	uint8_t *lt;
	size_t ltlen;
	int firstline;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int map_fd = -1;
static struct py_proc procs[MAX_PROCS];
static size_t nprocs;
static struct py_code codes[CODE_SLOTS];
static struct py_file files[FILE_SLOTS];
static size_t file_next;
static uint32_t reported_minors; /* unsupported versions already logged */
static struct python_stats stats;

int python__reuse_map(struct bpf_object *obj)
{
	struct bpf_map *m = bpf_object__find_map_by_name(obj, "py_procs");
	int err = 0;

	if (!m)
		return -ENOENT;
	pthread_mutex_lock(&lock);
	if (map_fd < 0) {
		map_fd = bpf_map_create(BPF_MAP_TYPE_HASH, "py_procs", sizeof(uint32_t),
					sizeof(struct profd_py_proc), MAX_PROCS, NULL);
		if (map_fd < 0)
			err = -errno;
	}
	if (!err)
		err = bpf_map__reuse_fd(m, map_fd);
	pthread_mutex_unlock(&lock);
	return err;
}

/* ---- detection ------------------------------------------------------------ */

/* The interpreter's symbols in the dynamic symbol table (exported even
 * where .symtab is stripped, as in Debian's python3.11). */
static int python_sym(const struct elf_func *s, void *ctx)
{
	struct py_file *f = ctx;

	if (!strcmp(s->name, "_PyRuntime")) {
		f->runtime = s->addr;
	} else if (!strcmp(s->name, "_PyEval_EvalFrameDefault")) {
		f->eval = s->addr;
		f->eval_size = s->size;
	} else if (!strcmp(s->name, "Py_Version")) {
		f->version = s->addr;
	} else if (!strcmp(s->name, "PyCode_Type")) {
		f->code_type = s->addr;
	}
	return 0;
}

/* Whether the .gnu.hash Bloom filter of e allows _PyRuntime (true when e
 * has no such section, or a malformed one: the symbols then tell). Two
 * preads of 16 and 8 bytes: libelf would read the whole section. */
static bool may_export_runtime(Elf *e, int fd)
{
	static uint32_t h;
	unsigned char hdr[GNUHASH_HEADER_BYTES];
	struct gnuhash_bloom b;
	Elf_Scn *scn = NULL;
	uint64_t word;
	GElf_Shdr sh;

	if (gelf_getclass(e) != ELFCLASS64)
		return true;
	while ((scn = elf_nextscn(e, scn)))
		if (gelf_getshdr(scn, &sh) && sh.sh_type == SHT_GNU_HASH)
			break;
	if (!scn || sh.sh_offset > INT64_MAX - sh.sh_size)
		return true;
	if (pread(fd, hdr, sizeof(hdr), (off_t)sh.sh_offset) != (ssize_t)sizeof(hdr) ||
	    !gnuhash__header(hdr, sh.sh_size, &b))
		return true;
	if (!h)
		h = gnuhash__hash("_PyRuntime");
	if (pread(fd, &word, sizeof(word), (off_t)(sh.sh_offset + gnuhash__word_offset(&b, h))) !=
	    (ssize_t)sizeof(word))
		return true;
	return gnuhash__word_allows(&b, word, h);
}

static void file_inspect(struct py_file *f, int fd)
{
	Elf *e = elf_begin(fd, ELF_C_READ, NULL); /* pread: no SIGBUS if truncated */
	GElf_Ehdr eh;

	if (!e)
		return;
	if (!gelf_getehdr(e, &eh))
		goto out;
	if (!may_export_runtime(e, fd)) {
		stats.bloom_rejects++;
		goto out;
	}
	f->pie = eh.e_type == ET_DYN;
	if (elf_read_loads(e, f->loads, sizeof(f->loads) / sizeof(f->loads[0]), &f->nloads))
		goto out;
	elf_symtab__each_sym(e, SHT_DYNSYM, ELF_SYMS_FUNC | ELF_SYMS_OBJECT, python_sym, f);
	f->is_python = f->runtime && f->eval && f->eval_size;
out:
	elf_end(e);
}

/* The file of a mapping, inspected once per (dev, inode, mtime). A file
 * known to be no interpreter is known by the dev and inode of the maps
 * alone, without opening it: a new process of a program seen before (the
 * host's curl, awk, sh...) costs no open, no stat. (A file rewritten in
 * place into a CPython, keeping its inode, would be missed; install and
 * package managers write a new inode.) */
static struct py_file *file_get(const struct procmaps_entry *me, pid_t pid)
{
	struct binary_key key;
	struct stat sb;
	struct py_file *f;
	int fd;

	for (size_t i = 0; i < FILE_SLOTS; i++) {
		f = &files[i];
		if (f->used && !f->is_python && f->key.dev == procmaps_entry__dev(me) &&
		    f->key.ino == me->inode) {
			stats.files_known++;
			return f;
		}
	}

	/* The binary layer's safe open: the mapped file itself, else the
	 * process's root path if it still has the mapping's inode. */
	if (binary_elf_init())
		return NULL;
	fd = binary_open_mapped(pid, me, &sb);
	if (fd < 0)
		return NULL;
	binary_key__from_stat(&key, me, &sb);
	for (size_t i = 0; i < FILE_SLOTS; i++) {
		f = &files[i];
		if (f->used && binary_key__eq(&f->key, &key)) {
			close(fd);
			return f;
		}
	}
	f = &files[file_next++ % FILE_SLOTS];
	*f = (struct py_file){ .key = key, .used = true };
	{
		const char *b = strrchr(me->path, '/'), *v;

		b = b ? b + 1 : me->path;
		v = strstr(b, "python3.");
		if (v && v[8] >= '0' && v[8] <= '9')
			f->name_minor = atoi(v + 8);
	}
	file_inspect(f, fd);
	close(fd);
	return f;
}

struct scan_ctx {
	pid_t pid;
	struct py_file *f;
	uint64_t bias;
	bool found;
};

static int scan_cb(const struct procmaps_entry *e, void *data)
{
	struct scan_ctx *c = data;
	struct py_file *f;

	if (c->found || !procmaps_entry__is_exec(e) || e->path[0] != '/' || !e->inode)
		return 0;
	f = file_get(e, c->pid);
	if (!f || !f->is_python)
		return 0;
	/* runtime = link-time address + bias, from the segment mapped here */
	for (size_t i = 0; i < f->nloads; i++) {
		uint64_t off = f->loads[i].offset & ~0xfffULL, vaddr = f->loads[i].vaddr & ~0xfffULL;

		if (e->offset < off || e->offset >= f->loads[i].offset + f->loads[i].filesz)
			continue;
		c->bias = f->pie ? e->start - (vaddr + (e->offset - off)) : 0;
		c->f = f;
		c->found = true;
		break;
	}
	return 0;
}

static void drop_codes(pid_t pid)
{
	for (size_t i = 0; i < CODE_SLOTS; i++) {
		struct py_code *c = &codes[i];

		if (c->pid != pid || !c->code)
			continue;
		free(c->name);
		free(c->file);
		free(c->lt);
		*c = (struct py_code){};
	}
}

static struct py_proc *proc_find(pid_t pid)
{
	for (size_t i = 0; i < nprocs; i++)
		if (procs[i].pid == pid)
			return &procs[i];
	return NULL;
}

static void proc_remove(pid_t pid)
{
	struct py_proc *p = proc_find(pid);
	uint32_t key = (uint32_t)pid;

	if (!p)
		return;
	*p = procs[--nprocs];
	if (map_fd >= 0)
		bpf_map_delete_elem(map_fd, &key);
}

/* Start time and AT_RANDOM bytes of pid. */
static int proc_ident(pid_t pid, struct py_ident *id)
{
	char path[64], *buf = NULL;
	uint64_t at_random = 0;
	size_t len;
	int err;

	err = procstat__starttime(pid, &id->start_ticks);
	if (err)
		return err;
	snprintf(path, sizeof(path), "/proc/%d/auxv", (int)pid);
	err = read_file_all(path, 64 << 10, &buf, &len);
	if (err)
		return err;
	for (size_t i = 0; i + 16 <= len; i += 16) {
		uint64_t type, val;

		memcpy(&type, buf + i, 8);
		memcpy(&val, buf + i + 8, 8);
		if (type == AT_RANDOM)
			at_random = val;
		if (type == AT_NULL)
			break;
	}
	free(buf);
	if (!at_random)
		return -ENOENT;
	return procmem_read(pid, at_random, id->at_random, sizeof(id->at_random));
}

static bool ident_eq(const struct py_ident *a, const struct py_ident *b)
{
	return a->valid && b->valid && a->start_ticks == b->start_ticks && !memcmp(a->at_random, b->at_random, sizeof(a->at_random)) &&
	       binary_key__eq(&a->file, &b->file) && a->bias == b->bias;
}

/* Whether pid still maps the interpreter c found, at the same place: the
 * maps scan_locked was handed may be older than the process's memory (a
 * fork of a Python process caught before its exec, read after it). Only
 * on the failure path: it reads the maps again. */
static bool still_mapped(pid_t pid, const struct scan_ctx *c)
{
	struct scan_ctx now = { .pid = pid };
	struct procmaps pm;
	bool same;

	if (procmaps__load(pid, &pm))
		return false;
	same = !procmaps__each(&pm, scan_cb, &now) && now.found && now.f == c->f && now.bias == c->bias;
	procmaps__release(&pm);
	return same;
}

static void scan_locked(pid_t pid, const struct procmaps *pm)
{
	struct scan_ctx c = { .pid = pid };
	const struct py_layout *lay;
	struct profd_py_proc v = {};
	struct py_proc *p;
	uint64_t bias = 0;
	uint32_t version = 0, key = (uint32_t)pid;
	struct py_ident id = {};
	bool found;
	int err;
	int minor;

	found = !procmaps__each(pm, scan_cb, &c) && c.found;
	if (found && !proc_ident(pid, &id)) {
		id.valid = true;
		id.file = c.f->key;
		id.bias = c.bias;
		p = proc_find(pid);
		if (p && ident_eq(&p->id, &id)) {
			/* a rescan (new mappings): same process, image and
			 * interpreter, so the same code objects; the walkers'
			 * entry again, in case the map was created since (a
			 * scan before the collector opened registers none) */
			stats.rescans_kept++;
			if (map_fd >= 0)
				bpf_map_update_elem(map_fd, &key, &p->v, BPF_ANY);
			return;
		}
	}
	/* Code objects are cached only for pids in procs, and dropped with
	 * them: a process that was none has nothing to drop (no walk over
	 * the whole code cache for every new native process). */
	if (proc_find(pid)) {
		drop_codes(pid);
		proc_remove(pid);
	}
	if (!found)
		return;
	bias = c.bias;
	if (!c.f->version) /* before 3.11: the version in the file's name */
		version = c.f->name_minor ? 0x03000000U | (uint32_t)c.f->name_minor << 16 : 0;
	else if ((err = procmem_read(pid, c.f->version + bias, &version, sizeof(version)))) {
		/* exited or exec'd since its maps were read: nothing to say */
		if (err == -ESRCH)
			return;
		if (!still_mapped(pid, &c)) {
			stats.stale_maps++;
			return;
		}
		version = 0;
	}
	if (version >> 24 != 3) {
		if (!(reported_minors & 1)) {
			log_warn("python: pid %d runs a CPython without a readable Py_Version nor "
				 "a version in its file name: its Python frames stay native", (int)pid);
			reported_minors |= 1;
		}
		return;
	}
	minor = (version >> 16) & 0xff;
	lay = py_layout_get(minor);
	if (!lay) {
		if (minor < 31 && !(reported_minors & (1U << minor)))
			log_warn("python: CPython 3.%d (pid %d) is not supported: its Python frames "
				 "stay native", minor, (int)pid);
		if (minor < 31)
			reported_minors |= 1U << minor;
		return;
	}
	if (minor >= 13) {
		/* _PyRuntime starts with _Py_DebugOffsets: cookie, version,
		 * free_threaded (a build without a GIL has other layouts) */
		struct { char cookie[8]; uint64_t version, free_threaded; } dbg;

		if (procmem_read(pid, c.f->runtime + bias, &dbg, sizeof(dbg)) ||
		    memcmp(dbg.cookie, "xdebugpy", 8) || dbg.version != version ||
		    dbg.free_threaded) {
			log_warn("python: pid %d: CPython 3.%d with unexpected _Py_DebugOffsets "
				 "(free-threaded build?): its Python frames stay native", (int)pid, minor);
			return;
		}
	}
	if (nprocs >= MAX_PROCS)
		return;
	v.tss_key_addr = c.f->runtime + bias + lay->tss_key;
	v.gil_cond = c.f->runtime + bias + lay->gil_cond;
	v.eval_lo = c.f->eval + bias;
	v.eval_hi = v.eval_lo + c.f->eval_size;
	v.tsd_off = GLIBC_TSD_OFF;
	v.tsd_stride = GLIBC_TSD_STRIDE;
	v.off_cframe = lay->ts_cframe;
	v.off_current_frame = lay->cf_current_frame;
	v.off_code = lay->fr_code;
	v.off_previous = lay->fr_previous;
	v.off_instr = lay->fr_instr;
	v.off_entry = lay->fr_entry;
	v.code_adaptive = lay->co_size;
	v.minor = minor;
	v.entry_kind = lay->entry_kind;
	v.instr_kind = lay->instr_kind;
	if (map_fd >= 0 && bpf_map_update_elem(map_fd, &key, &v, BPF_ANY)) {
		log_debug("python: pid %d: py_procs update: %s", (int)pid, strerror(errno));
		return;
	}
	p = &procs[nprocs++];
	*p = (struct py_proc){ .pid = pid, .lay = lay,
			       .code_type = c.f->code_type ? c.f->code_type + bias : 0, .v = v,
			       .id = id };
	stats.procs++;
	log_debug("python: pid %d runs CPython 3.%d", (int)pid, minor);
}

void python__scan(pid_t pid)
{
	struct procmaps pm;

	if (procmaps__load(pid, &pm))
		return;
	python__scan_maps(pid, &pm);
	procmaps__release(&pm);
}

void python__scan_maps(pid_t pid, const struct procmaps *pm)
{
	pthread_mutex_lock(&lock);
	stats.scans++;
	scan_locked(pid, pm);
	pthread_mutex_unlock(&lock);
}

bool python__ready(void)
{
	bool ready;

	pthread_mutex_lock(&lock);
	ready = map_fd >= 0;
	pthread_mutex_unlock(&lock);
	return ready;
}

void python__forget(pid_t pid)
{
	pthread_mutex_lock(&lock);
	if (proc_find(pid)) {
		drop_codes(pid);
		proc_remove(pid);
	}
	pthread_mutex_unlock(&lock);
}

int python__walk_config(pid_t pid, bool scan, struct profd_py_proc *out)
{
	struct procmaps pm = {};
	struct py_proc *p;
	int err = 0;


	/* The maps read before the lock: a walker's scan waits no longer. */
	if (scan) {
		pthread_mutex_lock(&lock);
		scan = !proc_find(pid);
		pthread_mutex_unlock(&lock);
		if (scan && procmaps__load(pid, &pm))
			scan = false;
	}
	pthread_mutex_lock(&lock);
	p = proc_find(pid);
	if (!p && scan) {
		stats.scans++;
		scan_locked(pid, &pm);
		p = proc_find(pid);
	}
	procmaps__release(&pm);
	if (p)
		*out = p->v;
	else
		err = -ENOENT;
	pthread_mutex_unlock(&lock);
	return err;
}

/* ---- code objects --------------------------------------------------------- */

static char *read_str(pid_t pid, const struct py_layout *lay, uint64_t addr)
{
	uint8_t hdr[64];
	size_t n, off;
	char *s;

	if (lay->ascii_data > sizeof(hdr) || procmem_read(pid, addr, hdr, lay->ascii_data) ||
	    py_str_parse(lay, hdr, lay->ascii_data, &n, &off))
		return NULL;
	if (n > MAX_STR)
		n = MAX_STR;
	s = malloc(n + 1);
	if (!s)
		return NULL;
	if (n && procmem_read(pid, addr + off, s, n)) {
		free(s);
		return NULL;
	}
	s[n] = '\0';
	if (memchr(s, '\0', n)) { /* not a str after all */
		free(s);
		return NULL;
	}
	return s;
}

static int code_load(pid_t pid, const struct py_proc *p, uint64_t code, struct py_code *c)
{
	const struct py_layout *lay = p->lay;
	uint8_t hdr[256], bh[0x20];
	struct py_code_hdr h;
	size_t ltlen;

	stats.code_reads++;
	if (lay->co_size > sizeof(hdr) || procmem_read(pid, code, hdr, lay->co_size) ||
	    py_code_parse(lay, hdr, lay->co_size, &h) || (p->code_type && h.type != p->code_type))
		return -EINVAL;
	c->name = read_str(pid, lay, h.qualname);
	c->file = read_str(pid, lay, h.filename);
	if (!c->name || !c->file)
		return -EINVAL;
	if (!procmem_read(pid, h.linetable, bh, sizeof(bh)) && !py_bytes_size(bh, sizeof(bh), &ltlen) &&
	    ltlen <= MAX_LINETABLE) {
		c->lt = malloc(ltlen ? ltlen : 1);
		if (c->lt && !procmem_read(pid, h.linetable + lay->bytes_data, c->lt, ltlen)) {
			c->ltlen = ltlen;
		} else {
			free(c->lt);
			c->lt = NULL;
		}
	}
	c->firstline = h.firstlineno;
	c->pid = pid;
	c->code = code;
	return 0;
}

/* "dir/name.py" → "name" */
static void file_stem(const char *file, char *out, size_t cap)
{
	const char *b = strrchr(file, '/');
	size_t n;

	b = b ? b + 1 : file;
	n = strlen(b);
	if (n > 3 && !strcmp(b + n - 3, ".py"))
		n -= 3;
	if (n >= cap)
		n = cap - 1;
	memcpy(out, b, n);
	out[n] = '\0';
}

int python__frame(pid_t pid, uint64_t v, struct python_frame *out)
{
	uint64_t code = PROFD_PY_CODE(v), h;
	uint32_t instr = PROFD_PY_INSTR(v);
	struct py_proc *p;
	struct py_code *c;
	char stem[128];
	int err = 0, line;

	*out = (struct python_frame){};
	snprintf(out->name, sizeof(out->name), "<python>");
	pthread_mutex_lock(&lock);
	p = proc_find(pid);
	if (!p) {
		err = -ESRCH;
		goto out;
	}
	h = ((uint64_t)pid * 0x9e3779b97f4a7c15ULL) ^ (code >> 4) ^ (code >> 18);
	c = &codes[h % CODE_SLOTS];
	if (c->code != code || c->pid != pid) {
		free(c->name);
		free(c->file);
		free(c->lt);
		*c = (struct py_code){};
		err = code_load(pid, p, code, c);
		if (err) {
			stats.code_bad++;
			free(c->name);
			free(c->file);
			free(c->lt);
			*c = (struct py_code){};
			goto out;
		}
	} else {
		stats.code_hits++;
	}
	file_stem(c->file, stem, sizeof(stem));
	if (stem[0] && stem[0] != '<')
		snprintf(out->name, sizeof(out->name), "%s.%s", stem, c->name);
	else
		snprintf(out->name, sizeof(out->name), "%s", c->name);
	snprintf(out->file, sizeof(out->file), "%s", c->file);
	out->start_line = c->firstline;
	if (instr == PROFD_PY_NO_INSTR || !c->lt)
		line = c->firstline;
	else if (p->lay->minor < 11)
		line = py_linetable310_line(c->lt, c->ltlen, c->firstline, instr);
	else
		line = py_linetable_line(c->lt, c->ltlen, c->firstline, instr);
	out->line = line > 0 ? line : c->firstline;
out:
	pthread_mutex_unlock(&lock);
	return err;
}

void python__stats(struct python_stats *st)
{
	pthread_mutex_lock(&lock);
	*st = stats;
	pthread_mutex_unlock(&lock);
}

void python__log_summary(void)
{
	struct python_stats st;

	python__stats(&st);
	if (!st.procs)
		return;
	log_info("python: %llu interpreters registered; code objects: %llu read, %llu unreadable, "
		 "%llu cache hits; %llu rescans kept the cache",
		 (unsigned long long)st.procs, (unsigned long long)st.code_reads,
		 (unsigned long long)st.code_bad, (unsigned long long)st.code_hits,
		 (unsigned long long)st.rescans_kept);
}
