// SPDX-License-Identifier: Apache-2.0
/* heap collector: allocator discovery, attach points, snapshots. */
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <math.h>
#include <pthread.h>
#include <stdbool.h>
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
#include "collect/attach_point.h"
#include "collect/uprobe_multi.h"
#include "collect/heap.h"
#include "collect/metrics.h"
#include "profd/walker.h" /* before the skeleton: its .rodata has unw_cfg */
#include "heap.skel.h"
#include "util/log.h"
#include "util/phase.h"
#include "collect/bpf_diag.h"
#include "unwind/unwinder.h"

#define DEFAULT_MAX_LIVE 65536
#define DEFAULT_MAX_STACKS 16384
#define MAX_OBJECTS 64
#define MAX_LINKS 256
/* Function bytes read to choose an attach point: the prologue walk needs
 * 64, the sweep for branches back into the prologue wants the body. */
#define MAX_FUNC_READ (64u << 10)

/* Also the attach cookies heap_entry and heap_session dispatch on. */
enum prog_kind {
	P_MALLOC = PROFD_HEAP_FN_MALLOC,
	P_CALLOC = PROFD_HEAP_FN_CALLOC,
	P_REALLOC = PROFD_HEAP_FN_REALLOC,
	P_REALLOCARRAY = PROFD_HEAP_FN_REALLOCARRAY,
	P_MEMALIGN = PROFD_HEAP_FN_MEMALIGN,
	P_POSIX_MEMALIGN = PROFD_HEAP_FN_POSIX_MEMALIGN,
	P_FREE = PROFD_HEAP_FN_FREE,
	P_PY_MALLOC = PROFD_HEAP_FN_PY_MALLOC,
	P_PY_CALLOC = PROFD_HEAP_FN_PY_CALLOC,
	P_PY_REALLOC = PROFD_HEAP_FN_PY_REALLOC,
	P_PYC_MALLOC = PROFD_HEAP_FN_PYC_MALLOC,
	P_PYC_CALLOC = PROFD_HEAP_FN_PYC_CALLOC,
	P_PYC_REALLOC = PROFD_HEAP_FN_PYC_REALLOC,
	P_PYC_FREE = PROFD_HEAP_FN_PYC_FREE,
	P_PY_ARENA = PROFD_HEAP_FN_PY_ARENA,
};

/* Sets of allocator functions: libc's, and CPython's pymalloc (below). */
enum { FN_SET_LIBC, FN_SET_PY_STATIC, FN_SET_PY_EXPORTED, FN_SET_PY_ARENA };

/* An allocator function: what it takes and which program handles it. */
struct heap_fn {
	const char *name;
	enum prog_kind kind;
	unsigned args;    /* argument registers the program reads */
	int ret;          /* needs the return probe */
	int set;          /* FN_SET_* */
};

/* The malloc family. */
static const struct heap_fn family[] = {
	{ "malloc", P_MALLOC, ATTACH_ARG(0), 1 },
	{ "calloc", P_CALLOC, ATTACH_ARG(0) | ATTACH_ARG(1), 1 },
	{ "realloc", P_REALLOC, ATTACH_ARG(0) | ATTACH_ARG(1), 1 },
	{ "reallocarray", P_REALLOCARRAY, ATTACH_ARG(0) | ATTACH_ARG(1) | ATTACH_ARG(2), 1 },
	{ "aligned_alloc", P_MEMALIGN, ATTACH_ARG(0) | ATTACH_ARG(1), 1 },
	{ "memalign", P_MEMALIGN, ATTACH_ARG(0) | ATTACH_ARG(1), 1 },
	{ "posix_memalign", P_POSIX_MEMALIGN, ATTACH_ARG(0) | ATTACH_ARG(1) | ATTACH_ARG(2), 1 },
	{ "valloc", P_MALLOC, ATTACH_ARG(0), 1 },
	{ "pvalloc", P_MALLOC, ATTACH_ARG(0), 1 },
	{ "free", P_FREE, ATTACH_ARG(0), 0 },
};
#define NFAMILY (sizeof(family) / sizeof(family[0]))

/* C++ allocation functions that forward to the malloc family. */
static const char *const forwarders[] = {
	"_Znwm", "_Znam", "_ZnwmRKSt9nothrow_t", "_ZnamRKSt9nothrow_t",
	"_ZnwmSt11align_val_t", "_ZnamSt11align_val_t",
	"_ZnwmSt11align_val_tRKSt9nothrow_t", "_ZnamSt11align_val_tRKSt9nothrow_t",
};
#define NFORWARDERS (sizeof(forwarders) / sizeof(forwarders[0]))

struct heap_collector {
	struct heap_bpf *skel;
	bool dwarf;             /* stacks by the walker (heap_walk loaded) */
	int pymalloc;           /* enum heap_pymalloc (opts) */
	struct bpf_link *links[MAX_LINKS];
	size_t nlinks;
	/* How the allocator is probed; with uprobe-multi links, their fds. */
	enum uprobe_multi_kind multi;
	int mlinks[MAX_LINKS];
	size_t nmlinks;
	uint64_t probes, emulated;
	uint64_t stacks_missing;
	struct profd_heap_key *keys;
	uint32_t max_keys;
	struct profd_heap_stack stack;
};

/* A defined function symbol found by name. */
struct fsym {
	uint64_t vaddr;
	uint64_t size;
	uint64_t file_off;
	int found;
};

