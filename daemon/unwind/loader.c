// SPDX-License-Identifier: Apache-2.0
/* unwind loader: tables per file, (pid, address) trie per process, and the
 * lifecycle events of the BPF walker's maps. See loader.h. */
#include <elf.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "binary/elf.h"
#include "binary/file.h"
#include "binary/image.h"
#include "binary/procmap_query.h"
#include "binary/procmaps.h"
#include "python/python.h"
#include "unwind/loader.h"
#include "unwind/unwind.h"
#include "util/fileio.h"
#include "util/hashmap.h"
#include "util/pidwatch.h"
#include "util/procstat.h"

#define DEFAULT_MAX_TABLE_BYTES (64u << 20)
#define DEFAULT_MAX_FILES 4096
#define DEFAULT_MAX_PIDS 4096
#define DEFAULT_MAX_MAP_ENTRIES (1u << 18)
#define DEFAULT_RESCAN_MS 1000
/* Executable mappings of one process we mirror; more is not a process. */
#define MAX_RANGES_PER_PID 4096
/* Pids waiting for a scan after an event, between two polls. */
#define MAX_PENDING 256
/* Files remembered for no process, with or without a table (tables are
 * also evicted, LRU, to stay under max_table_bytes and max_files). */
#define MAX_UNUSED_FILES 8192
/* Exits are checked once a second: one check of the pidfds of every
 * process that has one (util/pidwatch.h), kill(pid, 0) for the others.
 * A pidfd names the process, not the pid: once it is readable the process
 * is dropped, and a later process with its pid is found anew by its
 * samples. Without a pidfd, the start time in /proc/PID/stat tells pid
 * reuse, checked every IDENTITY_INTERVAL_NS with the executable.
 * Exec: the new program's code is mostly at addresses the trie does not
 * hold for the pid (ASLR, another layout), so its first samples come as
 * unknown-mapping events and rescan it (event_handle). What events cannot
 * tell is an exec whose code lands on the old program's ranges (two
 * non-PIE programs at the same base, ASLR off): walks there use the old
 * tables until a backstop compares /proc/PID/exe. With a pidfd that
 * stat() is all a process costs, every EXEC_CHECK_INTERVAL_NS, the pids
 * spread over it (85 processes: 3 stats a second instead of 85 kill()s
 * and 17 stat reads); the window it leaves is only that rare case. */
#define REAP_INTERVAL_NS 1000000000ULL
#define IDENTITY_INTERVAL_NS 5000000000ULL
#define EXEC_CHECK_INTERVAL_NS 30000000000ULL
/* Without PROCMAP_QUERY (before 6.11), a rescan that found nothing new
 * doubles that pid's rescan interval, up to rescan_ms << MAX_BACKOFF_SHIFT. */
#define MAX_BACKOFF_SHIFT 5
/* New pids kept for unwind_loader__take_new: a burst beyond it loses the oldest. */
#define FRESH_MAX 256
/* A new pid's mappings are kept for unwind_loader__take_new up to this
 * many (a few kB: most programs map 10 to 60 executable ranges); the
 * taker of one with more reads them again. */
#define FRESH_MAX_MAPS 512
/* Unknown-mapping ring buffer: 10k events of 24 bytes between two polls. */
#define EVENTS_BYTES (256 * 1024)
/* Kernel overhead of one inner array beyond its rows, when fdinfo says
 * nothing (struct bpf_array and the map's bookkeeping). */
#define INNER_MAP_OVERHEAD 1024
/* Tables built during one scan, inserted into unw_tables together: every
 * update of a map-in-map waits for an RCU grace period (5-25 ms here), a
 * batch update waits once (6.7+; older kernels do not wait at all). */
#define MAX_STAGED 64

/* What the loader made of one file: the data of its binary image (or, for
 * the vDSO, held by the loader itself). */
struct unw_file {
	int err;	     /* 0: table loaded (id != 0); else why not (-errno) */
	/* Not built yet: no sample has fallen in the file (see lazy builds
	 * above proc_scan). err is 0 and id 0 meanwhile. */
	bool deferred;
	uint32_t id;	     /* key in unw_tables */
	uint32_t nrows;
	uint32_t npages;     /* page index entries after the rows */
	uint64_t vaddr_base;
	size_t kbytes;	     /* kernel memory charged */
	struct unwind_load loads[UNWIND_MAX_LOADS];
	size_t nloads;
};

struct unw_range {
	uint64_t start, end;
	uint64_t offset;	  /* file offset of start (maps' pgoff) */
	struct binary_image *img; /* reference; NULL for anonymous code and the vDSO */
	struct unw_file *file;	  /* img's data or the vDSO's; NULL: none */
	/* What the trie holds for the range; kind 0: nothing (the file's table
	 * is deferred), so the walker reports the first sample that lands
	 * there as an unknown mapping and the loader builds it then. */
	struct profd_unw_mapping val;
};

struct unw_proc {
	pid_t pid;
	int watch;		   /* pidwatch slot; -1: no pidfd (kill and start time) */
	bool exited;		   /* its pidfd told, at this reap */
	unsigned long long starttime; /* without a pidfd only */
	uint64_t exe_dev, exe_ino;
	uint64_t last_scan_ns;
	uint64_t next_identity_ns; /* next exe (and, without a pidfd, start time) check */
	unsigned backoff;	   /* rescan interval: rescan_ms << backoff */
	struct unw_range *ranges;
	size_t nranges;
};

/* Lazy builds: a file's table is built when a sample first falls in it,
 * not when a process mapping it is first seen. A process maps dozens of
 * libraries (profd itself 45, most through libcurl) and runs code in a
 * few; their tables were most of the CPU a new process cost. A scan
 * builds the tables it wants (below) and leaves the other files'
 * mappings out of the trie, so the walker reports the first sample that
 * lands in one as an unknown mapping; the loader then builds that file's
 * table (shared by every process that maps it) and inserts the mapping.
 * One walk may so need one event per file its stack crosses: events come
 * every 100 ms per pid and are handled at each poll. */
struct scan_ctx {
	struct unwind_loader *l;
	pid_t pid;
	struct unw_range *ranges;
	size_t n, cap;
	/* What to build now: every file (all: targets, tests), else the file
	 * mapped at want (a sample's address; 0: none), the program's own
	 * file (exe_*) and the C library: every stack of a native program
	 * ends in both (_start, __libc_start_main; start_thread, clone3), so
	 * a walk through them is complete as soon as the process is found. */
	bool all;
	uint64_t want;
	uint64_t exe_dev, exe_ino;
};

