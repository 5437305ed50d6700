// SPDX-License-Identifier: Apache-2.0
/* symbolizer: the facade. Holds per-process mapping records (a pid hash)
 * and perf maps, the shared file and debug-info caches, the vDSO image and
 * the kallsyms table, and turns an address into a mapping plus an inline
 * chain of functions with files and lines. Results for file-backed code
 * are cached per (binary, address) with their names pooled, until the
 * next prune. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <malloc.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "binary/elf.h"
#include "binary/image.h"
#include "binary/procmaps.h"
#include "symbolize/debuginfo.h"
#include "symbolize/demangle.h"
#include "symbolize/dwarf.h"
#include "symbolize/kallsyms.h"
#include "symbolize/perfmap.h"
#include "symbolize/strpool.h"
#include "symbolize/symbolizer.h"
#include "symbolize/vdso.h"
#include "util/hashmap.h"
#include "util/log.h"
#include "util/pidwatch.h"
#include "util/procstat.h"

_Static_assert((int)SYM_MAP_SPECIAL == (int)PROCMAPS_SPECIAL && (int)SYM_MAP_DELETED == (int)PROCMAPS_DELETED,
	       "maps entry flags pass through to sym_mapping");

#define SYM_DEFAULT_MAX_PIDS 32768
#define SYM_DEFAULT_MAX_MAPS_PER_PID 8192
#define SYM_DEFAULT_MAX_UNUSED_FILES 64
#define SYM_DEFAULT_MAPS_RELOAD_MS 1000
#define SYM_KALLSYMS_PATH "/proc/kallsyms"
/* symbolizer__note_pid opens the files of a process younger than this (s). */
#define NOTE_YOUNG_S 10
#define SYM_KERNEL_NOTES_PATH "/sys/kernel/notes"
#define SYM_KERNEL_MAP_NAME "[kernel.kallsyms]"
#define SYM_VDSO_NAME "[vdso]"
#define SYM_PROC_MIN_BUCKETS 256
#define SYM_DEFAULT_DEBUG_DIRS "/usr/lib/debug"
#define SYM_DEFAULT_MAX_DEBUG_BYTES (256u << 20)
#define SYM_DEFAULT_MAX_DEBUG_OPEN 64
#define SYM_DEFAULT_MAX_CACHED_FRAMES 65536
#define SYM_DEFAULT_MAX_PERFMAP_BYTES (64u << 20)
#define SYM_MAX_PIDFDS 4096
/* Pids found gone at a lookup (their samples outlived them: a process
 * that exited before it was first symbolized), each tried again no sooner
 * than SYM_GONE_RETRY_NS later, or after a prune, or when the walker meets
 * a new process with that pid: one pidfd_open and stat read per second,
 * not per sample. Slots of an open-addressing table, emptied at half full. */
#define SYM_GONE_SLOTS 1024
#define SYM_GONE_RETRY_NS 1000000000ULL
/* Frame cache: slots probed per lookup, and lines stored per slot on
 * average before the cache starts over. */
#define SYM_FC_PROBES 8
#define SYM_FC_MIN_SLOTS 1024
#define SYM_FC_LINES_PER_SLOT 2
/* Under max_cache_bytes, the cached results may take this share of it, and
 * open DWARF indexes this share between two prunes. */
#define SYM_FC_BUDGET_SHARE 8
#define SYM_DWARF_BUDGET_SHARE 2
/* The names kept for callers, and the cached results pointing at them,
 * outlive prunes (re-resolving every frame each interval from DWARF was
 * most of the agent's steady state): a prune drops them once they take
 * more than this share of max_cache_bytes, or this much without one. */
#define SYM_NAMES_BUDGET_SHARE 8
#define SYM_DEFAULT_MAX_NAME_BYTES (8u << 20)
/* A prune that freed more than this hands free heap pages back. */
#define SYM_TRIM_MIN_BYTES (1u << 20)
/* Name of an inlined function DWARF does not name (addr2line's). */
#define SYM_UNKNOWN_NAME "??"

/* One executable VMA as seen at some maps read. Records are never changed
 * in place once handed out (except gaining a file that failed to open
 * before), and live until their pid is forgotten or, once replaced by a
 * later read, until symbolizer__prune(): callers hold pointers into them. */
struct sym_map {
	struct sym_mapping pub;
	uint64_t dev;
	uint64_t ino;
	struct binary_image *file; /* reference, NULL for special mappings */
	const struct elf_image *img;  /* file->img or the vDSO; may be NULL */
	int open_err;                 /* why file is NULL for a file mapping */
	bool attached;                /* file/img looked for (first lookup in it) */
	bool current;                 /* in the latest maps read */
	/* Lookups deferred (symbolizer__user_defer): a record's pin is a copy
	 * of it, with its own reference on the file, made on its first
	 * deferred lookup and kept until symbolizer__free(); pin_pid is the
	 * process the pin's files were held open through. */
	struct sym_map *pin;
	bool is_pin;
	bool unpinned; /* its files could not be held: looked up at once */
	pid_t pin_pid;
	struct sym_map *next;         /* all records of the pid */
	char path[];
};

struct sym_proc {
	pid_t pid;
	struct sym_proc *hnext;
	struct sym_map **cur; /* the latest maps read, sorted by start */
	size_t ncur;
	struct sym_map *all;  /* every record, current or replaced */
	size_t nall;
	uint64_t starttime;   /* /proc/PID/stat field 22, tells pid reuse */
	int watch;            /* pidwatch slot; -1: no pidfd */
	/* The program's mapping in cur, found by symbolizer__main_mapping
	 * once per load of the maps (a readlink of /proc/PID/exe). */
	struct sym_map *main_map;
	uint64_t loaded_ns;
	size_t bytes;
	bool exited;          /* its pidfd was readable at this prune */
	struct perfmap *pm;   /* the process's perf map, NULL until found */
	uint64_t pm_checked_ns; /* when the map file was last looked at */
	bool pm_tried;
};

/* One cached lookup: lines[line .. line + nlines) of the line store. */
struct fc_slot {
	uint64_t id;    /* debuginfo id, 0: empty */
	uint64_t vaddr;
	uint32_t line;
	uint16_t nlines;
	uint16_t flags;
};

/* One generation: open addressing over slots, lines appended. */
struct fc_gen {
	struct fc_slot *slots;
	size_t cap;  /* power of two; 0 until first use */
	size_t used;
	struct sym_line *lines;
	size_t nlines, lines_cap;
};

/* Two generations approximate LRU without per-entry links: inserts go to
 * gen[0]; when it is full, it becomes gen[1] and the old gen[1] is
 * emptied to be the new gen[0]; a hit in gen[1] is copied into gen[0]. */
struct frame_cache {
	struct fc_gen gen[2];
	size_t hits, misses;
};

struct symbolizer {
	struct symbolizer_opts opts;
	char *kallsyms_path;
	struct binary_cache *files;

	struct sym_proc **procs;
	size_t nbuckets;
	size_t nprocs;
	size_t proc_bytes;
	size_t nrecords; /* sym_map records over all pids */
	size_t dropped;  /* mappings not recorded: max_maps_per_pid */
	size_t maps_reloads;

	bool vdso_tried;
	struct elf_image *vdso;
	uint64_t vdso_size;

	bool kernel_tried;
	bool kernel_defer;       /* kernel lookups answered without kallsyms */
	uint64_t kernel_deferred; /* lookups so answered since defer was set */
	int kernel_err;
	struct kallsyms *ksyms;
	struct sym_mapping kmap;
	char kbuild_id[2 * ELF_IMAGE_MAX_BUILD_ID + 1];