/* A mapped ELF object of the target: its executable mapping and path. */
struct object {
	char path[512];     /* what /proc/PID/maps says */
	char open_path[600];/* how we open it: map_files or root-relative */
	uint64_t start, end, offset;
};

struct objects {
	struct object o[MAX_OBJECTS];
	size_t n;
	pid_t pid;
};

static int collect_object(const struct procmaps_entry *e, void *ctx)
{
	struct objects *objs = ctx;
	struct object *o;

	if (e->flags || !e->path[0] || objs->n == MAX_OBJECTS)
		return 0;
	for (size_t i = 0; i < objs->n; i++)
		if (!strcmp(objs->o[i].path, e->path))
			return 0;
	o = &objs->o[objs->n++];
	snprintf(o->path, sizeof(o->path), "%s", e->path);
	snprintf(o->open_path, sizeof(o->open_path), "/proc/%d/map_files/%llx-%llx", objs->pid,
		 (unsigned long long)e->start, (unsigned long long)e->end);
	if (access(o->open_path, R_OK))
		snprintf(o->open_path, sizeof(o->open_path), "/proc/%d/root%s", objs->pid, e->path);
	o->start = e->start;
	o->end = e->end;
	o->offset = e->offset;
	return 0;
}

struct find_ctx {
	const char *const *names;
	size_t n;
	struct fsym *out;
};

static int find_one(const struct elf_func *f, void *arg)
{
	struct find_ctx *c = arg;

	for (size_t k = 0; k < c->n; k++) {
		if (c->out[k].found || strcmp(f->name, c->names[k]))
			continue;
		c->out[k].vaddr = f->addr;
		c->out[k].size = f->size;
		c->out[k].found = 1;
	}
	return 0;
}

/* Look up defined function symbols by name in .symtab, then .dynsym;
 * fills file offsets through the executable PT_LOAD segments. Returns how
 * many of the names were found, or -errno. */
static int find_functions(const char *path, const char *const *names, size_t n, struct fsym *out)
{
	struct find_ctx c = { .names = names, .n = n, .out = out };
	struct elf_load loads[ELF_IMAGE_MAX_LOADS];
	size_t nloads, found = 0;
	Elf *elf = NULL;
	struct stat st;
	int fd, err;

	memset(out, 0, n * sizeof(*out));
	err = binary_elf_init();
	if (err)
		return err;
	fd = binary_open_regular(path, &st);
	if (fd < 0)
		return fd;
	elf = elf_begin(fd, ELF_C_READ, NULL);
	if (!elf || elf_kind(elf) != ELF_K_ELF ||
	    elf_read_loads(elf, loads, ELF_IMAGE_MAX_LOADS, &nloads)) {
		err = -ENOEXEC;
		goto out;
	}
	elf_symtab__each_func(elf, SHT_SYMTAB, find_one, &c);
	elf_symtab__each_func(elf, SHT_DYNSYM, find_one, &c);
	for (size_t k = 0; k < n; k++) {
		out[k].found = 0;
		for (size_t i = 0; i < nloads && out[k].vaddr; i++) {
			const struct elf_load *l = &loads[i];

			if (!(l->flags & PF_X))
				continue;
			if (out[k].vaddr >= l->vaddr && out[k].vaddr < l->vaddr + l->filesz) {
				out[k].file_off = out[k].vaddr - l->vaddr + l->offset;
				out[k].found = 1;
			}
		}
		found += out[k].found;
	}
	err = found;
out:
	elf_end(elf);
	close(fd);
	return err;
}

static const char *family_name(size_t i)
{
	return family[i].name;
}

/* Which object provides malloc to the process: the executable (static or
 * linked-in allocator), else a library other than libc (jemalloc, tcmalloc,
 * mimalloc, preloaded or linked), else libc. */
static int pick_allocator(const struct objects *objs)
{
	static const char *const name[] = { "malloc" };
	int exe = -1, other = -1, libc = -1;
	struct fsym s;

	for (size_t i = 0; i < objs->n; i++) {
		if (find_functions(objs->o[i].open_path, name, 1, &s) != 1)
			continue;
		if (i == 0 || !strstr(objs->o[i].path, ".so"))
			exe = exe < 0 ? (int)i : exe;
		else if (strstr(objs->o[i].path, "/libc.so") || strstr(objs->o[i].path, "/libc-"))
			libc = libc < 0 ? (int)i : libc;
		else if (!strstr(objs->o[i].path, "/ld-linux"))
			other = other < 0 ? (int)i : other;
	}
	return exe >= 0 ? exe : other >= 0 ? other : libc;
}

static int read_code(const char *path, uint64_t off, uint64_t size, uint8_t **buf, size_t *len)
{
	struct stat st;
	ssize_t got;
	int fd;

	*len = size && size < MAX_FUNC_READ ? size : (size ? MAX_FUNC_READ : ATTACH_POINT_MAX_BYTES);
	*buf = malloc(*len);
	if (!*buf)
		return -ENOMEM;
	fd = binary_open_regular(path, &st);
	if (fd < 0) {
		free(*buf);
		return fd;
	}
	got = pread(fd, *buf, *len, off);
	close(fd);
	if (got <= 0) {
		free(*buf);
		return -EIO;
	}
	*len = got;
	return 0;
}