/* glibc's libc (and its libpthread before 2.34), musl's libc-and-loader. */
static bool is_libc(const char *path)
{
	const char *base = strrchr(path, '/');

	base = base ? base + 1 : path;
	return !strncmp(base, "libc.so", 7) || !strncmp(base, "libc-2.", 7) ||
	       !strncmp(base, "libpthread.so", 13) || !strncmp(base, "libpthread-2.", 13) ||
	       !strncmp(base, "ld-musl-", 8);
}

static bool scan_wants(const struct scan_ctx *c, const struct procmaps_entry *e)
{
	if (c->all || (c->want >= e->start && c->want < e->end) || is_libc(e->path))
		return true;
	return c->exe_ino && e->inode == c->exe_ino && e->dev_major == major(c->exe_dev) &&
	       e->dev_minor == minor(c->exe_dev);
}

struct unwind_loader {
	struct unwind_loader_opts o;
	int mappings_fd, tables_fd, rules_fd, events_fd, inner_tmpl_fd;
	struct ring_buffer *rb;
	/* One image per distinct file (keyed by device, inode, size, mtime),
	 * kept while a range maps it and then on the cache's LRU, with its
	 * table still loaded, until max_unused or the table budget evicts it. */
	struct binary_cache *files;
	struct unw_file *vdso;
	struct unw_proc **procs;
	size_t nprocs;
	/* global rule interning: rules[i] is rule index i in unw_rules */
	struct profd_unw_rule *rules;
	size_t nrules;
	struct hashmap rule_index;
	struct profd_unw_event pending[MAX_PENDING]; /* pid and address */
	size_t npending;
	int vma_query; /* PROCMAP_QUERY works: 1, does not: -1, unknown: 0 */
	uint32_t next_id;
	uint64_t last_reap_ns;
	struct pidwatch watch; /* exits of the processes tracked */
	/* Built tables not yet in unw_tables (inner map fds we own). */
	struct unw_file *staged[MAX_STAGED];
	__u32 staged_id[MAX_STAGED];
	int staged_fd[MAX_STAGED];
	size_t nstaged;
	bool closing; /* freeing: the maps go with us, no per-entry deletes */
	/* Pids tracked since unwind_loader__take_new (the latest FRESH_MAX),
	 * with the mappings their first scan read. */
	struct unwind_new_proc fresh[FRESH_MAX];
	size_t nfresh;
	/* Inner arrays are BPF_F_MMAPABLE: rows are copied in through a
	 * mapping, not one kernel update per row. */
	bool mmapable;
	/* The scan in progress (image_load builds only what it wants). */
	const struct scan_ctx *scan;
	struct unwind_loader_stats st;
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

/* ---- pure helpers --------------------------------------------------------- */

size_t unwind_lpm_split(uint64_t start, uint64_t end, struct unwind_block *out, size_t cap)
{
	size_t n = 0;

	while (start < end) {
		unsigned k = start ? (unsigned)__builtin_ctzll(start) : 64;

		/* the largest aligned block at start that fits */
		while (k > 0 && (k >= 64 || end - start < (1ULL << k)))
			k--;
		if (n < cap)
			out[n] = (struct unwind_block){ .addr = start, .bits = 64 - k };
		n++;
		if (k == 64 || start + (1ULL << k) < start)
			break;
		start += 1ULL << k;
	}
	return n;
}

int unwind_elf_loads(int fd, const void *image, size_t size, struct unwind_load *loads, size_t *n)
{
	struct elf_load el[UNWIND_MAX_LOADS];
	char *copy = NULL;
	Elf *elf = NULL;
	int err;

	*n = 0;
	err = binary_elf_init();
	if (err)
		return err;
	if (image) {
		/* libelf wants a writable image; never write to the caller's */
		if (size < sizeof(Elf64_Ehdr))
			return -EINVAL;
		copy = malloc(size);
		if (!copy)
			return -ENOMEM;
		memcpy(copy, image, size);
		elf = elf_memory(copy, size);
	} else {
		elf = elf_begin(fd, ELF_C_READ, NULL);
	}
	if (!elf || elf_kind(elf) != ELF_K_ELF || gelf_getclass(elf) != ELFCLASS64 ||
	    elf_read_loads(elf, el, UNWIND_MAX_LOADS, n) || !*n) {
		*n = 0;
		err = -EINVAL;
	}
	for (size_t i = 0; i < *n; i++)
		loads[i] = (struct unwind_load){
			.offset = el[i].offset,
			.vaddr = el[i].vaddr,
			.filesz = el[i].filesz,
			.flags = el[i].flags,
		};
	elf_end(elf);
	free(copy);
	return err;
}

int unwind_bias(const struct unwind_load *loads, size_t n, uint64_t vm_start, uint64_t pgoff,
		uint64_t *bias)
{
	/* The mapping starts at the segment's offset rounded down to a page:
	 * the covering segment has pgoff in [p_offset & ~4095, end). Prefer an
	 * executable one when two share a page. */
	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < n; i++) {
			const struct unwind_load *s = &loads[i];
			uint64_t lo = s->offset & ~4095ULL;

			if (pass == 0 && !(s->flags & PF_X))
				continue;
			if (pgoff < lo || pgoff >= s->offset + (s->filesz ? s->filesz : 1))
				continue;
			*bias = vm_start - pgoff + s->offset - s->vaddr;
			return 0;
		}
	}
	return -ENOENT;
}

/* ---- BPF maps --------------------------------------------------------------- */

static int memlock_of(int fd)
{
	char path[64], line[128];
	long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = fopen(path, "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "memlock: %ld", &v) == 1)
			break;
	fclose(f);
	return v > 0 && v < INT32_MAX ? (int)v : -1;
}

static int create_maps(struct unwind_loader *l)
{
	LIBBPF_OPTS(bpf_map_create_opts, lpm_opts, .map_flags = BPF_F_NO_PREALLOC);
	LIBBPF_OPTS(bpf_map_create_opts, inner_opts, .map_flags = BPF_F_INNER_MAP);
	LIBBPF_OPTS(bpf_map_create_opts, outer_opts);

	l->mappings_fd = bpf_map_create(BPF_MAP_TYPE_LPM_TRIE, "unw_mappings",
					sizeof(struct profd_unw_map_key),
					sizeof(struct profd_unw_mapping), l->o.max_map_entries,
					&lpm_opts);
	if (l->mappings_fd < 0)
		return -errno;
	/* Inner arrays must have the template's flags. Mmapable (5.5+) if the
	 * kernel lets an inner array be. */
	inner_opts.map_flags = BPF_F_INNER_MAP | BPF_F_MMAPABLE;
	l->inner_tmpl_fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, "unw_rows_tmpl", 4,
					  sizeof(struct profd_unw_row), 1, &inner_opts);
	l->mmapable = l->inner_tmpl_fd >= 0;
	if (!l->mmapable) {
		inner_opts.map_flags = BPF_F_INNER_MAP;
		l->inner_tmpl_fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, "unw_rows_tmpl", 4,
						  sizeof(struct profd_unw_row), 1, &inner_opts);
	}
	if (l->inner_tmpl_fd < 0)
		return -errno;
	outer_opts.inner_map_fd = l->inner_tmpl_fd;
	l->tables_fd = bpf_map_create(BPF_MAP_TYPE_HASH_OF_MAPS, "unw_tables", 4, 4,
				      l->o.max_files, &outer_opts);
	if (l->tables_fd < 0)
		return -errno;
	l->rules_fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, "unw_rules", 4,
				     sizeof(struct profd_unw_rule), PROFD_UNW_MAX_RULES, NULL);
	if (l->rules_fd < 0)
		return -errno;
	l->events_fd = bpf_map_create(BPF_MAP_TYPE_RINGBUF, "unw_events", 0, 0, EVENTS_BYTES, NULL);
	if (l->events_fd < 0)
		return -errno;
	return 0;
}