	bool user_defer;         /* file lines answered later (symbolizer__user_late) */
	struct sym_map **pins;   /* the records' pins, in the order made */
	size_t npins, pins_cap;
	size_t pin_bytes;

	char *debug_dirs;
	struct dbgcache *dbg;
	struct strpool names;
	struct frame_cache fc;
	size_t perfmap_loads;
	uint64_t clock;          /* lookups of file-backed code, for the LRU */
	uint64_t created_ticks;  /* CLOCK_BOOTTIME at creation, in clock ticks */
	size_t own_debug_bytes;  /* max_debug_bytes, max_cached_frames as given, */
	size_t own_cached_frames; /* before max_cache_bytes lowered them */
	size_t cache_evictions;  /* binaries dropped for max_cache_bytes */
	/* Processes watched by a pidfd (a prune then reads /proc/PID/stat
	 * only for those whose pidfd says they exited): at most
	 * SYM_MAX_PIDFDS (and pidwatch's share of the open file limit). The
	 * others are checked by their start time at each prune, as all were. */
	struct pidwatch watch;
	struct sym_gone {
		pid_t pid;
		uint64_t ns; /* when found gone; 0: no longer */
	} gone[SYM_GONE_SLOTS];
	size_t ngone;
};

static void fc_clear(struct frame_cache *fc);

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

void symbolizer__default_opts(struct symbolizer_opts *opts)
{
	*opts = (struct symbolizer_opts){
		.max_pids = SYM_DEFAULT_MAX_PIDS,
		.max_maps_per_pid = SYM_DEFAULT_MAX_MAPS_PER_PID,
		.max_unused_files = SYM_DEFAULT_MAX_UNUSED_FILES,
		.maps_reload_ms = SYM_DEFAULT_MAPS_RELOAD_MS,
		.kallsyms_path = SYM_KALLSYMS_PATH,
		.debug_dirs = SYM_DEFAULT_DEBUG_DIRS,
		.max_debug_bytes = SYM_DEFAULT_MAX_DEBUG_BYTES,
		.max_debug_open = SYM_DEFAULT_MAX_DEBUG_OPEN,
		.max_cached_frames = SYM_DEFAULT_MAX_CACHED_FRAMES,
		.max_perfmap_bytes = SYM_DEFAULT_MAX_PERFMAP_BYTES,
		.demangle = SYM_DEMANGLE_SIMPLE,
		.debuginfod = 1,
	};
}

/* The bounds max_cache_bytes lowers. */
static void budget_limits(struct symbolizer *s)
{
	size_t fc_max = s->opts.max_cache_bytes / SYM_FC_BUDGET_SHARE /
			(sizeof(struct fc_slot) + SYM_FC_LINES_PER_SLOT * sizeof(struct sym_line));
	size_t dw_max = s->opts.max_cache_bytes / SYM_DWARF_BUDGET_SHARE;

	s->opts.max_debug_bytes = s->own_debug_bytes;
	s->opts.max_cached_frames = s->own_cached_frames;
	if (!s->opts.max_cache_bytes)
		return;
	if (s->opts.max_cached_frames > fc_max)
		s->opts.max_cached_frames = fc_max;
	if (s->opts.max_debug_bytes > dw_max)
		s->opts.max_debug_bytes = dw_max;
}

void symbolizer__set_max_cache_bytes(struct symbolizer *s, size_t bytes)
{
	if (!s)
		return;
	s->opts.max_cache_bytes = bytes;
	budget_limits(s);
	dbgcache__set_max_dwarf_bytes(s->dbg, s->opts.max_debug_bytes);
}

struct symbolizer *symbolizer__new_opts(const struct symbolizer_opts *opts)
{
	struct symbolizer *s;

	s = calloc(1, sizeof(*s));
	if (!s)
		goto err;
	if (opts)
		s->opts = *opts;
	else
		symbolizer__default_opts(&s->opts);
	s->created_ticks = procstat__boot_ticks();
	s->kallsyms_path =
		strdup(s->opts.kallsyms_path ? s->opts.kallsyms_path : SYM_KALLSYMS_PATH);
	s->opts.kallsyms_path = s->kallsyms_path;
	s->debug_dirs = strdup(s->opts.debug_dirs ? s->opts.debug_dirs : SYM_DEFAULT_DEBUG_DIRS);
	s->opts.debug_dirs = s->debug_dirs;
	if (!s->kallsyms_path || !s->debug_dirs)
		goto err;
	s->own_debug_bytes = s->opts.max_debug_bytes;
	s->own_cached_frames = s->opts.max_cached_frames;
	budget_limits(s);
	s->dbg = dbgcache__new(&(struct dbgcache_opts){
		.debug_dirs = s->debug_dirs,
		.max_unused = s->opts.max_unused_files,
		.max_dwarf_bytes = s->opts.max_debug_bytes,
		.max_dwarf_open = s->opts.max_debug_open,
		.debuginfod = s->opts.debuginfod,
	});
	if (!s->dbg)
		goto err;
	s->files = binary_cache__new(s->opts.max_unused_files, &dbgcache_image_ops, s->dbg);
	pidwatch__init(&s->watch, SYM_MAX_PIDFDS);
	s->nbuckets = SYM_PROC_MIN_BUCKETS;
	s->procs = calloc(s->nbuckets, sizeof(*s->procs));
	if (!s->files || !s->procs)
		goto err;
	return s;
err:
	symbolizer__free(s);
	errno = ENOMEM;
	return NULL;
}

struct symbolizer *symbolizer__new(void)
{
	return symbolizer__new_opts(NULL);
}

/* --- per-process records ------------------------------------------------ */

static size_t proc_bucket(const struct symbolizer *s, pid_t pid)
{
	return ((uint32_t)pid * 2654435761u) & (s->nbuckets - 1);
}

static struct sym_proc *proc_find(const struct symbolizer *s, pid_t pid)
{
	struct sym_proc *p = s->procs[proc_bucket(s, pid)];

	while (p && p->pid != pid)
		p = p->hnext;
	return p;
}

static void proc_free(struct symbolizer *s, struct sym_proc *p)
{
	struct sym_map *m, *next;

	for (m = p->all; m; m = next) {
		next = m->next;
		binary_cache__put(s->files, m->file);
		free(m);
	}
	s->nrecords -= p->nall;
	s->proc_bytes -= p->bytes;
	pidwatch__remove(&s->watch, p->watch);
	perfmap__free(p->pm);
	free(p->cur);
	free(p);
}

static void procs_grow(struct symbolizer *s)
{
	size_t old = s->nbuckets;
	struct sym_proc **b, **ob = s->procs;

	b = calloc(old * 2, sizeof(*b));
	if (!b)
		return; /* longer chains, still correct */
	s->procs = b;
	s->nbuckets = old * 2;
	for (size_t i = 0; i < old; i++) {
		while (ob[i]) {
			struct sym_proc *p = ob[i];
			size_t h = proc_bucket(s, p->pid);

			ob[i] = p->hnext;
			p->hnext = b[h];
			b[h] = p;
		}
	}
	free(ob);
}

static bool is_vdso(const struct procmaps_entry *e)
{
	return (e->flags & SYM_MAP_SPECIAL) && !strcmp(e->path, SYM_VDSO_NAME);
}

static const struct elf_image *vdso_image(struct symbolizer *s)
{
	if (!s->vdso_tried) {
		s->vdso_tried = true;
		if (vdso__open_self(&s->vdso, &s->vdso_size))
			s->vdso = NULL;
	}
	return s->vdso;
}

/* Give m its symbols: the cached file, or our vDSO when the process's
 * [vdso] has our size (a 32-bit process has another vDSO image). */