/* The first instruction of fn the kernel emulates with the stack and the
 * needed arguments as at entry, else the entry itself. */
static uint32_t attach_offset(const char *path, const struct fsym *fs, unsigned args, int *emulated)
{
	static const int argreg[ATTACH_NR_ARGS] = { X86_RDI, X86_RSI, X86_RDX, X86_RCX, X86_R8, X86_R9 };
	struct attach_point ap;
	unsigned flags = ATTACH_POINT_F_STACK;
	uint8_t *code;
	size_t len;

	*emulated = 0;
	if (read_code(path, fs->file_off, fs->size, &code, &len))
		return 0;
	if (!fs->size || len < fs->size)
		flags |= ATTACH_POINT_F_PARTIAL;
	if (attach_point__find(code, len, fs->vaddr, args, flags, &ap)) {
		free(code);
		return 0;
	}
	free(code);
	for (int i = 0; i < ATTACH_NR_ARGS; i++)
		if ((args & ATTACH_ARG(i)) && ap.arg_reg[i] != argreg[i])
			return 0;   /* the programs read arguments from their ABI registers */
	if (!ap.stack_intact || ap.ra_offset != 0)
		return 0;
	*emulated = 1;
	return ap.offset;
}

static int attach_one(struct heap_collector *c, struct bpf_program *prog, pid_t pid,
		      const char *path, uint64_t off, int retprobe, enum prog_kind kind)
{
	LIBBPF_OPTS(bpf_uprobe_opts, opts, .retprobe = retprobe, .bpf_cookie = kind);
	struct bpf_link *l;

	if (c->nlinks == MAX_LINKS)
		return -E2BIG;
	l = bpf_program__attach_uprobe_opts(prog, pid, path, off, &opts);
	if (!l)
		return -errno;
	c->links[c->nlinks++] = l;
	c->probes++;
	return 0;
}

/* Every allocator function of pid in one link (a session: the return half
 * pairs with its entry), or two (plain uprobe-multi: entries, returns). */
static int attach_multi(struct heap_collector *c, pid_t pid, const char *path,
			const uint64_t *offs, const uint64_t *cookies, size_t n,
			const uint64_t *roffs, const uint64_t *rcookies, size_t nr)
{
	int prog = bpf_program__fd(c->skel->progs.heap_session);
	int fd;

	if (!n)
		return 0;
	if (c->nmlinks + 2 > MAX_LINKS)
		return -E2BIG;
	fd = uprobe_multi__attach(prog, c->multi, 0, path, offs, cookies, (uint32_t)n, pid);
	if (fd < 0)
		return fd;
	c->mlinks[c->nmlinks++] = fd;
	if (c->multi == UPROBE_MULTI_PLAIN && nr) {
		fd = uprobe_multi__attach(prog, c->multi, 1, path, roffs, rcookies, (uint32_t)nr, pid);
		if (fd < 0)
			return fd;
		c->mlinks[c->nmlinks++] = fd;
	}
	c->probes += n + nr;
	return 0;
}

/* How the allocator is probed: PROFD_HEAP_PROBES (auto, session, multi,
 * classic; a benchmark's knob), else the best this kernel has, found once
 * per process: uprobe sessions, else uprobe-multi links, else one uprobe
 * per function and direction. A fallback is logged once, with the reason;
 * a forced kind the kernel refuses is an error. */
static int choose_probes(enum uprobe_multi_kind *out)
{
	static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	static int best = -1; /* enum uprobe_multi_kind once probed */
	static char best_why[300];
	const char *env = getenv("PROFD_HEAP_PROBES");
	enum uprobe_multi_kind want = UPROBE_MULTI_SESSION;
	bool forced = env && *env && strcmp(env, "auto");
	char why[256];
	int err = 0;

	if (forced) {
		if (!strcmp(env, "session"))
			want = UPROBE_MULTI_SESSION;
		else if (!strcmp(env, "multi"))
			want = UPROBE_MULTI_PLAIN;
		else if (!strcmp(env, "classic"))
			want = UPROBE_MULTI_NONE;
		else {
			log_err("PROFD_HEAP_PROBES=%s: expected auto, session, multi or classic", env);
			return -EINVAL;
		}
		*out = want;
		if (want == UPROBE_MULTI_NONE)
			return 0;
		err = uprobe_multi__probe(want, why, sizeof(why));
		if (err)
			log_err("PROFD_HEAP_PROBES=%s: this kernel cannot: %s", env, why);
		return err;
	}
	pthread_mutex_lock(&lock);
	if (best < 0) {
		best = UPROBE_MULTI_NONE;
		if (!uprobe_multi__probe(UPROBE_MULTI_SESSION, why, sizeof(why))) {
			best = UPROBE_MULTI_SESSION;
		} else {
			snprintf(best_why, sizeof(best_why), "uprobe sessions (Linux 6.13+): %s", why);
			if (!uprobe_multi__probe(UPROBE_MULTI_PLAIN, why, sizeof(why)))
				best = UPROBE_MULTI_PLAIN;
			log_warn("heap: no uprobe session here (%s): every allocation call also pays "
				 "its return probe (about 1 us more per call); allocator probes by %s",
				 best_why, uprobe_multi__name((enum uprobe_multi_kind)best));
		}
	}
	*out = (enum uprobe_multi_kind)best;
	pthread_mutex_unlock(&lock);
	return 0;
}