int unwind_loader__reuse_maps(struct unwind_loader *l, struct bpf_object *obj)
{
	static const char *const names[] = { "unw_mappings", "unw_tables", "unw_rules",
					     "unw_events" };
	int fds[] = { l->mappings_fd, l->tables_fd, l->rules_fd, l->events_fd };
	int err;

	for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++) {
		struct bpf_map *m = bpf_object__find_map_by_name(obj, names[i]);

		if (!m)
			return -ENOENT;
		if (fds[i] < 0)
			return -EBADF;
		err = bpf_map__reuse_fd(m, fds[i]);
		if (err)
			return err;
	}
	err = python__reuse_map(obj); /* only objects that walk Python frames have it */
	return err == -ENOENT ? 0 : err;
}

/* ---- rules ------------------------------------------------------------------ */

static bool rule_eq(const void *ctx, uint32_t idx, const void *key)
{
	const struct unwind_loader *l = ctx;

	return !memcmp(&l->rules[idx], key, sizeof(struct profd_unw_rule));
}

/* Global index of r, adding it to unw_rules. -ENOSPC when full. */
static int rule_intern(struct unwind_loader *l, const struct profd_unw_rule *r)
{
	uint64_t h = hash_bytes(r, sizeof(*r), 0);
	uint32_t idx = hashmap__find(&l->rule_index, h, rule_eq, l, r);
	__u32 key;

	if (idx != HASHMAP_NONE)
		return (int)idx;
	if (l->nrules >= PROFD_UNW_MAX_RULES)
		return -ENOSPC;
	if (hashmap__reserve(&l->rule_index, 1))
		return -ENOMEM;
	key = (__u32)l->nrules;
	if (!l->o.dry_run && bpf_map_update_elem(l->rules_fd, &key, r, BPF_ANY))
		return -errno;
	l->rules[l->nrules] = *r;
	hashmap__insert(&l->rule_index, h, key);
	l->nrules++;
	return (int)key;
}

/* ---- files -------------------------------------------------------------------- */

static void file_unload(struct unwind_loader *l, struct unw_file *f)
{
	if (!f->id)
		return;
	for (size_t i = 0; i < l->nstaged; i++)
		if (l->staged[i] == f) {
			close(l->staged_fd[i]);
			l->nstaged--;
			l->staged[i] = l->staged[l->nstaged];
			l->staged_id[i] = l->staged_id[l->nstaged];
			l->staged_fd[i] = l->staged_fd[l->nstaged];
			f->id = 0; /* never inserted */
			break;
		}
	if (f->id && !l->o.dry_run && !l->closing)
		bpf_map_delete_elem(l->tables_fd, &f->id);
	l->st.tables--;
	l->st.table_bytes -= f->kbytes;
	l->st.rows -= f->nrows;
	f->id = 0;
	f->kbytes = 0;
	f->err = -ESTALE;
}

static void file_free(struct unwind_loader *l, struct unw_file *f)
{
	if (f->deferred)
		l->st.deferred--;
	file_unload(l, f);
	free(f);
}

static bool has_table(const void *data)
{
	const struct unw_file *f = data;

	return f && f->id;
}

/* Drop the least recently used file nobody maps that holds a table (its
 * image, table and all); true if one went. */
static bool evict_unused(struct unwind_loader *l)
{
	return binary_cache__evict(l->files, has_table);
}

/* Insert the staged tables into unw_tables: one batch update (one RCU
 * grace period on 6.7+), else one update each. A table the kernel refuses
 * is unloaded (its ranges fall back to frame-pointer steps). */
static void tables_flush(struct unwind_loader *l)
{
	LIBBPF_OPTS(bpf_map_batch_opts, bopts);
	__u32 count = (__u32)l->nstaged;
	size_t done = 0;

	if (!l->nstaged)
		return;
	if (!bpf_map_update_batch(l->tables_fd, l->staged_id, l->staged_fd, &count, &bopts))
		done = l->nstaged;
	else
		l->st.batch_fallbacks++;
	for (size_t i = 0; i < l->nstaged; i++) {
		struct unw_file *f = l->staged[i];

		if (i >= done && bpf_map_update_elem(l->tables_fd, &l->staged_id[i],
						     &l->staged_fd[i], BPF_ANY)) {
			l->st.load_errors++;
			l->st.tables--;
			l->st.table_bytes -= f->kbytes;
			l->st.rows -= f->nrows;
			f->id = 0;
			f->kbytes = 0;
			f->err = -errno;
		}
		close(l->staged_fd[i]);
	}
	l->st.table_flushes++;
	l->nstaged = 0;
}

/* Rows with global rule indexes; -ENOSPC when the rule array is full. */
static int remap_rules(struct unwind_loader *l, const struct unwind_table *t,
		       struct profd_unw_row **out, size_t *nrows)
{
	const struct profd_unw_row *rows = unwind_table__rows(t, nrows);
	const struct profd_unw_rule *rules;
	struct profd_unw_row *copy;
	size_t nrules;
	int *map = NULL, err = 0;

	rules = unwind_table__rules(t, &nrules);
	copy = malloc(*nrows * sizeof(*copy) + 1);
	map = malloc(nrules * sizeof(*map) + 1);
	if (!copy || !map) {
		err = -ENOMEM;
		goto cleanup;
	}
	for (size_t i = 0; i < nrules; i++)
		map[i] = -1;
	for (size_t i = 0; i < *nrows; i++) {
		__u16 r = rows[i].rule;

		copy[i] = rows[i];
		if (PROFD_UNW_IS_CMD(r))
			continue;
		if (r >= nrules) { /* the builder never does this */
			err = -EINVAL;
			goto cleanup;
		}
		if (map[r] < 0) {
			map[r] = rule_intern(l, &rules[r]);
			if (map[r] < 0) {
				err = map[r];
				goto cleanup;
			}
		}
		copy[i].rule = (__u16)map[r];
	}
	*out = copy;
	copy = NULL;
cleanup:
	free(copy);
	free(map);
	return err;
}