static void map_attach(struct symbolizer *s, pid_t pid, struct sym_map *m,
		       const struct procmaps_entry *e)
{
	const struct elf_image *img = NULL;
	int err;

	m->attached = true;
	if (is_vdso(e)) {
		img = vdso_image(s);
		if (img && s->vdso_size != e->end - e->start)
			img = NULL;
	} else if (!(e->flags & SYM_MAP_SPECIAL)) {
		err = binary_cache__get(s->files, pid, e, &m->file);
		if (err) {
			m->file = NULL;
			m->open_err = err;
			return;
		}
		m->open_err = 0;
		img = m->file->data ? ((struct debuginfo *)m->file->data)->img : NULL;
	}
	if (!img)
		return;
	m->img = img;
	m->pub.build_id = img->build_id;
	if (img->nsyms)
		m->pub.flags |= SYM_MAP_HAS_SYMS;
}

/* A record for e; its file is opened now when eager, else on the first
 * lookup in it, so that only the binaries samples touch are read. */
static struct sym_map *map_new(struct symbolizer *s, struct sym_proc *p,
			       const struct procmaps_entry *e, bool eager)
{
	size_t plen = strlen(e->path);
	struct sym_map *m;

	m = calloc(1, sizeof(*m) + plen + 1);
	if (!m)
		return NULL;
	memcpy(m->path, e->path, plen + 1);
	m->pub = (struct sym_mapping){
		.start = e->start,
		.limit = e->end,
		.offset = e->offset,
		.path = m->path,
		.build_id = "",
		.flags = e->flags & (SYM_MAP_SPECIAL | SYM_MAP_DELETED),
	};
	m->dev = procmaps_entry__dev(e);
	m->ino = e->inode;
	if (eager)
		map_attach(s, p->pid, m, e);
	m->next = p->all;
	p->all = m;
	p->nall++;
	s->nrecords++;
	p->bytes += sizeof(*m) + plen + 1;
	s->proc_bytes += sizeof(*m) + plen + 1;
	return m;
}

static struct procmaps_entry map_entry(const struct sym_map *m);

/* Open m's file on the first lookup in it (or again after the budget
 * dropped it). */
static void map_attach_lazy(struct symbolizer *s, struct sym_proc *p, struct sym_map *m)
{
	struct procmaps_entry e;

	if (m->attached)
		return;
	e = map_entry(m);
	map_attach(s, p->pid, m, &e);
}

/* Let m's file go (the budget): the next lookup in m opens it again. */
static void map_detach(struct symbolizer *s, struct sym_map *m)
{
	binary_cache__put(s->files, m->file);
	m->file = NULL;
	m->img = NULL;
	m->open_err = 0;
	m->attached = false;
	m->pub.build_id = "";
	m->pub.flags &= ~(unsigned)SYM_MAP_HAS_SYMS;
}

static struct sym_map *proc_lookup(const struct sym_proc *p, uint64_t addr)
{
	size_t lo = 0, hi = p->ncur;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (p->cur[mid]->pub.start <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo && addr < p->cur[lo - 1]->pub.limit)
		return p->cur[lo - 1];
	return NULL;
}

static bool map_same(const struct sym_map *m, const struct procmaps_entry *e)
{
	return m->pub.start == e->start && m->pub.limit == e->end &&
	       m->pub.offset == e->offset && m->dev == procmaps_entry__dev(e) &&
	       m->ino == e->inode &&
	       (m->pub.flags & (SYM_MAP_SPECIAL | SYM_MAP_DELETED)) ==
		       (e->flags & (SYM_MAP_SPECIAL | SYM_MAP_DELETED)) &&
	       !strcmp(m->path, e->path);
}

struct load_ctx {
	struct symbolizer *s;
	struct sym_proc *p;
	bool eager;
	struct sym_map **cur;
	size_t n, cap;
};

static int load_one(const struct procmaps_entry *e, void *arg)
{
	struct load_ctx *c = arg;
	struct sym_proc *p = c->p;
	struct sym_map *m, **ncur;

	/* Unchanged mappings keep their record (and their pointers). */
	m = proc_lookup(p, e->start);
	if (m && !map_same(m, e))
		m = NULL;
	if (m && m->attached && !m->file && m->open_err)
		map_attach(c->s, p->pid, m, e); /* retry a failed open */
	if (!m) {
		if (p->nall >= c->s->opts.max_maps_per_pid) {
			c->s->dropped++;
			return 0;
		}
		m = map_new(c->s, p, e, c->eager);
		if (!m)
			return -ENOMEM;
	}
	if (c->n == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 64;

		ncur = realloc(c->cur, cap * sizeof(*ncur));
		if (!ncur)
			return -ENOMEM;
		c->cur = ncur;
		c->cap = cap;
	}
	c->cur[c->n++] = m;
	return 0;
}

static int map_cmp(const void *a, const void *b)
{
	const struct sym_map *x = *(const struct sym_map *const *)a;
	const struct sym_map *y = *(const struct sym_map *const *)b;

	return x->pub.start < y->pub.start ? -1 : x->pub.start > y->pub.start;
}

/* (Re)read the maps of p, or take pm (read by someone else just now). On
 * failure the previous maps stay current; a process that exited keeps
 * what was read while it lived. */
static int proc_load(struct symbolizer *s, struct sym_proc *p, bool eager,
		     const struct procmaps *pm)
{
	struct load_ctx c = { .s = s, .p = p, .eager = eager };
	struct procmaps own = {};
	int err = 0;

	p->loaded_ns = now_ns();
	if (!pm || !pm->n) {
		s->maps_reloads++;
		err = procmaps__load(p->pid, &own);
		pm = &own;
	}
	if (!err)
		err = procmaps__each(pm, load_one, &c);
	procmaps__release(&own);
	/* Empty maps: a zombie or kernel thread, nothing to replace ours. */
	if (!err && !c.n)
		err = -ESRCH;
	if (err) {
		free(c.cur);
		return err;
	}
	qsort(c.cur, c.n, sizeof(*c.cur), map_cmp);
	for (struct sym_map *m = p->all; m; m = m->next)
		m->current = false;
	for (size_t i = 0; i < c.n; i++)
		c.cur[i]->current = true;
	s->proc_bytes -= p->ncur * sizeof(*p->cur);
	p->bytes -= p->ncur * sizeof(*p->cur);
	free(p->cur);
	p->cur = c.cur;
	p->ncur = c.n;
	p->main_map = NULL;
	s->proc_bytes += p->ncur * sizeof(*p->cur);
	p->bytes += p->ncur * sizeof(*p->cur);
	return 0;
}

/* Start time in clock ticks after boot, 0 when unreadable. */
static uint64_t proc_starttime(pid_t pid)
{
	unsigned long long v;

	return procstat__starttime(pid, &v) ? 0 : v;
}

static void proc_unlink(struct symbolizer *s, struct sym_proc *p)
{
	struct sym_proc **pp = &s->procs[proc_bucket(s, p->pid)];

	while (*pp != p)
		pp = &(*pp)->hnext;
	*pp = p->hnext;
	s->nprocs--;
}

static int proc_add(struct symbolizer *s, pid_t pid, struct sym_proc **out, bool eager,
		    const struct procmaps *pm)
{
	struct sym_proc *p;
	size_t h;
	int err;

	if (s->nprocs >= s->opts.max_pids)
		return -ENOSPC;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->pid = pid;
	/* The pidfd first: if the process it names is gone by the read of
	 * its start time, the first prune sees it readable and checks. */
	p->watch = pidwatch__add(&s->watch, pid, p);
	p->starttime = proc_starttime(pid);
	p->bytes = sizeof(*p);
	s->proc_bytes += p->bytes;
	if (s->nprocs >= s->nbuckets)
		procs_grow(s);
	h = proc_bucket(s, pid);
	p->hnext = s->procs[h];
	s->procs[h] = p;
	s->nprocs++;
	err = proc_load(s, p, eager, pm);
	if (err) {
		proc_unlink(s, p);
		proc_free(s, p);
		return err;
	}
	*out = p;
	return 0;
}