/* Runtime address of a file offset of obj (its executable mapping). */
/* Probe the functions of one set (fns[i] where fs[i] was found) in one
 * object: an entry probe each and a return probe where the function needs
 * one, as one uprobe each, or collected into one multi or session link;
 * aliases (one file offset under two names) once. *nprobed counts the
 * functions. 0, or -errno with *failed naming the function that could not
 * be probed (NULL: the link). */
#define MAX_SET_FNS 16
static int attach_fns(struct heap_collector *c, pid_t pid, const struct object *o,
		      const struct heap_fn *fns, const struct fsym *fs, size_t n, int set,
		      size_t *nprobed, const char **failed)
{
	uint64_t seen[MAX_SET_FNS], offs[MAX_SET_FNS], cookies[MAX_SET_FNS];
	uint64_t roffs[MAX_SET_FNS], rcookies[MAX_SET_FNS];
	size_t nseen = 0, noffs = 0, nroffs = 0;
	int ret, emulated;

	*nprobed = 0;
	*failed = NULL;
	for (size_t i = 0; i < n && i < MAX_SET_FNS; i++) {
		uint32_t off;
		int dup = 0;

		if (fns[i].set != set || !fs[i].found)
			continue;
		for (size_t k = 0; k < nseen; k++)
			dup |= seen[k] == fs[i].file_off;
		if (dup)
			continue;
		seen[nseen++] = fs[i].file_off;
		off = attach_offset(o->open_path, &fs[i], fns[i].args, &emulated);
		if (c->multi) {
			offs[noffs] = fs[i].file_off + off;
			cookies[noffs++] = fns[i].kind;
			if (fns[i].ret) {
				roffs[nroffs] = fs[i].file_off + off;
				rcookies[nroffs++] = fns[i].kind;
			}
		} else {
			ret = attach_one(c, c->skel->progs.heap_entry, pid, o->open_path,
					 fs[i].file_off + off, 0, fns[i].kind);
			if (!ret && fns[i].ret)
				ret = attach_one(c, c->skel->progs.alloc_exit, pid, o->open_path,
						 fs[i].file_off + off, 1, fns[i].kind);
			if (ret) {
				*failed = fns[i].name;
				return ret;
			}
		}
		c->emulated += emulated;
		(*nprobed)++;
		log_debug("pid %d: %s in %s probed at +%u (%s)", (int)pid, fns[i].name, o->path, off,
			  emulated ? "emulated" : "entry, single-stepped");
	}
	if (!c->multi)
		return 0;
	ret = attach_multi(c, pid, o->open_path, offs, cookies, noffs, roffs, rcookies, nroffs);
	if (ret)
		*nprobed = 0;
	return ret;
}

static uint64_t runtime_addr(const struct object *o, uint64_t file_off)
{
	return o->start + (file_off - o->offset);
}

/* The CFA offset at the return address of every call in a forwarder: the
 * return address of the forwarder itself sits that many bytes above the
 * one its callee's probe sees. -1 if calls disagree or none is found. */
static int forwarder_ra_offset(const char *path, const struct fsym *fs)
{
	uint8_t *code;
	size_t len, off = 0;
	int depth = 0, result = -1;

	/* Track rsp through the straight-line prologue and body: pushes and
	 * sub/add of rsp by an immediate, until the first call. */
	if (!fs->size || read_code(path, fs->file_off, fs->size, &code, &len))
		return -1;
	while (off < len) {
		struct x86_insn in;
		int n = x86_insn_decode(code + off, len - off, &in);

		if (n <= 0)
			break;
		if (in.flow == X86_FLOW_CALL) {
			result = depth + 8;
			break;
		}
		if (in.flow != X86_FLOW_NEXT)
			break;
		if (in.map == 0 && in.opcode >= 0x50 && in.opcode <= 0x57)
			depth += 8;                      /* push reg */
		else if (in.map == 0 && in.opcode >= 0x58 && in.opcode <= 0x5f)
			depth -= 8;                      /* pop reg */
		else if (in.map == 0 && (in.opcode == 0x83 || in.opcode == 0x81) && in.has_modrm &&
			 (in.modrm & 0xc7) == 0xc4 && (in.rex & 8)) {
			int reg = (in.modrm >> 3) & 7;   /* /5 sub, /0 add on rsp */

			if (reg == 5)
				depth += in.imm;
			else if (reg == 0)
				depth -= in.imm;
			else
				break;
		} else if (in.has_modrm && (in.modrm & 0xc7) == 0xc4 && in.map == 0 &&
			   in.opcode != 0x89 && in.opcode != 0x8b && in.opcode != 0x39 &&
			   in.opcode != 0x85) {
			break;                           /* something else writes rsp */
		}
		off += n;
	}
	free(code);
	return result;
}