/* Fill the inner array fd with rows: through a shared mapping when it is
 * mmapable (one copy; a batch update costs a copy_from_user and an update
 * call per row in the kernel, a third of the first interval's CPU with 100
 * processes), else by batch updates, else one by one. 0 or -errno. */
static int rows_fill(const struct unwind_loader *l, int fd, const struct profd_unw_row *rows,
		     size_t nrows)
{
	LIBBPF_OPTS(bpf_map_batch_opts, bopts);
	__u32 *keys;
	int err = 0;

	if (l->mmapable) {
		long page = sysconf(_SC_PAGESIZE);
		size_t len = (nrows * sizeof(*rows) + (size_t)page - 1) & ~((size_t)page - 1);
		void *m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);

		if (m == MAP_FAILED)
			return -errno;
		memcpy(m, rows, nrows * sizeof(*rows));
		munmap(m, len);
		return 0;
	}
	keys = malloc(nrows * sizeof(*keys));
	if (!keys)
		return -ENOMEM;
	for (size_t i = 0; i < nrows; i++)
		keys[i] = (__u32)i;
	for (size_t done = 0; done < nrows;) {
		__u32 count = (__u32)(nrows - done);

		if (bpf_map_update_batch(fd, keys + done, rows + done, &count, &bopts)) {
			/* Batch ops on arrays are 5.6+; fall back per element. */
			for (size_t i = done; i < nrows && !err; i++)
				if (bpf_map_update_elem(fd, &keys[i], &rows[i], BPF_ANY))
					err = -errno;
			break;
		}
		done += count;
	}
	free(keys);
	return err;
}

/* Put t's rows and their page index into a new inner array under a new
 * file id. */
static int file_upload(struct unwind_loader *l, struct unw_file *f, const struct unwind_table *t)
{
	LIBBPF_OPTS(bpf_map_create_opts, inner_opts, .map_flags = BPF_F_INNER_MAP);
	struct profd_unw_row *rows = NULL, *grown;
	__u32 id, npages;
	size_t nrows, nrows_only, bytes;
	int fd = -1, err, mem;

	err = remap_rules(l, t, &rows, &nrows);
	if (err) {
		if (err == -ENOSPC)
			l->st.refused_rules++;
		goto cleanup;
	}
	if (!nrows) {
		err = -ENODATA;
		goto cleanup;
	}
	npages = profd_unw_pages(rows, (__u32)nrows);
	grown = realloc(rows, (nrows + npages) * sizeof(*rows));
	if (!grown) {
		err = -ENOMEM;
		goto cleanup;
	}
	rows = grown;
	profd_unw_index_build(rows, (__u32)nrows, (struct profd_unw_index *)(rows + nrows));
	nrows_only = nrows;
	nrows += npages;
	bytes = nrows * sizeof(*rows) + INNER_MAP_OVERHEAD;
	while (l->st.table_bytes + bytes > l->o.max_table_bytes || l->st.tables >= l->o.max_files) {
		if (!evict_unused(l)) {
			l->st.refused_cap++;
			err = -E2BIG;
			goto cleanup;
		}
	}
	id = l->next_id++;
	if (l->mmapable)
		inner_opts.map_flags |= BPF_F_MMAPABLE;
	if (!l->o.dry_run) {
		fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, "unw_rows", 4, sizeof(*rows), (__u32)nrows,
				    &inner_opts);
		if (fd < 0) {
			err = -errno;
			l->st.load_errors++;
			goto cleanup;
		}
		err = rows_fill(l, fd, rows, nrows);
		if (err) {
			l->st.load_errors++;
			goto cleanup;
		}
		mem = memlock_of(fd);
		if (mem > 0)
			bytes = (size_t)mem;
		if (l->nstaged == MAX_STAGED)
			tables_flush(l);
		l->staged[l->nstaged] = f;
		l->staged_id[l->nstaged] = id;
		l->staged_fd[l->nstaged++] = fd;
		fd = -1; /* staged: inserted by tables_flush */
	}
	f->id = id;
	f->nrows = (uint32_t)nrows_only;
	f->npages = npages;
	f->vaddr_base = unwind_table__vaddr_base(t);
	f->kbytes = bytes;
	f->err = 0;
	l->st.tables++;
	l->st.table_bytes += bytes;
	l->st.rows += nrows_only;
cleanup:
	if (fd >= 0)
		close(fd);
	free(rows);
	return err;
}

/* Build and load the table of the file open at fd (or the image). */
static void file_load(struct unwind_loader *l, struct unw_file *f, int fd, const void *image,
		      size_t size)
{
	struct unwind_table *t;
	uint64_t t0 = now_ns();

	t = image ? unwind_table__build_mem(image, size, NULL) : unwind_table__build_fd(fd, NULL);
	l->st.builds++;
	l->st.build_ns += now_ns() - t0;
	if (!t) {
		f->err = -errno;
		l->st.no_cfi++;
		return;
	}
	f->err = file_upload(l, f, t);
	unwind_table__free(t);
}

/* The vDSO is the same image in every process of this kernel: read ours. */
static struct unw_file *file_vdso(struct unwind_loader *l)
{
	const void *image = (const void *)getauxval(AT_SYSINFO_EHDR);
	struct unw_file *f;
	Elf64_Ehdr eh;
	size_t size;

	if (l->vdso)
		return l->vdso;
	if (!image)
		return NULL;
	memcpy(&eh, image, sizeof(eh));
	/* Section headers come last in the vDSO image. */
	size = eh.e_shoff + (size_t)eh.e_shnum * eh.e_shentsize;
	if (size < sizeof(eh) || size > (1u << 20))
		return NULL;
	f = calloc(1, sizeof(*f));
	if (!f)
		return NULL;
	if (unwind_elf_loads(-1, image, size, f->loads, &f->nloads))
		f->err = -EINVAL;
	else
		file_load(l, f, -1, image, size);
	l->vdso = f;
	return f;
}

/* binary_cache load: the table of a file pid maps, built and loaded on
 * first sight. A file that is not ELF, or has no usable CFI, still gets an
 * unw_file (err set), so its mappings get frame-pointer steps without
 * another try. */