int symbolizer__add_pid(struct symbolizer *s, pid_t pid)
{
	struct sym_proc *p;

	if (!s || pid <= 0)
		return -EINVAL;
	p = proc_find(s, pid);
	if (p)
		return proc_load(s, p, true, NULL);
	return proc_add(s, pid, &p, true, NULL);
}

/* The gone-table slot of pid, or the empty slot where it would go. */
static struct sym_gone *gone_slot(struct symbolizer *s, pid_t pid)
{
	size_t i = ((uint32_t)pid * 2654435761u) & (SYM_GONE_SLOTS - 1);

	while (s->gone[i].pid && s->gone[i].pid != pid)
		i = (i + 1) & (SYM_GONE_SLOTS - 1);
	return &s->gone[i];
}

static void gone_clear(struct symbolizer *s)
{
	memset(s->gone, 0, sizeof(s->gone));
	s->ngone = 0;
}

/* Whether pid was found gone less than SYM_GONE_RETRY_NS ago. */
static bool gone_recently(struct symbolizer *s, pid_t pid, uint64_t now)
{
	const struct sym_gone *g = s->ngone ? gone_slot(s, pid) : NULL;

	return g && g->pid && g->ns && now - g->ns < SYM_GONE_RETRY_NS;
}

static void gone_note(struct symbolizer *s, pid_t pid, uint64_t now)
{
	struct sym_gone *g;

	if (s->ngone >= SYM_GONE_SLOTS / 2)
		gone_clear(s);
	g = gone_slot(s, pid);
	if (!g->pid)
		s->ngone++;
	*g = (struct sym_gone){ .pid = pid, .ns = now ? now : 1 };
}

/* A new process has pid: it is not gone. */
static void gone_forget(struct symbolizer *s, pid_t pid)
{
	struct sym_gone *g = s->ngone ? gone_slot(s, pid) : NULL;

	if (g && g->pid)
		g->ns = 0;
}

/* A pid met at a lookup that is not held: read it, unless it was found
 * gone less than SYM_GONE_RETRY_NS ago (its samples outlived it; its
 * frames stay <unknown>). */
static int proc_lookup_gone(struct symbolizer *s, pid_t pid, struct sym_proc **out)
{
	uint64_t now = now_ns();
	int err;

	if (gone_recently(s, pid, now))
		return -ESRCH;
	err = proc_add(s, pid, out, false, NULL);
	if (err == -ESRCH)
		gone_note(s, pid, now);
	return err;
}

int symbolizer__note_pid(struct symbolizer *s, pid_t pid)
{
	return symbolizer__note_pid_maps(s, pid, NULL);
}

int symbolizer__note_pid_maps(struct symbolizer *s, pid_t pid, const struct procmaps *pm)
{
	uint64_t now = procstat__boot_ticks(), hz = procstat__hz();
	struct sym_proc *p;
	int err;

	if (!s || pid <= 0)
		return -EINVAL;
	if (proc_find(s, pid))
		return 0;
	gone_forget(s, pid);
	err = proc_add(s, pid, &p, false, pm);
	if (err)
		return err;
	/* Its files opened now only if it may be short-lived: it started
	 * after us, a few seconds ago (a build step, a script). The host's
	 * processes met at start-up, or older ones, open the files their
	 * samples touch only, as any lookup does: a process's files can
	 * only be opened while it lives (map_files, its root). */
	if (p->starttime >= s->created_ticks && p->starttime + NOTE_YOUNG_S * hz >= now)
		for (size_t i = 0; i < p->ncur; i++)
			map_attach_lazy(s, p, p->cur[i]);
	return 0;
}

void symbolizer__forget_pid(struct symbolizer *s, pid_t pid)
{
	struct sym_proc *p;

	if (!s)
		return;
	p = proc_find(s, pid);
	if (!p)
		return;
	proc_unlink(s, p);
	proc_free(s, p);
}

/* Free the records no longer in p's current maps. */
static void proc_release_replaced(struct symbolizer *s, struct sym_proc *p)
{
	struct sym_map **pp = &p->all, *m;

	while ((m = *pp)) {
		if (m->current) {
			pp = &m->next;
			continue;
		}
		*pp = m->next;
		p->nall--;
		s->nrecords--;
		p->bytes -= sizeof(*m) + strlen(m->path) + 1;
		s->proc_bytes -= sizeof(*m) + strlen(m->path) + 1;
		binary_cache__put(s->files, m->file);
		free(m);
	}
}

static size_t cache_bytes(const struct symbolizer *s);

/* Forget the cached results and the names they point at. */
static void names_drop(struct symbolizer *s)
{
	fc_clear(&s->fc);
	strpool__reset(&s->names);
}

static size_t names_max(const struct symbolizer *s)
{
	return s->opts.max_cache_bytes ? s->opts.max_cache_bytes / SYM_NAMES_BUDGET_SHARE :
					 SYM_DEFAULT_MAX_NAME_BYTES;
}

/* Drop every binary no mapping uses (file images, then debug infos, their
 * DWARF with them). */
static void drop_unused(struct symbolizer *s)
{
	while (binary_cache__evict(s->files, NULL))
		;
	dbgcache__trim(s->dbg, SIZE_MAX);
}

/* Bring the cache within max_cache_bytes: first what no process maps,
 * then open DWARF, least recently looked up first, but never the one
 * looked up last, then, least recently looked up first, the binaries
 * processes still map (their records forget the file and open it again
 * on their next lookup), each with its DWARF. Only what the budget needs
 * goes: closing every DWARF beyond a quarter of the budget, as before,
 * closed libc's (14 MiB of inflated sections, looked up in every
 * interval) at each prune over the budget, to be opened and indexed again
 * in the next interval (tens of ms). Between prunes the open DWARF stays
 * bounded by half the budget (max_debug_bytes). */
static void budget_trim(struct symbolizer *s)
{
	size_t max = s->opts.max_cache_bytes;

	if (!max || cache_bytes(s) <= max)
		return;
	drop_unused(s);
	while (cache_bytes(s) > max && dbgcache__close_lru(s->dbg))
		;
	while (cache_bytes(s) > max) {
		const struct debuginfo *victim = NULL;

		for (size_t i = 0; i < s->nbuckets; i++)
			for (struct sym_proc *p = s->procs[i]; p; p = p->hnext)
				for (struct sym_map *m = p->all; m; m = m->next) {
					const struct debuginfo *di = m->file ? m->file->data : NULL;

					if (di && (!victim || di->last_used < victim->last_used))
						victim = di;
				}
		if (!victim)
			break;
		for (size_t i = 0; i < s->nbuckets; i++)
			for (struct sym_proc *p = s->procs[i]; p; p = p->hnext)
				for (struct sym_map *m = p->all; m; m = m->next)
					if (m->file && m->file->data == victim)
						map_detach(s, m);
		s->cache_evictions++;
		drop_unused(s);
	}
}

/* A process whose pidfd says it exited: checked as those without one
 * are (a zombie's start time still reads). */
static void mark_exited(void *ctx, void *owner)
{
	struct sym_proc *p = owner;

	(void)ctx;
	p->exited = true;
}