/* ---- CPython's pymalloc ----
 * Objects and buffers of up to 512 bytes come from pymalloc's
 * arenas, not from malloc. Two ways to see them:
 * - calls: where the binary names them (.symtab: pyenv's libpython), the
 *   static _PyObject_Malloc family: every PyObject_* and PyMem_* entry
 *   point reaches it through the allocator tables (the exported ones are
 *   35-byte wrappers), so every request is counted. Where they are unnamed
 *   (Debian's python3.11, .symtab stripped), the exported entry points;
 *   but its LTO build also inlines pymalloc's fast paths into about 190
 *   call sites, which no function probe sees. heap.bpf.c counts every
 *   request at the pymalloc probe; the malloc calls pymalloc makes for
 *   requests over 512 bytes return into these ranges and are skipped as
 *   internal.
 * - arenas: pymalloc takes memory from the kernel one arena (1 MiB) at a
 *   time, by the interpreter's one mmap call through its mmap@plt stub,
 *   and gives an arena back, once all its objects are freed, by munmap@plt.
 *   Probing those two stubs sees all of pymalloc's memory however its
 *   paths were inlined, at arena granularity: a sampled arena is counted
 *   at the allocation that made pymalloc map it. Requests over 512 bytes
 *   are then malloc's (counted there, with pymalloc's frames in the stack).
 * The default (auto) is calls where pymalloc's own functions are named,
 * else arenas. */
static const struct heap_fn py_fns[] = {
	{ "_PyObject_Malloc", P_PYC_MALLOC, ATTACH_ARG(1), 1, FN_SET_PY_STATIC },
	{ "_PyObject_Calloc", P_PYC_CALLOC, ATTACH_ARG(1) | ATTACH_ARG(2), 1, FN_SET_PY_STATIC },
	{ "_PyObject_Realloc", P_PYC_REALLOC, ATTACH_ARG(1) | ATTACH_ARG(2), 1, FN_SET_PY_STATIC },
	{ "_PyObject_Free", P_PYC_FREE, ATTACH_ARG(1), 0, FN_SET_PY_STATIC },
	{ "PyObject_Malloc", P_PY_MALLOC, ATTACH_ARG(0), 1, FN_SET_PY_EXPORTED },
	{ "PyObject_Calloc", P_PY_CALLOC, ATTACH_ARG(0) | ATTACH_ARG(1), 1, FN_SET_PY_EXPORTED },
	{ "PyObject_Realloc", P_PY_REALLOC, ATTACH_ARG(0) | ATTACH_ARG(1), 1, FN_SET_PY_EXPORTED },
	{ "PyObject_Free", P_FREE, ATTACH_ARG(0), 0, FN_SET_PY_EXPORTED },
	{ "PyMem_Malloc", P_PY_MALLOC, ATTACH_ARG(0), 1, FN_SET_PY_EXPORTED },
	{ "PyMem_Calloc", P_PY_CALLOC, ATTACH_ARG(0) | ATTACH_ARG(1), 1, FN_SET_PY_EXPORTED },
	{ "PyMem_Realloc", P_PY_REALLOC, ATTACH_ARG(0) | ATTACH_ARG(1), 1, FN_SET_PY_EXPORTED },
	{ "PyMem_Free", P_FREE, ATTACH_ARG(0), 0, FN_SET_PY_EXPORTED },
	/* PLT stubs, found by name in the binary's image (binary/elf.c) */
	{ "mmap64@plt", P_PY_ARENA, ATTACH_ARG(1) | ATTACH_ARG(2) | ATTACH_ARG(3), 1,
	  FN_SET_PY_ARENA },
	{ "mmap@plt", P_PY_ARENA, ATTACH_ARG(1) | ATTACH_ARG(2) | ATTACH_ARG(3), 1,
	  FN_SET_PY_ARENA },
	{ "munmap@plt", P_FREE, ATTACH_ARG(0), 0, FN_SET_PY_ARENA },
};
#define NPY_FNS (sizeof(py_fns) / sizeof(py_fns[0]))
_Static_assert(NPY_FNS <= MAX_SET_FNS && NFAMILY <= MAX_SET_FNS, "raise MAX_SET_FNS");

/* The pymalloc functions to probe in one process. */
struct pymalloc {
	int obj;               /* index in objects, -1: none */
	int set;               /* FN_SET_PY_* */
	struct fsym fs[NPY_FNS];
};

/* PYTHONMALLOC=malloc (or malloc_debug) sends every request to malloc,
 * whose probes count it: pymalloc probes would count it twice. */
static bool python_uses_malloc(pid_t pid)
{
	char path[64], *e = NULL;
	size_t cap = 0;
	bool found = false;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/environ", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return false;
	while (!found && getdelim(&e, &cap, '\0', f) > 0)
		found = !strncmp(e, "PYTHONMALLOC=malloc", 19);
	free(e);
	fclose(f);
	return found;
}

/* The arena set's PLT stubs of path (entries of fns whose set is
 * FN_SET_PY_ARENA) into fs: 1 when an mmap and the munmap stub are found. */
static int find_arena_stubs(const char *path, const struct heap_fn *fns, struct fsym *fs, size_t n)
{
	struct elf_image *img = NULL;
	struct stat st;
	int fd, have_map = 0, have_unmap = 0;

	fd = binary_open_regular(path, &st);
	if (fd < 0)
		return 0;
	if (elf_image__open_fd(fd, &img)) {
		close(fd);
		return 0;
	}
	close(fd);
	for (size_t i = 0; i < img->nsyms; i++) {
		const struct elf_sym *sym = &img->syms[i];
		const char *name = img->names + sym->name;

		for (size_t k = 0; k < n; k++) {
			if (fns[k].set != FN_SET_PY_ARENA || strcmp(fns[k].name, name))
				continue;
			for (size_t l = 0; l < img->nloads; l++) {
				const struct elf_load *ld = &img->loads[l];

				if (!(ld->flags & PF_X) || sym->addr < ld->vaddr ||
				    sym->addr >= ld->vaddr + ld->filesz)
					continue;
				fs[k] = (struct fsym){ .vaddr = sym->addr, .size = sym->size,
						       .file_off = sym->addr - ld->vaddr + ld->offset,
						       .found = 1 };
				if (fns[k].kind == P_FREE)
					have_unmap = 1;
				else
					have_map = 1;
			}
		}
	}
	elf_image__free(img);
	return have_map && have_unmap;
}