static int image_load(void *ctx, pid_t pid, const struct procmaps_entry *e, int fd, void **data)
{
	struct unwind_loader *l = ctx;
	struct unw_file *f = calloc(1, sizeof(*f));

	(void)pid;
	if (!f)
		return -ENOMEM;
	if (unwind_elf_loads(fd, NULL, 0, f->loads, &f->nloads)) {
		f->err = -EINVAL; /* not an ELF file we can place */
		l->st.no_cfi++;
	} else if (l->scan && !scan_wants(l->scan, e)) {
		f->deferred = true;
		l->st.deferred++;
	} else {
		file_load(l, f, fd, NULL, 0);
	}
	*data = f;
	return 0;
}

static void image_release(void *ctx, void *data)
{
	file_free(ctx, data);
}

static const struct binary_cache_ops image_ops = {
	.load = image_load,
	.release = image_release,
};

/* The image of an executable mapping of pid (a reference), or NULL when the
 * file cannot be opened or is not a regular file (counted). */
static struct binary_image *file_get(struct unwind_loader *l, pid_t pid,
				     const struct procmaps_entry *e)
{
	struct binary_image *img = NULL;

	if (binary_cache__get(l->files, pid, e, &img)) {
		l->st.open_errors++;
		return NULL;
	}
	if (!img->data) {
		l->st.open_errors++;
		binary_cache__put(l->files, img);
		return NULL;
	}
	return img;
}

/* Build the deferred table of img, the file pid maps with e: reopened
 * (the image keeps no fd) and checked to be the same file. A file that
 * cannot be is left to frame-pointer steps, like one without CFI, unless
 * only pid is gone. True if it was built. */
static bool file_build_deferred(struct unwind_loader *l, pid_t pid,
				const struct procmaps_entry *e, struct binary_image *img)
{
	struct unw_file *f = img->data;
	struct stat st;
	bool built = false;
	int fd;

	fd = binary_open_mapped(pid, e, &st);
	if (fd < 0) {
		l->st.open_errors++;
		/* This process went (its map_files with it): another one's
		 * sample in the file builds it. */
		if (fd == -ENOENT || fd == -ESRCH)
			return false;
		f->deferred = false;
		l->st.deferred--;
		f->err = fd;
		return false;
	}
	f->deferred = false;
	l->st.deferred--;
	if (img->have_stat && !binary_key__matches(&img->key, &st)) {
		f->err = -ESTALE; /* replaced since: the next scan loads it anew */
	} else {
		file_load(l, f, fd, NULL, 0);
		built = true;
	}
	close(fd);
	return built;
}

/* ---- processes ---------------------------------------------------------------- */

static struct unw_proc *proc_find(const struct unwind_loader *l, pid_t pid, size_t *idx)
{
	for (size_t i = 0; i < l->nprocs; i++)
		if (l->procs[i]->pid == pid) {
			if (idx)
				*idx = i;
			return l->procs[i];
		}
	return NULL;
}

/* Insert or delete the trie blocks of a range. Inserting counts failures. */
static void range_apply(struct unwind_loader *l, pid_t pid, const struct unw_range *r, bool insert)
{
	struct unwind_block b[128];
	size_t n;

	if (!r->val.kind)
		return; /* deferred: never inserted */
	n = unwind_lpm_split(r->start, r->end, b, 128);
	if (n > 128)
		n = 128;
	for (size_t i = 0; i < n; i++) {
		struct profd_unw_map_key key = {
			.prefixlen = 32 + b[i].bits,
			.pid_be = htobe32((uint32_t)pid),
			.addr_be = htobe64(b[i].addr),
		};

		if (insert) {
			if (!l->o.dry_run &&
			    bpf_map_update_elem(l->mappings_fd, &key, &r->val, BPF_ANY)) {
				l->st.map_full++;
				continue;
			}
			l->st.map_entries++;
		} else {
			if (!l->o.dry_run && !l->closing)
				bpf_map_delete_elem(l->mappings_fd, &key);
			l->st.map_entries--;
		}
	}
}

static void ranges_release(struct unwind_loader *l, struct unw_range *r, size_t n)
{
	for (size_t i = 0; i < n; i++)
		binary_cache__put(l->files, r[i].img);
	free(r);
}

/* What the trie gets for r from its file: its table, frame-pointer steps
 * (no file, no CFI, refused), or nothing yet (deferred). */
static void range_point(struct unw_range *r)
{
	const struct unw_file *f = r->file;
	uint64_t bias;

	r->val.kind = PROFD_UNW_MAP_FP;
	if (f && f->deferred) {
		r->val.kind = 0; /* not in the trie until a sample lands there */
	} else if (f && f->id && !unwind_bias(f->loads, f->nloads, r->start, r->offset, &bias)) {
		r->val.kind = PROFD_UNW_MAP_TABLE;
		r->val.file_id = f->id;
		r->val.nrows = f->nrows;
		r->val.npages = f->npages;
		r->val.bias = bias + f->vaddr_base;
	}
}

static int scan_cb(const struct procmaps_entry *e, void *data)
{
	struct scan_ctx *c = data;
	struct unwind_loader *l = c->l;
	struct unw_file *f = NULL;
	struct unw_range *r;

	if (c->n == MAX_RANGES_PER_PID)
		return -E2BIG;
	if (c->n == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 32;
		struct unw_range *nr = realloc(c->ranges, cap * sizeof(*nr));

		if (!nr)
			return -ENOMEM;
		c->ranges = nr;
		c->cap = cap;
	}
	r = &c->ranges[c->n];
	*r = (struct unw_range){ .start = e->start, .end = e->end, .offset = e->offset };
	r->val.start = e->start;
	r->val.end = e->end;
	if (!strcmp(e->path, "[vsyscall]"))
		return 0; /* kernel half: never a user PC */
	if (!strcmp(e->path, "[vdso]")) {
		f = file_vdso(l);
	} else if (e->path[0] == '/' && e->inode) {
		r->img = file_get(l, c->pid, e);
		f = r->img ? r->img->data : NULL;
		if (f && f->deferred && scan_wants(c, e) &&
		    file_build_deferred(l, c->pid, e, r->img) && !c->all)
			l->st.lazy_builds++;
	}
	r->file = f;
	range_point(r);
	c->n++;
	return 0;
}

/* A sample fell in r, a range of p whose file's table was deferred: build
 * it (or take the one another process's sample built) and put the range in
 * the trie, without rereading p's maps. False when the file could not be
 * reopened that way (no map_files: the caller rescans instead). */