size_t symbolizer__prune(struct symbolizer *s)
{
	size_t forgotten = 0, before;
	bool polled;

	if (!s)
		return 0;
	before = cache_bytes(s);
	gone_clear(s);
	/* False when the poll failed: check every one. */
	polled = pidwatch__poll(&s->watch, mark_exited, NULL) >= 0;
	for (size_t i = 0; i < s->nbuckets; i++) {
		struct sym_proc **pp = &s->procs[i], *p;

		while ((p = *pp)) {
			uint64_t st;

			/* A pidfd not readable: the same process, alive. */
			if (polled && p->watch >= 0 && !p->exited) {
				proc_release_replaced(s, p);
				pp = &p->hnext;
				continue;
			}
			st = proc_starttime(p->pid);
			if (!st || st != p->starttime) {
				*pp = p->hnext;
				s->nprocs--;
				proc_free(s, p);
				forgotten++;
				continue;
			}
			p->exited = false; /* a zombie: told again next time */
			proc_release_replaced(s, p);
			pp = &p->hnext;
		}
	}
	budget_trim(s);
	if (s->names.bytes > names_max(s))
		names_drop(s);
	/* What the cache freed (files of exited processes, evictions, the
	 * interval's names) is spread over the heap: give its free pages
	 * back, so that the process's RSS follows the cache, not its peak. */
	if (before > cache_bytes(s) + SYM_TRIM_MIN_BYTES)
		malloc_trim(0);
	return forgotten;
}

static void frame_set(struct sym_frame *out, const char *name, const char *system_name)
{
	out->nlines = 1;
	out->lines[0] = (struct sym_line){ .name = name, .system_name = system_name };
}

/* --- cached results -------------------------------------------------------- */

static void gen_clear(struct fc_gen *g)
{
	if (g->slots)
		memset(g->slots, 0, g->cap * sizeof(*g->slots));
	g->used = 0;
	g->nlines = 0;
}

static void gen_free(struct fc_gen *g)
{
	free(g->slots);
	free(g->lines);
	memset(g, 0, sizeof(*g));
}

static int gen_alloc(struct fc_gen *g, size_t cap)
{
	struct fc_slot *slots = calloc(cap, sizeof(*slots));
	struct sym_line *lines = calloc(cap * SYM_FC_LINES_PER_SLOT, sizeof(*lines));

	if (!slots || !lines) {
		free(slots);
		free(lines);
		return -ENOMEM;
	}
	gen_free(g);
	g->slots = slots;
	g->lines = lines;
	g->cap = cap;
	g->lines_cap = cap * SYM_FC_LINES_PER_SLOT;
	return 0;
}

static size_t gen_bytes(const struct fc_gen *g)
{
	return g->cap * sizeof(*g->slots) + g->lines_cap * sizeof(*g->lines);
}

static void fc_clear(struct frame_cache *fc)
{
	gen_clear(&fc->gen[0]);
	gen_clear(&fc->gen[1]);
}

static void fc_free(struct frame_cache *fc)
{
	gen_free(&fc->gen[0]);
	gen_free(&fc->gen[1]);
}

static const struct fc_slot *gen_find(const struct fc_gen *g, uint64_t id, uint64_t vaddr)
{
	size_t h;

	if (!g->cap)
		return NULL;
	h = hash_combine(id, vaddr) & (g->cap - 1);
	for (size_t k = 0; k < SYM_FC_PROBES; k++) {
		const struct fc_slot *sl = &g->slots[(h + k) & (g->cap - 1)];

		if (!sl->id)
			return NULL;
		if (sl->id == id && sl->vaddr == vaddr)
			return sl;
	}
	return NULL;
}

static void fc_put(struct symbolizer *s, uint64_t id, uint64_t vaddr, const struct sym_frame *out);

static bool fc_find(struct symbolizer *s, uint64_t id, uint64_t vaddr, struct sym_frame *out)
{
	struct frame_cache *fc = &s->fc;
	const struct fc_slot *sl;
	int g;

	for (g = 0; g < 2; g++) {
		sl = gen_find(&fc->gen[g], id, vaddr);
		if (sl)
			break;
	}
	if (!sl) {
		fc->misses++;
		return false;
	}
	out->nlines = sl->nlines;
	out->flags = sl->flags;
	memcpy(out->lines, &fc->gen[g].lines[sl->line], sl->nlines * sizeof(out->lines[0]));
	fc->hits++;
	if (g == 1)
		fc_put(s, id, vaddr, out); /* still in use: into the young generation */
	return true;
}

/* Remember out for (id, vaddr). Names live in the pool regardless, so
 * dropping a generation invalidates nothing handed out. */
static void fc_put(struct symbolizer *s, uint64_t id, uint64_t vaddr, const struct sym_frame *out)
{
	struct frame_cache *fc = &s->fc;
	size_t max = s->opts.max_cached_frames / 2, h;
	struct fc_gen *g = &fc->gen[0];
	struct fc_slot *sl = NULL;

	if (max < SYM_FC_MIN_SLOTS)
		max = SYM_FC_MIN_SLOTS;
	if (!s->opts.max_cached_frames)
		return;
	/* Start small and double up to the limit. A full young generation
	 * becomes the old one (still answering, its hits copied back), the
	 * old one's room is reused or replaced by a larger one: growing
	 * used to start over, and the results of every frame sampled were
	 * lost at each doubling. */
	if (!g->cap || g->used >= g->cap / 4 * 3 || g->nlines + out->nlines > g->lines_cap) {
		size_t cap = !g->cap ? SYM_FC_MIN_SLOTS : g->cap < max ? g->cap * 2 : g->cap;
		struct fc_gen old = fc->gen[1];

		fc->gen[1] = *g;
		*g = old;
		if (g->cap != cap && gen_alloc(g, cap) && !g->cap)
			return;
		gen_clear(g);
	}
	h = hash_combine(id, vaddr) & (g->cap - 1);
	for (size_t k = 0; k < SYM_FC_PROBES && !sl; k++)
		if (!g->slots[(h + k) & (g->cap - 1)].id)
			sl = &g->slots[(h + k) & (g->cap - 1)];
	if (!sl) {
		sl = &g->slots[h]; /* its old lines stay unused until a clear */
		g->used--;
	}
	*sl = (struct fc_slot){ .id = id, .vaddr = vaddr, .line = (uint32_t)g->nlines,
				.nlines = (uint16_t)out->nlines, .flags = (uint16_t)out->flags };
	memcpy(&g->lines[g->nlines], out->lines, out->nlines * sizeof(out->lines[0]));
	g->nlines += out->nlines;
	g->used++;
}

/* --- names ------------------------------------------------------------------ */

static const char *pool(struct symbolizer *s, const char *str, int *err)
{
	const char *r = strpool__intern(&s->names, str);

	if (str && !r)
		*err = -ENOMEM;
	return r;
}

/* name and system_name of a mangled (or plain) symbol, both pooled; the
 * demangled form is derived once per distinct name until the next prune. */
static int set_names(struct symbolizer *s, const char *sys, struct sym_line *l)
{
	const char *psys, *name;
	uint32_t idx, didx;
	char *d;

	psys = strpool__intern_idx(&s->names, sys, &idx);
	if (!psys)
		return -ENOMEM;
	name = *strpool__aux(&s->names, idx);
	if (!name) {
		d = sym_demangle(psys, s->opts.demangle);
		name = d ? strpool__intern_idx(&s->names, d, &didx) : psys;
		free(d);
		if (!name)
			return -ENOMEM;
		*strpool__aux(&s->names, idx) = name;
	}
	l->system_name = psys;
	l->name = name;
	return 0;
}

static struct procmaps_entry map_entry(const struct sym_map *m)
{
	return (struct procmaps_entry){
		.start = m->pub.start,
		.end = m->pub.limit,
		.offset = m->pub.offset,
		.inode = m->ino,
		.dev_major = (uint32_t)(m->dev >> 32),
		.dev_minor = (uint32_t)m->dev,
		.perms = "r-xp",
		.flags = m->pub.flags & (SYM_MAP_SPECIAL | SYM_MAP_DELETED),
		.path = m->path,
	};
}