/* Find CPython's pymalloc in pid (the first mapped object that defines
 * PyObject_Malloc), choose how to probe it (mode: enum heap_pymalloc) and,
 * for calls, add the functions' ranges to proc: calls they make to malloc
 * or to each other are theirs. */
static void find_pymalloc(const struct objects *objs, pid_t pid, int mode,
			  struct profd_heap_proc *proc, struct pymalloc *py)
{
	const char *names[NPY_FNS];
	int have_static, have_arena;

	py->obj = -1;
	for (size_t i = 0; i < NPY_FNS; i++)
		names[i] = py_fns[i].name;
	for (size_t i = 0; i < objs->n && py->obj < 0; i++) {
		if (find_functions(objs->o[i].open_path, names, NPY_FNS, py->fs) <= 0)
			continue;
		for (size_t k = 0; k < NPY_FNS; k++)
			if (!strcmp(py_fns[k].name, "PyObject_Malloc") && py->fs[k].found)
				py->obj = (int)i;
	}
	if (py->obj < 0)
		return;
	if (python_uses_malloc(pid)) {
		log_info("pid %d: PYTHONMALLOC=malloc: pymalloc unused, its allocations are malloc's",
			 (int)pid);
		py->obj = -1;
		return;
	}
	/* The static set needs at least the malloc, realloc and free. */
	have_static = py->fs[0].found && py->fs[2].found && py->fs[3].found;
	have_arena = mode != HEAP_PYMALLOC_CALLS &&
		     (mode == HEAP_PYMALLOC_ARENAS || !have_static) &&
		     find_arena_stubs(objs->o[py->obj].open_path, py_fns, py->fs, NPY_FNS);
	if (mode == HEAP_PYMALLOC_ARENAS && !have_arena)
		log_warn("pid %d: python_allocator = arenas: no mmap@plt and munmap@plt stubs in %s: "
			 "pymalloc probed by its calls instead", (int)pid, objs->o[py->obj].path);
	py->set = have_arena ? FN_SET_PY_ARENA :
		  have_static ? FN_SET_PY_STATIC : FN_SET_PY_EXPORTED;
	if (py->set == FN_SET_PY_ARENA)
		return;   /* the stubs' callers are pymalloc's: nothing internal */
	for (size_t k = 0; k < NPY_FNS; k++) {
		const struct fsym *f = &py->fs[k];
		int dup = 0;

		if (py_fns[k].set != py->set || !f->found || !f->size)
			continue;
		for (size_t j = 0; j < k; j++)
			dup |= py_fns[j].set == py->set && py->fs[j].found &&
			       py->fs[j].file_off == f->file_off;
		if (dup)
			continue;
		if (proc->nranges == PROFD_HEAP_MAX_RANGES) {
			log_warn("pid %d: too many allocator ranges: %s not marked", (int)pid,
				 py_fns[k].name);
			continue;
		}
		proc->r[proc->nranges++] = (struct profd_heap_range){
			.start = runtime_addr(&objs->o[py->obj], f->file_off),
			.end = runtime_addr(&objs->o[py->obj], f->file_off + f->size),
			.ra_offset = -1,
		};
	}
}

/* Probe the pymalloc functions find_pymalloc chose. A failure leaves the
 * malloc probes in place and is reported. */
static void attach_pymalloc(struct heap_collector *c, const struct objects *objs, pid_t pid,
			    const struct pymalloc *py)
{
	const struct object *o;
	const char *failed;
	size_t nprobed;
	int ret;

	if (py->obj < 0)
		return;
	o = &objs->o[py->obj];
	ret = attach_fns(c, pid, o, py_fns, py->fs, NPY_FNS, py->set, &nprobed, &failed);
	if (ret && failed)
		log_warn("pid %d: cannot attach to %s in %s: %s: Python's small objects "
			 "(pymalloc) are partly unseen",
			 (int)pid, failed, o->path, strerror(-ret));
	else if (ret)
		log_warn("pid %d: cannot attach to CPython's pymalloc in %s by %s: %s: "
			 "Python's small objects (pymalloc) are unseen",
			 (int)pid, o->path, uprobe_multi__name(c->multi), strerror(-ret));
	if (py->set == FN_SET_PY_ARENA)
		log_info("pid %d: CPython's pymalloc probed in %s by its arenas (%zu stubs, "
			 "mmap@plt and munmap@plt): small objects counted 1 MiB at a time, when "
			 "pymalloc maps an arena, at the allocation that made it do so",
			 (int)pid, o->path, nprobed);
	else
		log_info("pid %d: CPython's pymalloc probed in %s: %zu functions (%s)", (int)pid,
			 o->path, nprobed,
			 py->set == FN_SET_PY_STATIC ?
				 "_PyObject_Malloc family, complete" :
				 "exported entry points: inlined call sites unseen");
}