static bool range_build(struct unwind_loader *l, struct unw_proc *p, struct unw_range *r)
{
	struct unw_file *f = r->file;

	if (f->deferred) {
		struct procmaps_entry e = {
			.start = r->start,
			.end = r->end,
			.offset = r->offset,
			.inode = r->img->key.ino,
			.path = "", /* map_files only */
		};

		if (file_build_deferred(l, p->pid, &e, r->img))
			l->st.lazy_builds++;
		else if (f->deferred)
			return false;
		tables_flush(l);
	}
	range_point(r);
	if (r->val.kind == PROFD_UNW_MAP_TABLE && !f->id)
		r->val.kind = PROFD_UNW_MAP_FP; /* its table was refused */
	range_apply(l, p->pid, r, true);
	return true;
}

static bool range_same(const struct unw_range *a, const struct unw_range *b)
{
	return a->start == b->start && a->end == b->end &&
	       !memcmp(&a->val, &b->val, sizeof(a->val));
}

/* The identity of /proc/PID/exe (0, 0 when it cannot be read). */
static void proc_exe(pid_t pid, uint64_t *dev, uint64_t *ino)
{
	char path[64];
	struct stat sb;

	snprintf(path, sizeof(path), "/proc/%d/exe", (int)pid);
	*dev = *ino = 0;
	if (!stat(path, &sb)) {
		*dev = sb.st_dev;
		*ino = sb.st_ino;
	}
}

/* /proc/PID/stat field 22 (start time) and the identity of /proc/PID/exe:
 * what tells pid reuse and exec of a process without a pidfd. */
static int proc_identity(pid_t pid, unsigned long long *start, uint64_t *dev, uint64_t *ino)
{
	int err = procstat__starttime(pid, start);

	if (err)
		return err;
	proc_exe(pid, dev, ino);
	return 0;
}

static void proc_free(struct unwind_loader *l, struct unw_proc *p)
{
	if (p->watch >= 0) {
		pidwatch__remove(&l->watch, p->watch);
		l->st.watched--;
	}
	python__forget(p->pid);
	for (size_t i = 0; i < p->nranges; i++)
		range_apply(l, p->pid, &p->ranges[i], false);
	l->st.mappings -= p->nranges;
	ranges_release(l, p->ranges, p->nranges);
	free(p);
}

/* Mirror pid's executable mappings, building the tables of every file
 * (all) or of the file at want and the program's; *changed (may be NULL):
 * a range went or came. The mappings read are python's too (one read of
 * the maps), and go to *keep when it is not NULL (the caller releases). */
static int proc_scan(struct unwind_loader *l, struct unw_proc *p, bool *changed, bool all,
		     uint64_t want, struct procmaps *keep)
{
	struct scan_ctx c = { .l = l, .pid = p->pid, .all = all, .want = want,
			      .exe_dev = p->exe_dev, .exe_ino = p->exe_ino };
	struct procmaps pm;
	size_t diff = 0;
	int err;

	l->st.scans++;
	p->last_scan_ns = now_ns();
	err = procmaps__load(p->pid, &pm);
	l->scan = &c;
	if (!err)
		err = procmaps__each(&pm, scan_cb, &c);
	l->scan = NULL;
	if (err) {
		procmaps__release(&pm);
		ranges_release(l, c.ranges, c.n);
		return err;
	}
	/* The tables this scan built go in before the ranges that use them. */
	tables_flush(l);
	for (size_t j = 0; j < c.n; j++)
		if (c.ranges[j].val.kind == PROFD_UNW_MAP_TABLE && c.ranges[j].file &&
		    !c.ranges[j].file->id)
			c.ranges[j].val.kind = PROFD_UNW_MAP_FP; /* its table was refused */
	/* Delete what went away before inserting what is new: a block both
	 * lists share (same key) is then re-inserted, not lost. */
	for (size_t i = 0; i < p->nranges; i++) {
		bool kept = false;

		for (size_t j = 0; j < c.n && !kept; j++)
			kept = range_same(&p->ranges[i], &c.ranges[j]);
		if (!kept) {
			range_apply(l, p->pid, &p->ranges[i], false);
			diff++;
		}
	}
	for (size_t j = 0; j < c.n; j++) {
		bool had = false;

		for (size_t i = 0; i < p->nranges && !had; i++)
			had = range_same(&p->ranges[i], &c.ranges[j]);
		if (!had) {
			range_apply(l, p->pid, &c.ranges[j], true);
			diff++;
		}
	}
	if (changed)
		*changed = diff != 0;
	l->st.mappings += c.n;
	l->st.mappings -= p->nranges;
	ranges_release(l, p->ranges, p->nranges);
	p->ranges = c.ranges;
	p->nranges = c.n;
	python__scan_maps(p->pid, &pm);
	if (keep)
		*keep = pm;
	else
		procmaps__release(&pm);
	return 0;
}

/* Track pid (or rescan it), building what proc_scan is told to. */
static int proc_add(struct unwind_loader *l, pid_t pid, bool all, uint64_t want)
{
	struct procmaps maps = {};
	struct unw_proc *p, **procs;
	int err;

	if (pid <= 0)
		return -EINVAL;
	p = proc_find(l, pid, NULL);
	if (p)
		return proc_scan(l, p, NULL, all, want, NULL);
	if (l->nprocs >= l->o.max_pids) {
		l->st.pids_refused++;
		return -ENOSPC;
	}
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->pid = pid;
	/* The pidfd before anything is read: if pid names another process by
	 * then, the pidfd names the one that exited and the next reap drops
	 * what was read. */
	p->watch = pidwatch__add(&l->watch, pid, p);
	if (p->watch >= 0) {
		l->st.watched++;
		/* Spread the exec checks of pids added together over the interval. */
		p->next_identity_ns = now_ns() + EXEC_CHECK_INTERVAL_NS / 2 +
				      (uint64_t)pid % (EXEC_CHECK_INTERVAL_NS / 2);
		proc_exe(pid, &p->exe_dev, &p->exe_ino);
		err = 0;
	} else if (errno == ESRCH) {
		err = -ESRCH;
	} else {
		p->next_identity_ns = now_ns() + IDENTITY_INTERVAL_NS / 2 +
				      (uint64_t)pid % (IDENTITY_INTERVAL_NS / 2);
		err = proc_identity(pid, &p->starttime, &p->exe_dev, &p->exe_ino);
	}
	if (!err)
		err = proc_scan(l, p, NULL, all, want, &maps);
	if (err)
		goto cleanup;
	procs = realloc(l->procs, (l->nprocs + 1) * sizeof(*procs));
	if (!procs) {
		err = -ENOMEM;
		goto cleanup;
	}
	l->procs = procs;
	l->procs[l->nprocs++] = p;
	l->st.pids = l->nprocs;
	if (l->nfresh == FRESH_MAX) {
		procmaps__release(&l->fresh[0].maps);
		memmove(l->fresh, l->fresh + 1, (FRESH_MAX - 1) * sizeof(l->fresh[0]));
		l->nfresh--;
	}
	if (maps.n > FRESH_MAX_MAPS)
		procmaps__release(&maps);
	l->fresh[l->nfresh++] = (struct unwind_new_proc){ .pid = pid, .maps = maps };
	return 0;
cleanup:
	procmaps__release(&maps);
	proc_free(l, p);
	return err;
}