/* dir/file for a relative file, cleaned lexically ("./", "x/../") the way
 * Go's filepath.Clean does, so that pprof -source_path finds it; file
 * itself when absolute or when the result does not fit. */
static const char *source_path(const char *dir, const char *file, char *buf, size_t len)
{
	char *seg[512];
	size_t nseg = 0, o = 0, up = 0;
	char tmp[PATH_MAX];
	char *save = NULL, *t;
	bool abs;

	if (!file || file[0] == '/' || !dir || !dir[0])
		return file;
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s/%s", dir, file) >= sizeof(tmp))
		return file;
	abs = tmp[0] == '/';
	for (t = strtok_r(tmp, "/", &save); t && nseg < sizeof(seg) / sizeof(seg[0]);
	     t = strtok_r(NULL, "/", &save)) {
		if (!strcmp(t, "."))
			continue;
		if (!strcmp(t, "..")) {
			if (nseg > up) {
				nseg--;
				continue;
			}
			if (abs)
				continue; /* "/.." is "/" */
			up++;
		}
		seg[nseg++] = t;
	}
	if (abs)
		buf[o++] = '/';
	for (size_t i = 0; i < nseg; i++) {
		size_t l = strlen(seg[i]);

		if (o + l + 2 > len)
			return file;
		memcpy(buf + o, seg[i], l);
		o += l;
		if (i + 1 < nseg)
			buf[o++] = '/';
	}
	buf[o] = '\0';
	return o ? buf : file;
}

/* When the symbol covering vaddr is a mangled name for the function DWARF
 * calls name ("(anonymous namespace)::hidden" for "hidden"), name l after
 * it and return 1; 0 if it is not; -ENOMEM. */
static int cxx_symbol(struct symbolizer *s, const struct elf_image *img, uint64_t vaddr,
		      const char *name, struct sym_line *l)
{
	const struct elf_sym *sym = elf_image__find(img, vaddr);
	size_t nl = strlen(name);
	struct sym_line t;
	const char *p;
	bool same = false;
	int err;

	if (!sym || strncmp(elf_image__name(img, sym), "_Z", 2))
		return 0;
	err = set_names(s, elf_image__name(img, sym), &t);
	if (err)
		return err;
	/* name as the last component, before any parameters or template
	 * arguments (the full style keeps them) */
	for (p = strstr(t.name, name); p && !same; p = strstr(p + 1, name))
		same = (p == t.name || (p - t.name >= 2 && p[-1] == ':' && p[-2] == ':')) &&
		       (!p[nl] || p[nl] == '(' || p[nl] == '<' || p[nl] == ' ');
	if (!same)
		return 0;
	l->name = t.name;
	l->system_name = t.system_name;
	return 1;
}

/* Lines for vaddr (DWARF, or Go's table) into out; 0 lines leaves out
 * alone. */
static int resolve_dwarf(struct symbolizer *s, pid_t pid, struct sym_map *m,
			 struct debuginfo *di, uint64_t vaddr, struct sym_frame *out)
{
	struct dwarf_line dl[SYM_MAX_INLINE];
	struct procmaps_entry e = map_entry(m);
	char path[PATH_MAX];
	const struct elf_sym *sym;
	bool inlines, was_open = di->dw || di->go;
	uint64_t t0 = was_open ? 0 : now_ns();
	int n, err = 0;

	n = dbgcache__lines(s->dbg, di, pid, &e, vaddr, dl, SYM_MAX_INLINE, &inlines);
	if (!was_open && (di->dw || di->go))
		log_debug("lines of %s opened (%s) in %.1f ms", m->path,
			  di->debug_path ? di->debug_path : "in the file", (now_ns() - t0) / 1e6);
	if (n <= 0)
		return 0;
	for (int i = 0; i < n && !err; i++) {
		struct sym_line *l = &out->lines[i];
		const char *sys = dl[i].linkage ? dl[i].linkage : dl[i].name;

		*l = (struct sym_line){ .line = dl[i].line };
		if (!sys && i == n - 1) {
			/* assembly: a line table but no subprogram */
			sym = elf_image__find(m->img, vaddr);
			if (!sym)
				return 0;
			err = set_names(s, elf_image__name(m->img, sym), l);
		} else if (!sys) {
			l->name = l->system_name = SYM_UNKNOWN_NAME;
		} else if (dl[i].linkage) {
			err = set_names(s, sys, l);
		} else if (i == n - 1 && (err = cxx_symbol(s, m->img, vaddr, dl[i].name, l))) {
			/* C++ with internal linkage: GCC writes no linkage
			 * name; the symbol table's is the qualified one */
			err = err < 0 ? err : 0;
		} else {
			/* C, Go: the name as the source has it */
			l->name = l->system_name = pool(s, sys, &err);
		}
		l->file = pool(s, source_path(dl[i].comp_dir, dl[i].file, path, sizeof(path)), &err);
		if (dl[i].file && dl[i].decl_file && !strcmp(dl[i].file, dl[i].decl_file))
			l->start_line = dl[i].decl_line;
	}
	if (err)
		return err;
	out->nlines = (size_t)n;
	if (inlines)
		out->flags |= SYM_FRAME_DEBUG_INFO;
	return 0;
}

/* Name of the function at start (an ELF address) of a file no symbol
 * names: the file's base name and the address, "gzip+0x1a2b0", as nm,
 * objdump and addr2line number the file (for PIE and shared objects, the
 * offset from where it is loaded). */
static int synthetic_name(struct symbolizer *s, const struct sym_map *m, uint64_t start,
			  struct sym_line *l)
{
	const char *base = strrchr(m->path, '/');
	char buf[NAME_MAX + 32];
	int err = 0;

	base = base ? base + 1 : m->path;
	snprintf(buf, sizeof(buf), "%.*s+0x%" PRIx64, NAME_MAX, base, start);
	*l = (struct sym_line){ 0 };
	l->name = l->system_name = pool(s, buf, &err);
	return err;
}

/* One line naming the function at vaddr: the symbol sym covering it,
 * unless the .eh_frame says a function no symbol names holds vaddr (sym
 * NULL, or sym's size was guessed and reaches over that function). */
static int name_function(struct symbolizer *s, pid_t pid, struct sym_map *m,
			 struct debuginfo *di, const struct elf_sym *sym, uint64_t vaddr,
			 struct sym_frame *out)
{
	struct procmaps_entry e;
	uint64_t start;
	int err;

	if (di && (!sym || (sym->flags & ELF_SYM_GUESSED_SIZE))) {
		e = map_entry(m);
		if (!dbgcache__func_start(s->dbg, di, pid, &e, vaddr, &start) &&
		    (!sym || start > sym->addr)) {
			err = synthetic_name(s, m, start, &out->lines[0]);
			if (err)
				return err;
			out->nlines = 1;
			return 0;
		}
	}
	if (!sym)
		return 0;
	out->lines[0] = (struct sym_line){ 0 };
	err = set_names(s, elf_image__name(m->img, sym), &out->lines[0]);
	if (err)
		return err;
	out->nlines = 1;
	return 0;
}