int heap_collector__attach_pid(struct heap_collector *c, pid_t pid, char *err, size_t errlen)
{
	const char *names[NFAMILY];
	struct fsym fs[NFAMILY], fw[NFORWARDERS];
	struct profd_heap_proc proc = {};
	struct objects *objs;
	const struct object *alloc;
	struct pymalloc *py = NULL;
	const char *failed;
	size_t nprobed;
	__u32 key = pid;
	int idx, ret;

	objs = calloc(1, sizeof(*objs));
	py = calloc(1, sizeof(*py));
	if (!objs || !py) {
		free(objs);
		free(py);
		return -ENOMEM;
	}
	objs->pid = pid;
	ret = procmaps__read(pid, collect_object, objs, NULL);
	if (ret) {
		snprintf(err, errlen, "cannot read the mappings of pid %d: %s", pid, strerror(-ret));
		goto out;
	}
	idx = pick_allocator(objs);
	if (idx < 0) {
		snprintf(err, errlen,
			 "pid %d: no allocator found: none of its %zu mapped objects (executable and "
			 "libraries) defines malloc in .symtab or .dynsym",
			 pid, objs->n);
		ret = -ENOENT;
		goto out;
	}
	alloc = &objs->o[idx];
	for (size_t i = 0; i < NFAMILY; i++)
		names[i] = family_name(i);
	ret = find_functions(alloc->open_path, names, NFAMILY, fs);
	if (ret <= 0) {
		snprintf(err, errlen, "pid %d: cannot read the allocator symbols of %s", pid,
			 alloc->path);
		ret = ret ? ret : -ENOENT;
		goto out;
	}
	/* Calls the allocator makes to itself are its own business. Each
	 * function's range is known before any probe fires (a running process
	 * calls malloc while the probes go in). */
	for (size_t i = 0; i < NFAMILY; i++) {
		int dup = 0;

		if (!fs[i].found || !fs[i].size)
			continue;
		for (size_t k = 0; k < i; k++)
			dup |= fs[k].found && fs[k].file_off == fs[i].file_off;
		if (!dup && proc.nranges < PROFD_HEAP_MAX_RANGES)
			proc.r[proc.nranges++] = (struct profd_heap_range){
				.start = runtime_addr(alloc, fs[i].file_off),
				.end = runtime_addr(alloc, fs[i].file_off + fs[i].size),
				.ra_offset = -1,
			};
	}
	/* C++ operator new forwards to malloc: count at malloc, attribute to
	 * operator new's caller. */
	for (size_t i = 0; i < objs->n; i++) {
		if (find_functions(objs->o[i].open_path, forwarders, NFORWARDERS, fw) <= 0)
			continue;
		for (size_t k = 0; k < NFORWARDERS; k++) {
			int ra;

			if (!fw[k].found || !fw[k].size || proc.nranges == PROFD_HEAP_MAX_RANGES)
				continue;
			ra = forwarder_ra_offset(objs->o[i].open_path, &fw[k]);
			if (ra < 0)
				continue;
			proc.r[proc.nranges++] = (struct profd_heap_range){
				.start = runtime_addr(&objs->o[i], fw[k].file_off),
				.end = runtime_addr(&objs->o[i], fw[k].file_off + fw[k].size),
				.ra_offset = ra,
			};
		}
	}
	py->obj = -1;
	if (c->pymalloc != HEAP_PYMALLOC_OFF)
		find_pymalloc(objs, pid, c->pymalloc, &proc, py);
	if (bpf_map_update_elem(bpf_map__fd(c->skel->maps.heap_procs), &key, &proc, BPF_ANY)) {
		ret = -errno;
		snprintf(err, errlen, "pid %d: cannot configure allocator ranges: %s", pid,
			 strerror(-ret));
		goto out;
	}
	ret = attach_fns(c, pid, alloc, family, fs, NFAMILY, FN_SET_LIBC, &nprobed, &failed);
	if (ret && failed) {
		snprintf(err, errlen, "pid %d: cannot attach to %s in %s: %s", pid, failed, alloc->path,
			 strerror(-ret));
		goto out;
	}
	if (ret) {
		snprintf(err, errlen, "pid %d: cannot attach to the allocator in %s by %s: %s", pid,
			 alloc->path, uprobe_multi__name(c->multi), strerror(-ret));
		goto out;
	}
	attach_pymalloc(c, objs, pid, py);
	log_debug("pid %d: allocator %s, %u internal/forwarder ranges", pid, alloc->path,
		  proc.nranges);
	ret = 0;
out:
	free(py);
	free(objs);
	return ret;
}

void heap_collector__free(struct heap_collector *c)
{
	if (!c)
		return;
	heap_collector__detach(c);
	heap_bpf__destroy(c->skel);
	free(c->keys);
	free(c);
}

struct heap_collector *heap_collector__new(const struct heap_opts *opts)
{
	uint32_t max_live = opts->max_live ? opts->max_live : DEFAULT_MAX_LIVE;
	uint32_t max_stacks = opts->max_stacks ? opts->max_stacks : DEFAULT_MAX_STACKS;
	struct heap_collector *c;
	int err;