int unwind_loader__add_pid(struct unwind_loader *l, pid_t pid)
{
	return proc_add(l, pid, true, 0);
}

void unwind_loader__remove_pid(struct unwind_loader *l, pid_t pid)
{
	size_t i;
	struct unw_proc *p = proc_find(l, pid, &i);

	if (!p)
		return;
	proc_free(l, p);
	l->procs[i] = l->procs[--l->nprocs];
	l->st.pids = l->nprocs;
}

int unwind_loader__lookup(const struct unwind_loader *l, pid_t pid, uint64_t addr,
			  struct profd_unw_mapping *out)
{
	const struct unw_proc *p = proc_find(l, pid, NULL);

	for (size_t i = 0; p && i < p->nranges; i++)
		if (addr >= p->ranges[i].start && addr < p->ranges[i].end) {
			if (!p->ranges[i].val.kind)
				return -ENOENT; /* deferred: the walker does not know it */
			*out = p->ranges[i].val;
			return 0;
		}
	return -ENOENT;
}

/* ---- events and lifecycle ------------------------------------------------------- */

static int on_event(void *ctx, void *data, size_t size)
{
	struct unwind_loader *l = ctx;
	const struct profd_unw_event *e = data;

	if (size < sizeof(*e))
		return 0;
	l->st.events++;
	/* One event per pid and page between two polls is enough. */
	for (size_t i = 0; i < l->npending; i++)
		if (l->pending[i].pid == e->pid && (l->pending[i].addr ^ e->addr) < 4096)
			return 0;
	if (l->npending < MAX_PENDING)
		l->pending[l->npending++] = *e;
	return 0;
}

/* Whether an unknown-mapping event of a tracked process can be news (by
 * PROCMAP_QUERY, binary/procmap_query.h): 1 an executable mapping covers
 * addr that the trie does not hold as it is (new library, grown JIT
 * region, exec); 0 none does (a frame-pointer step read a return address
 * that is not code, the usual case once a process is known) or it is held
 * already; -1 the kernel cannot say (before 6.11). */