static int resolve_file(struct symbolizer *s, pid_t pid, struct sym_map *m,
			uint64_t addr, struct sym_frame *out)
{
	struct debuginfo *di = m->file ? m->file->data : NULL;
	const struct elf_sym *sym;
	uint64_t vaddr;
	int err;

	/* runtime → file offset (maps) → ELF vaddr (PT_LOAD). Right for
	 * PIE, non-PIE and shared objects alike: no load bias guessing. */
	if (elf_image__file_to_vaddr(m->img, addr - m->pub.start + m->pub.offset, &vaddr))
		return 0;
	if (di)
		di->last_used = ++s->clock;
	if (di && fc_find(s, di->id, vaddr, out))
		return 0;
	err = di ? resolve_dwarf(s, pid, m, di, vaddr, out) : 0;
	if (err)
		return err;
	if (!out->nlines) {
		sym = m->img->nsyms ? elf_image__find(m->img, vaddr) : NULL;
		err = name_function(s, pid, m, di, sym, vaddr, out);
		if (err)
			return err;
	}
	if (di)
		fc_put(s, di->id, vaddr, out);
	return 0;
}

/* --- JIT code -------------------------------------------------------------- */

/* Anonymous executable memory (and memfd, as .NET double-maps its code)
 * is where JITs put code; the vDSO family is the kernel's. */
static bool perfmap_applies(const struct sym_map *m)
{
	if (!(m->pub.flags & SYM_MAP_SPECIAL))
		return !strncmp(m->path, "/memfd:", 7);
	return strcmp(m->path, "[vdso]") && strcmp(m->path, "[vsyscall]") &&
	       strcmp(m->path, "[vvar]");
}

static void perfmap_reload(struct symbolizer *s, struct sym_proc *p, uint64_t now)
{
	struct perfmap *pm = NULL;

	p->pm_checked_ns = now;
	if (p->pm_tried && p->pm && !perfmap__changed(p->pid, p->pm))
		return;
	p->pm_tried = true;
	if (perfmap__load(p->pid, s->opts.max_perfmap_bytes, &pm))
		return; /* keep what was read while the process lived */
	s->perfmap_loads++;
	p->bytes += perfmap__bytes(pm) - perfmap__bytes(p->pm);
	s->proc_bytes += perfmap__bytes(pm) - perfmap__bytes(p->pm);
	perfmap__free(p->pm);
	p->pm = pm;
}

static int resolve_jit(struct symbolizer *s, struct sym_proc *p, uint64_t addr,
		       struct sym_frame *out)
{
	const struct perfmap_sym *sym;
	uint64_t now = now_ns();
	const char *name;
	int err = 0;

	if (!p->pm_tried)
		perfmap_reload(s, p, now);
	sym = perfmap__find(p->pm, addr);
	/* code newer than the map read: the JIT appended lines since */
	if (!sym && now - p->pm_checked_ns >= (uint64_t)s->opts.maps_reload_ms * 1000000ULL) {
		perfmap_reload(s, p, now);
		sym = perfmap__find(p->pm, addr);
	}
	if (!sym)
		return 0;
	/* pooled: the table is replaced when the file grows */
	name = pool(s, perfmap__name(p->pm, sym), &err);
	if (err)
		return err;
	frame_set(out, name, name);
	out->flags |= SYM_FRAME_JIT;
	return 0;
}

/* A lookup in m's file while deferring: when the file has lines to read
 * (DWARF, a Go table), answer with m's pin and no lines (1); the pin holds
 * the file and those it reads later open. 0: look it up now (nothing
 * costly to read, or its files cannot be held); -ENOMEM. */
static int defer_file(struct symbolizer *s, struct sym_proc *p, struct sym_map *m,
		      struct sym_frame *out)
{
	struct debuginfo *di = m->file ? m->file->data : NULL;
	struct procmaps_entry e;
	size_t plen;
	struct sym_map *pin, **np;

	if (!di || di->src == DBG_SRC_NONE || di->dw_err || m->unpinned)
		return 0;
	if (!m->pin) {
		e = map_entry(m);
		if (dbgcache__hold(s->dbg, di, p->pid, &e)) {
			m->unpinned = true;
			return 0;
		}
		if (s->npins == s->pins_cap) {
			size_t cap = s->pins_cap ? s->pins_cap * 2 : 64;

			np = realloc(s->pins, cap * sizeof(*np));
			if (!np)
				return -ENOMEM;
			s->pins = np;
			s->pins_cap = cap;
		}
		plen = strlen(m->path);
		pin = malloc(sizeof(*pin) + plen + 1);
		if (!pin)
			return -ENOMEM;
		memcpy(pin, m, sizeof(*pin) + plen + 1);
		pin->pub.path = pin->path;
		pin->next = NULL;
		pin->pin = NULL;
		pin->is_pin = true;
		pin->pin_pid = p->pid;
		binary_image__ref(s->files, pin->file);
		s->pins[s->npins++] = pin;
		s->pin_bytes += sizeof(*pin) + plen + 1 + sizeof(*np);
		m->pin = pin;
	}
	out->map = &m->pin->pub;
	out->flags = SYM_FRAME_DEFERRED;
	return 1;
}

int symbolizer__user(struct symbolizer *s, pid_t pid, uint64_t addr, struct sym_frame *out)
{
	struct sym_proc *p;
	struct sym_map *m;
	int err;

	if (!s || !out || pid <= 0)
		return -EINVAL;
	out->map = NULL;
	out->flags = 0;
	out->nlines = 0;
	p = proc_find(s, pid);
	if (!p) {
		err = proc_lookup_gone(s, pid, &p);
		if (err)
			return err;
	}
	m = proc_lookup(p, addr);
	/* A miss may be a library dlopen()ed since the last read. */
	if (!m && now_ns() - p->loaded_ns >= (uint64_t)s->opts.maps_reload_ms * 1000000ULL) {
		proc_load(s, p, false, NULL);
		m = proc_lookup(p, addr);
	}
	if (!m)
		return 0;
	map_attach_lazy(s, p, m);
	out->map = &m->pub;
	if (!m->img)
		return perfmap_applies(m) ? resolve_jit(s, p, addr, out) : 0;
	if (s->user_defer) {
		err = defer_file(s, p, m, out);
		if (err)
			return err < 0 ? err : 0;
	}
	return resolve_file(s, p->pid, m, addr, out);
}

void symbolizer__user_defer(struct symbolizer *s)
{
	if (s)
		s->user_defer = true;
}

static int pin_cmp(const void *a, const void *b)
{
	const struct sym_map *x = *(const struct sym_map *const *)a;
	const struct sym_map *y = *(const struct sym_map *const *)b;
	uint64_t ix = ((const struct debuginfo *)x->file->data)->id;
	uint64_t iy = ((const struct debuginfo *)y->file->data)->id;

	return ix < iy ? -1 : ix > iy;
}

size_t symbolizer__user_undefer(struct symbolizer *s)
{
	if (!s)
		return 0;
	s->user_defer = false;
	/* binary by binary: each one's DWARF is read in one go */
	if (s->npins > 1)
		qsort(s->pins, s->npins, sizeof(*s->pins), pin_cmp);
	return s->npins;
}

const struct sym_mapping *symbolizer__user_deferred(const struct symbolizer *s, size_t i)
{
	return s && i < s->npins ? &s->pins[i]->pub : NULL;
}

int symbolizer__user_late(struct symbolizer *s, const struct sym_mapping *map, uint64_t addr,
			  struct sym_frame *out)
{
	struct sym_map *m = (struct sym_map *)map;

	/* every pin's mapping is the pub member (the first) of a sym_map */
	if (!s || !map || !out || (map->flags & SYM_MAP_KERNEL) || !m->is_pin)
		return -EINVAL;
	*out = (struct sym_frame){ .map = map };
	return resolve_file(s, m->pin_pid, m, addr, out);
}

static void pins_free(struct symbolizer *s)
{
	for (size_t i = 0; i < s->npins; i++) {
		binary_cache__put(s->files, s->pins[i]->file);
		free(s->pins[i]);
	}
	free(s->pins);
	s->pins = NULL;
	s->npins = s->pins_cap = 0;
	s->pin_bytes = 0;
}