	c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->max_keys = max_stacks;
	c->keys = calloc(c->max_keys, sizeof(*c->keys));
	c->skel = heap_bpf__open();
	phase_mark("heap: BPF object open");
	if (!c->keys || !c->skel) {
		err = c->keys ? -errno : -ENOMEM;
		goto cleanup;
	}
	c->skel->rodata->cfg.sample_rate = opts->sample_rate;
	/* Quantized exponential: -ln of the midpoints of 1024 equal slices of
	 * (0, 1], times the rate. Mean within 0.1% of the rate. */
	for (int i = 0; i < PROFD_HEAP_EXP_TABLE; i++)
		c->skel->rodata->cfg.exp_table[i] =
			(__u64)(-log((i + 0.5) / PROFD_HEAP_EXP_TABLE) * (double)opts->sample_rate) + 1;
	bpf_map__set_max_entries(c->skel->maps.live, max_live);
	bpf_map__set_max_entries(c->skel->maps.heap_counts, max_stacks);
	bpf_map__set_max_entries(c->skel->maps.heap_stacks, max_stacks);
	err = choose_probes(&c->multi);
	if (err)
		goto cleanup;
	if (c->multi) {
		enum bpf_attach_type at = (enum bpf_attach_type)uprobe_multi__attach_type(c->multi);

		bpf_program__set_autoload(c->skel->progs.heap_entry, false);
		bpf_program__set_autoload(c->skel->progs.alloc_exit, false);
		bpf_program__set_expected_attach_type(c->skel->progs.heap_session, at);
		/* A tail call stays within one attach type. */
		bpf_program__set_expected_attach_type(c->skel->progs.heap_walk, at);
	} else {
		bpf_program__set_autoload(c->skel->progs.heap_session, false);
	}
	log_debug("heap: allocator probes by %s", uprobe_multi__name(c->multi));
	c->dwarf = opts->unw != NULL;
	c->pymalloc = opts->pymalloc;
	if (c->pymalloc == HEAP_PYMALLOC_OFF)
		log_info("heap: CPython's pymalloc left unprobed (python_allocator = off): Python "
			 "objects of up to 512 bytes are unseen");
	if (c->dwarf) {
		err = unwinder__prepare(opts->unw, c->skel->obj, &c->skel->rodata->unw_cfg);
		if (err)
			goto cleanup;
	} else {
		/* The walker's maps exist but stay unused: make them tiny. */
		bpf_program__set_autoload(c->skel->progs.heap_walk, false);
		unwinder__disable(c->skel->obj);
	}
	phase_mark("heap: unwinder maps prepared");
	bpf_diag__request_stats(c->skel->obj);
	err = heap_bpf__load(c->skel);
	if (err)
		goto cleanup;
	phase_mark_split("heap: load: BTF + maps + CO-RE", "heap: load: verifier (kernel)",
			 bpf_diag__log_programs(c->skel->obj));
	if (c->dwarf) {
		__u32 zero = 0;
		int fd = bpf_program__fd(c->skel->progs.heap_walk);

		if (bpf_map_update_elem(bpf_map__fd(c->skel->maps.walker_prog), &zero, &fd, BPF_ANY)) {
			err = -errno;
			goto cleanup;
		}
	}
	return c;
cleanup:
	heap_collector__free(c);
	errno = -err;
	return NULL;
}

void heap_collector__detach(struct heap_collector *c)
{
	for (size_t i = 0; i < c->nlinks; i++)
		bpf_link__destroy(c->links[i]);
	c->nlinks = 0;
	for (size_t i = 0; i < c->nmlinks; i++)
		close(c->mlinks[i]);
	c->nmlinks = 0;
}

int heap_collector__snapshot(struct heap_collector *c, heap_sample_fn fn, void *ctx)
{
	int counts_fd = bpf_map__fd(c->skel->maps.heap_counts);
	int stacks_fd = bpf_map__fd(c->skel->maps.heap_stacks);
	void *prev = NULL;
	int n = 0;

	while (n < (int)c->max_keys && !bpf_map_get_next_key(counts_fd, prev, &c->keys[n])) {
		prev = &c->keys[n];
		n++;
	}
	for (int i = 0; i < n; i++) {
		struct heap_sample s = { .key = &c->keys[i] };

		if (bpf_map_lookup_elem(counts_fd, &c->keys[i], &s.counts))
			continue;
		if (bpf_map_lookup_elem(stacks_fd, &c->keys[i].stack_hash, &c->stack)) {
			c->stacks_missing++;
			continue;
		}
		s.frames = (const uint64_t *)c->stack.frames;
		s.nframes = c->stack.nframes < PROFD_MAX_STACK_DEPTH ? c->stack.nframes
								     : PROFD_MAX_STACK_DEPTH;
		fn(&s, ctx);
	}
	return n;
}

void heap_collector__stats(const struct heap_collector *c, struct heap_stats *st)
{
	memset(st, 0, sizeof(*st));
	st->probe_kind = uprobe_multi__name(c->multi);
	st->stacks_missing = c->stacks_missing;
	st->probes = c->probes;
	st->emulated = c->emulated;
	metrics__sum(bpf_map__fd(c->skel->maps.metrics), st->metrics, PROFD_HEAP_METRIC_MAX);
	if (c->dwarf) {
		st->walk_mismatch = __atomic_load_n(&c->skel->bss->walk_mismatch, __ATOMIC_RELAXED);
		metrics__sum(bpf_map__fd(c->skel->maps.unw_metrics), st->unw, PROFD_UNW_M_MAX);
	}
}