static int event_news(struct unwind_loader *l, const struct unw_proc *p, uint64_t addr)
{
	struct procmap_query q = { .size = sizeof(q), .query_flags = PROCMAP_VMA_EXECUTABLE,
				   .query_addr = addr };
	char path[64];
	int fd, err = 0;

	if (l->vma_query < 0)
		return -1;
	snprintf(path, sizeof(path), "/proc/%d/maps", (int)p->pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0; /* gone: reap drops it */
	if (ioctl(fd, PROCMAP_QUERY_IOCTL, &q))
		err = errno;
	close(fd);
	if (err == ENOTTY || err == EINVAL || err == EOPNOTSUPP) {
		if (!l->vma_query)
			l->vma_query = -1;
		return l->vma_query < 0 ? -1 : 1;
	}
	l->vma_query = 1;
	if (err)
		return 0; /* ENOENT: no executable mapping there; ESRCH: gone */
	for (size_t i = 0; i < p->nranges; i++)
		if (p->ranges[i].start == q.vma_start && p->ranges[i].end == q.vma_end)
			return 0;
	return 1;
}

/* Handle one pending event: track a new pid, rescan a known one when the
 * event can be news (and its rescan interval passed). True if it scanned. */
static bool event_handle(struct unwind_loader *l, const struct profd_unw_event *e, uint64_t now)
{
	struct unw_proc *p = proc_find(l, (pid_t)e->pid, NULL);
	bool changed = false;
	int news;

	if (!p)
		return !proc_add(l, (pid_t)e->pid, false, e->addr);
	/* A sample in a mapping whose table was deferred: build it now, at
	 * any interval (once per file; other pids then share it). */
	for (size_t i = 0; i < p->nranges; i++) {
		struct unw_range *r = &p->ranges[i];

		if (e->addr >= r->start && e->addr < r->end && !r->val.kind && r->file)
			return range_build(l, p, r) || !proc_scan(l, p, NULL, false, e->addr, NULL);
	}
	if (p->last_scan_ns >= now ||
	    now - p->last_scan_ns < ((uint64_t)l->o.rescan_ms * 1000000ULL) << p->backoff)
		return false; /* scanned in this poll, or too recently */
	news = event_news(l, p, e->addr);
	if (!news) {
		l->st.events_stale++;
		return false;
	}
	if (proc_scan(l, p, &changed, false, e->addr, NULL))
		return false;
	/* Mappings changed: maybe an exec (then the program is another file,
	 * whose table the next scans must build first); one stat, and the
	 * backstop need not rescan it again. */
	if (changed) {
		l->st.identity_checks++;
		proc_exe(p->pid, &p->exe_dev, &p->exe_ino);
	}
	/* Without the query, a pid whose rescans find nothing is asked less. */
	if (news < 0 && !changed && p->backoff < MAX_BACKOFF_SHIFT)
		p->backoff++;
	else if (changed)
		p->backoff = 0;
	return true;
}

static void on_exit_told(void *ctx, void *owner)
{
	struct unw_proc *p = owner;

	(void)ctx;
	p->exited = true;
}

/* Drop processes that exited or whose pid now names another process;
 * rescan those that exec'd. Exits by their pidfds (one poll) or, without
 * one, kill(pid, 0), at every call; exec by /proc/PID/exe (and, without
 * a pidfd, pid reuse by the start time) at each pid's next_identity_ns. */
static int reap(struct unwind_loader *l, uint64_t now)
{
	/* The check failed (ENOMEM): every process is checked as if it had no
	 * pidfd, this once. */
	bool polled = pidwatch__poll(&l->watch, on_exit_told, l) >= 0;
	int scans = 0;

	for (size_t i = 0; i < l->nprocs;) {
		struct unw_proc *p = l->procs[i];
		bool watched = polled && p->watch >= 0;
		unsigned long long start = 0;
		uint64_t dev, ino;
		int err = 0;

		if (p->exited || (!watched && kill(p->pid, 0) && errno == ESRCH)) {
			l->st.exits++;
			unwind_loader__remove_pid(l, p->pid);
			continue;
		}
		if (now < p->next_identity_ns) {
			i++;
			continue;
		}
		l->st.identity_checks++;
		if (p->watch >= 0) {
			p->next_identity_ns = now + EXEC_CHECK_INTERVAL_NS;
			proc_exe(p->pid, &dev, &ino);
			if (!dev && !ino) {
				i++; /* exiting: its pidfd tells */
				continue;
			}
		} else {
			p->next_identity_ns = now + IDENTITY_INTERVAL_NS;
			err = proc_identity(p->pid, &start, &dev, &ino);
		}
		if (err || (p->watch < 0 && start != p->starttime)) {
			l->st.exits++;
			unwind_loader__remove_pid(l, p->pid);
			continue;
		}
		if (dev != p->exe_dev || ino != p->exe_ino) {
			p->exe_dev = dev;
			p->exe_ino = ino;
			p->backoff = 0;
			proc_scan(l, p, NULL, false, 0, NULL);
			scans++;
		}
		i++;
	}
	return scans;
}

void unwind_loader__event(struct unwind_loader *l, pid_t pid, uint64_t addr)
{
	struct profd_unw_event e = { .pid = (__u32)pid, .addr = addr };

	on_event(l, &e, sizeof(e));
}

int unwind_loader__poll(struct unwind_loader *l)
{
	uint64_t now = now_ns();
	int scans = 0;

	/* Exits first: an event of a pid whose process exited and was
	 * replaced then finds the new process, not the old one's state. */
	if (now - l->last_reap_ns >= REAP_INTERVAL_NS) {
		l->last_reap_ns = now;
		scans += reap(l, now);
	}
	if (l->rb)
		ring_buffer__consume(l->rb);
	for (size_t i = 0; i < l->npending; i++)
		scans += event_handle(l, &l->pending[i], now);
	l->npending = 0;
	return scans;
}

size_t unwind_loader__take_new(struct unwind_loader *l, struct unwind_new_proc *out, size_t max)
{
	size_t n = l->nfresh < max ? l->nfresh : max;

	memcpy(out, l->fresh, n * sizeof(*out));
	memmove(l->fresh, l->fresh + n, (l->nfresh - n) * sizeof(l->fresh[0]));
	l->nfresh -= n;
	return n;
}

int unwind_loader__events_fd(const struct unwind_loader *l)
{
	return l->rb ? ring_buffer__epoll_fd(l->rb) : -1;
}

void unwind_loader__stats(const struct unwind_loader *l, struct unwind_loader_stats *st)
{
	struct binary_cache_stats bs;

	binary_cache__stats(l->files, &bs);
	*st = l->st;
	st->files = bs.entries + (l->vdso != NULL);
	st->rules = l->nrules;
}

int unwind_loader__probe(char *why, size_t len)
{
	static const struct {
		enum bpf_func_id id;
		const char *what;
	} helpers[] = {
		{ BPF_FUNC_loop, "bpf_loop (5.17)" },
		{ BPF_FUNC_task_pt_regs, "bpf_task_pt_regs (5.15)" },
		{ BPF_FUNC_get_current_task_btf, "bpf_get_current_task_btf (5.11)" },
	};
	static const struct {
		enum bpf_map_type type;
		const char *what;
	} maps[] = {
		{ BPF_MAP_TYPE_LPM_TRIE, "LPM trie maps" },
		{ BPF_MAP_TYPE_HASH_OF_MAPS, "hash-of-maps" },
		{ BPF_MAP_TYPE_RINGBUF, "ring buffers (5.8)" },
	};

	for (size_t i = 0; i < sizeof(helpers) / sizeof(helpers[0]); i++)
		if (libbpf_probe_bpf_helper(BPF_PROG_TYPE_PERF_EVENT, helpers[i].id, NULL) != 1) {
			snprintf(why, len, "the kernel lacks the BPF helper %s", helpers[i].what);
			return -EOPNOTSUPP;
		}
	for (size_t i = 0; i < sizeof(maps) / sizeof(maps[0]); i++)
		if (libbpf_probe_bpf_map_type(maps[i].type, NULL) != 1) {
			snprintf(why, len, "the kernel lacks %s", maps[i].what);
			return -EOPNOTSUPP;
		}
	return 0;
}

/* ---- lifetime ------------------------------------------------------------------ */

static int close_fd(int fd)
{
	if (fd >= 0)
		close(fd);
	return -1;
}

void unwind_loader__free(struct unwind_loader *l)
{
	if (!l)
		return;
	l->closing = true;
	while (l->nprocs)
		unwind_loader__remove_pid(l, l->procs[0]->pid);
	binary_cache__free(l->files);
	if (l->vdso)
		file_free(l, l->vdso);
	pidwatch__done(&l->watch);
	for (size_t i = 0; i < l->nfresh; i++)
		procmaps__release(&l->fresh[i].maps);
	free(l->procs);
	free(l->rules);
	hashmap__done(&l->rule_index);
	ring_buffer__free(l->rb);
	l->mappings_fd = close_fd(l->mappings_fd);
	l->tables_fd = close_fd(l->tables_fd);
	l->rules_fd = close_fd(l->rules_fd);
	l->events_fd = close_fd(l->events_fd);
	l->inner_tmpl_fd = close_fd(l->inner_tmpl_fd);
	free(l);
}

struct unwind_loader *unwind_loader__new(const struct unwind_loader_opts *o)
{
	struct unwind_loader *l;
	int err;

	l = calloc(1, sizeof(*l));
	if (!l)
		return NULL;
	l->mappings_fd = l->tables_fd = l->rules_fd = l->events_fd = l->inner_tmpl_fd = -1;
	l->o = *o;
	if (!l->o.max_table_bytes)
		l->o.max_table_bytes = DEFAULT_MAX_TABLE_BYTES;
	if (!l->o.max_files)
		l->o.max_files = DEFAULT_MAX_FILES;
	if (!l->o.max_pids)
		l->o.max_pids = DEFAULT_MAX_PIDS;
	if (!l->o.max_map_entries)
		l->o.max_map_entries = DEFAULT_MAX_MAP_ENTRIES;
	if (!l->o.rescan_ms)
		l->o.rescan_ms = DEFAULT_RESCAN_MS;
	l->next_id = 1;
	l->last_reap_ns = now_ns();
	pidwatch__init(&l->watch, l->o.max_pids);
	l->rules = calloc(PROFD_UNW_MAX_RULES, sizeof(*l->rules));
	l->files = binary_cache__new(MAX_UNUSED_FILES, &image_ops, l);
	if (!l->rules || !l->files) {
		err = -ENOMEM;
		goto cleanup;
	}
	if (!l->o.dry_run) {
		err = create_maps(l);
		if (err)
			goto cleanup;
		l->rb = ring_buffer__new(l->events_fd, on_event, l, NULL);
		if (!l->rb) {
			err = -errno;
			goto cleanup;
		}
	}
	return l;
cleanup:
	unwind_loader__free(l);
	errno = -err;
	return NULL;
}