/* --- kernel --------------------------------------------------------------- */

/* The kernel's mapping before kallsyms is read: its name and build ID. */
static void kernel_map_init(struct symbolizer *s)
{
	if (s->kmap.path)
		return;
	s->kmap = (struct sym_mapping){
		.path = SYM_KERNEL_MAP_NAME,
		.build_id = s->kbuild_id,
		.flags = SYM_MAP_KERNEL,
	};
	if (kernel_notes__build_id(SYM_KERNEL_NOTES_PATH, s->kbuild_id, sizeof(s->kbuild_id)))
		s->kbuild_id[0] = '\0';
}

static void kernel_load(struct symbolizer *s)
{
	uint64_t t0;

	s->kernel_tried = true;
	s->kmap.path = NULL;
	kernel_map_init(s);
	t0 = now_ns();
	s->kernel_err = kallsyms__load(s->kallsyms_path, &s->ksyms);
	if (s->kernel_err) {
		s->ksyms = NULL;
		return;
	}
	log_debug("kallsyms read: %zu kernel symbols in %.1f ms", s->ksyms->nsyms,
		  (now_ns() - t0) / 1e6);
	s->kmap.start = s->ksyms->lo;
	s->kmap.limit = s->ksyms->hi;
	s->kmap.flags |= SYM_MAP_HAS_SYMS;
}

int symbolizer__kernel(struct symbolizer *s, uint64_t addr, struct sym_frame *out)
{
	const struct ksym *ks;

	if (!s || !out)
		return -EINVAL;
	if (!s->kernel_tried && s->kernel_defer) {
		kernel_map_init(s);
		s->kernel_deferred++;
		*out = (struct sym_frame){ .map = &s->kmap };
		return 0;
	}
	if (!s->kernel_tried)
		kernel_load(s);
	out->map = &s->kmap;
	out->flags = 0;
	out->nlines = 0;
	if (!s->ksyms)
		return s->kernel_err;
	ks = kallsyms__find(s->ksyms, addr);
	if (ks)
		frame_set(out, s->ksyms->names + ks->name, s->ksyms->names + ks->sys_name);
	return 0;
}

void symbolizer__kernel_defer(struct symbolizer *s)
{
	if (s && !s->kernel_tried) {
		s->kernel_defer = true;
		s->kernel_deferred = 0;
	}
}

bool symbolizer__kernel_undefer(struct symbolizer *s, struct sym_mapping *as_deferred)
{
	bool any;

	if (!s || !s->kernel_defer)
		return false;
	any = s->kernel_deferred > 0;
	if (any)
		*as_deferred = s->kmap;
	s->kernel_defer = false;
	s->kernel_deferred = 0;
	return any;
}

void symbolizer__kernel_reload(struct symbolizer *s)
{
	if (!s)
		return;
	kallsyms__free(s->ksyms);
	s->ksyms = NULL;
	s->kernel_tried = false;
	s->kernel_err = 0;
}

/* --- lifetime and stats ------------------------------------------------ */

void symbolizer__free(struct symbolizer *s)
{
	if (!s)
		return;
	for (size_t i = 0; s->procs && i < s->nbuckets; i++) {
		while (s->procs[i]) {
			struct sym_proc *p = s->procs[i];

			s->procs[i] = p->hnext;
			proc_free(s, p);
		}
	}
	free(s->procs);
	pidwatch__done(&s->watch);
	pins_free(s);
	binary_cache__free(s->files);
	dbgcache__free(s->dbg);
	strpool__done(&s->names);
	fc_free(&s->fc);
	elf_image__free(s->vdso);
	kallsyms__free(s->ksyms);
	free(s->kallsyms_path);
	free(s->debug_dirs);
	free(s);
}

struct binary_image *symbolizer__mapping_image(const struct sym_mapping *m)
{
	/* every user mapping is the pub member (the first) of a sym_map; the
	 * kernel's pseudo mapping is not */
	if (!m || (m->flags & SYM_MAP_KERNEL))
		return NULL;
	return ((const struct sym_map *)m)->file;
}

void symbolizer__stats(const struct symbolizer *s, struct symbolizer_stats *st)
{
	struct binary_cache_stats fs;
	struct dbgcache_stats ds;
	size_t perfmap_syms = 0;

	memset(st, 0, sizeof(*st));
	if (!s)
		return;
	binary_cache__stats(s->files, &fs);
	dbgcache__stats(s->dbg, &ds);
	for (size_t i = 0; i < s->nbuckets; i++)
		for (const struct sym_proc *p = s->procs[i]; p; p = p->hnext)
			perfmap_syms += p->pm ? p->pm->nsyms : 0;
	st->files = fs.files;
	st->symbols = ds.symbols;
	st->buildid_hits = ds.shared_hits;
	st->debug_infos = ds.infos;
	st->with_dwarf = ds.with_dwarf;
	st->separate_debug = ds.separate;
	st->dwarf_open = ds.dwarf_open;
	st->dwarf_bytes = ds.dwarf_bytes;
	st->dwarf_opens = ds.dwarf_opens;
	st->dwarf_evictions = ds.dwarf_evictions;
	st->frame_cache_hits = s->fc.hits;
	st->frame_cache_misses = s->fc.misses;
	st->perfmap_loads = s->perfmap_loads;
	st->perfmap_symbols = perfmap_syms;
	st->name_bytes = s->names.bytes;
	st->unused_files = fs.unused;
	st->file_parses = fs.parses;
	st->pids = s->nprocs;
	st->maps_reloads = s->maps_reloads;
	st->mappings = s->nrecords;
	st->mappings_dropped = s->dropped;
	st->kernel_symbols = s->ksyms ? s->ksyms->nsyms : 0;
	st->cache_evictions = s->cache_evictions;
	st->bytes = cache_bytes(s);
}

static size_t cache_bytes(const struct symbolizer *s)
{
	struct binary_cache_stats fs;
	struct dbgcache_stats ds;

	binary_cache__stats(s->files, &fs);
	dbgcache__stats(s->dbg, &ds);
	return sizeof(*s) + s->nbuckets * sizeof(*s->procs) + s->proc_bytes + s->pin_bytes +
	       fs.bytes + ds.bytes +
	       s->names.bytes + gen_bytes(&s->fc.gen[0]) + gen_bytes(&s->fc.gen[1]) +
	       elf_image__bytes(s->vdso) + kallsyms__bytes(s->ksyms);
}

const struct sym_mapping *symbolizer__main_mapping(struct symbolizer *s, pid_t pid)
{
	char link[64], exe[PATH_MAX];
	struct sym_proc *p;
	ssize_t n;

	if (!s || pid <= 0)
		return NULL;
	p = proc_find(s, pid);
	if (!p && proc_lookup_gone(s, pid, &p))
		return NULL;
	if (p->main_map) {
		map_attach_lazy(s, p, p->main_map);
		return &p->main_map->pub;
	}
	snprintf(link, sizeof(link), "/proc/%d/exe", (int)pid);
	n = readlink(link, exe, sizeof(exe) - 1);
	if (n <= 0)
		return NULL;
	exe[n] = '\0';
	if (n > 10 && !strcmp(exe + n - 10, " (deleted)"))
		exe[n - 10] = '\0';
	for (size_t i = 0; i < p->ncur; i++)
		if (!strcmp(p->cur[i]->pub.path, exe)) {
			p->main_map = p->cur[i];
			map_attach_lazy(s, p, p->cur[i]); /* its build id */
			return &p->cur[i]->pub;
		}
	return NULL;
}
