// SPDX-License-Identifier: Apache-2.0
/* gapwalk: unwind rules for wait.bpf.c from .eh_frame, and exemplar
 * unwinding in the agent. */
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "binary/elf.h"
#include "binary/file.h"
#include "binary/image.h"
#include "binary/procmaps.h"
#include "symbolize/symbolizer.h"
#include "unwind/gapwalk.h"
#include "unwind/unwind.h"

static int window_read(void *ctx, __u64 addr, __u64 *out);
#define PROFD_WAIT_READ(ctx, addr, out) window_read(ctx, addr, out)
#define PROFD_WAIT_STEP_IMPL
#include "profd/wait.h"

#define MAX_LOADS 16
/* A file whose table could not be built is not retried before this. */
#define RETRY_NS (10ULL * 1000000000ULL)

struct gw_load {
	uint64_t offset;
	uint64_t filesz;
	uint64_t vaddr;
};

/* One ELF file: its table (NULL: no CFI, frame pointers everywhere) and
 * the PT_LOAD segments that turn a file offset into a vaddr. Hung on the
 * file's image (the symbolizer's) as its BINARY_VIEW_UNWIND, so it lives
 * as long as the symbolizer keeps the file. */
struct gw_file {
	struct unwind_table *t;
	struct gw_load loads[MAX_LOADS];
	size_t nloads;
	int failed;               /* could not be opened or parsed */
	uint64_t failed_at;       /* CLOCK_MONOTONIC ns */
};

struct gapwalk {
	struct symbolizer *sym;
	struct gapwalk_stats st;
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static void gw_file__free(void *data)
{
	struct gw_file *f = data;

	unwind_table__free(f->t);
	free(f);
}

struct gapwalk *gapwalk__new(struct symbolizer *sym)
{
	struct gapwalk *g;

	if (binary_elf_init()) {
		errno = EINVAL;
		return NULL;
	}
	g = calloc(1, sizeof(*g));
	if (!g)
		return NULL;
	g->sym = sym;
	return g;
}

void gapwalk__free(struct gapwalk *g)
{
	free(g);
}

void gapwalk__stats(const struct gapwalk *g, struct gapwalk_stats *st)
{
	*st = g->st;
}

void gapwalk_rule_from_unw(unsigned int row_rule, const struct profd_unw_rule *r,
			   struct profd_wait_rule *out)
{
	memset(out, 0, sizeof(*out));
	if (PROFD_UNW_IS_CMD(row_rule)) {
		switch (PROFD_UNW_CMD_OF(row_rule)) {
		case PROFD_UNW_CMD_FRAME_POINTER:
			out->cmd = PROFD_WAIT_RULE_FP;
			break;
		case PROFD_UNW_CMD_STOP:
			out->cmd = PROFD_WAIT_RULE_STOP;
			break;
		default: /* SIGNAL (a handler blocking is rare), INVALID */
			out->cmd = PROFD_WAIT_RULE_INVALID;
			break;
		}
		return;
	}
	out->cmd = PROFD_WAIT_RULE_INVALID;
	/* BPF knows rsp and rbp of every frame; other registers only of the
	 * first one, and it does not read them. */
	if (profd_unw_rule_frame0_only(r) || r->ra_how != PROFD_UNW_RA_AT_CFA)
		return;
	switch (r->cfa_kind) {
	case PROFD_UNW_CFA_REG:
		out->cfa_how = r->cfa_reg == PROFD_UNW_REG_RSP ? PROFD_WAIT_CFA_RSP
							       : PROFD_WAIT_CFA_RBP;
		break;
	case PROFD_UNW_CFA_DEREF:
		out->cfa_how = r->cfa_reg == PROFD_UNW_REG_RSP ? PROFD_WAIT_CFA_DEREF_RSP
							       : PROFD_WAIT_CFA_DEREF_RBP;
		break;
	case PROFD_UNW_CFA_PLT:
		out->cfa_how = PROFD_WAIT_CFA_PLT;
		break;
	default:
		return;
	}
	switch (r->rbp_how) {
	case PROFD_UNW_RBP_SAME:
		out->rbp_how = PROFD_WAIT_RBP_SAME;
		break;
	case PROFD_UNW_RBP_UNDEF:
		out->rbp_how = PROFD_WAIT_RBP_UNDEF;
		break;
	case PROFD_UNW_RBP_AT_CFA:
		out->rbp_how = PROFD_WAIT_RBP_AT_CFA;
		break;
	case PROFD_UNW_RBP_VAL_CFA:
		out->rbp_how = PROFD_WAIT_RBP_VAL_CFA;
		break;
	case PROFD_UNW_RBP_AT_RBP:
		out->rbp_how = PROFD_WAIT_RBP_AT_RBP;
		break;
	case PROFD_UNW_RBP_AT_RSP:
		out->rbp_how = PROFD_WAIT_RBP_AT_RSP;
		break;
	default:
		return;
	}
	out->cfa_off = r->cfa_off;
	out->cfa_aux = r->cfa_aux;
	out->rbp_off = r->rbp_off;
	out->ra_off = r->ra_off;
	out->cmd = PROFD_WAIT_RULE_STEP;
	/* A frame-pointer frame: BPF follows rbp from here, no more lookups. */
	if (out->cfa_how == PROFD_WAIT_CFA_RBP && out->cfa_off == 16 &&
	    out->rbp_how == PROFD_WAIT_RBP_AT_CFA && out->rbp_off == -16 && out->ra_off == -8) {
		memset(out, 0, sizeof(*out));
		out->cmd = PROFD_WAIT_RULE_FP;
	}
}

/* Open the file of mapping m in pid the way the process sees it. */
static int open_mapping(pid_t pid, const struct sym_mapping *m, struct stat *st)
{
	struct procmaps_entry e = {
		.start = m->start,
		.end = m->limit,
		.offset = m->offset,
		.flags = m->flags & (PROCMAPS_SPECIAL | PROCMAPS_DELETED),
		.path = m->path,
	};
	int fd;

	fd = binary_open_mapped(pid, &e, st);
	if (fd >= 0 || !m->path[0])
		return fd;
	/* The process is gone: the path as the agent sees it (the caller
	 * checks it is the same file). */
	return binary_open_regular(m->path, st);
}

static int read_loads(int fd, struct gw_file *f)
{
	struct elf_load loads[MAX_LOADS];
	Elf *elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	size_t n = 0;
	int err;

	if (!elf)
		return -EINVAL;
	err = elf_read_loads(elf, loads, MAX_LOADS, &n);
	elf_end(elf);
	if (err)
		return err;
	for (size_t i = 0; i < n; i++)
		f->loads[f->nloads++] = (struct gw_load){
			.offset = loads[i].offset,
			.filesz = loads[i].filesz,
			.vaddr = loads[i].vaddr,
		};
	return f->nloads ? 0 : -ENODATA;
}

/* The table of mapping m's file, built on first use and kept on its
 * image; NULL when it cannot be read (recently failed included). */
static struct gw_file *file_get(struct gapwalk *g, pid_t pid, const struct sym_mapping *m)
{
	struct binary_image *img = symbolizer__mapping_image(m);
	struct gw_file *f;
	struct stat st;
	int fd;

	if (!img)
		return NULL; /* the symbolizer could not open it either */
	f = binary_image__view(img, BINARY_VIEW_UNWIND);
	if (f && (!f->failed || now_ns() - f->failed_at <= RETRY_NS))
		return f->failed ? NULL : f;
	f = calloc(1, sizeof(*f));
	if (!f)
		return NULL;
	fd = open_mapping(pid, m, &st);
	if (fd < 0 || (img->have_stat && !binary_key__matches(&img->key, &st)) ||
	    read_loads(fd, f)) {
		f->failed = 1;
		f->failed_at = now_ns();
		g->st.table_errors++;
		if (fd >= 0)
			close(fd);
		binary_image__set_view(img, BINARY_VIEW_UNWIND, f, gw_file__free);
		return NULL;
	}
	f->t = unwind_table__build_fd(fd, NULL);
	close(fd);
	if (f->t)
		g->st.tables++;
	else if (errno != ENODATA)
		g->st.table_errors++;
	binary_image__set_view(img, BINARY_VIEW_UNWIND, f, gw_file__free);
	return f;
}

void gapwalk__rule(struct gapwalk *g, pid_t pid, uint64_t pc, bool leaf,
		   struct profd_wait_rule *out)
{
	uint64_t addr = leaf ? pc : pc - 1, off;
	struct profd_unw_rule r;
	struct sym_frame fr;
	struct gw_file *f;
	unsigned int row;

	memset(out, 0, sizeof(*out));
	out->cmd = PROFD_WAIT_RULE_FP;
	g->st.rules++;
	if (symbolizer__user(g->sym, pid, addr, &fr) || !fr.map ||
	    (fr.map->flags & (SYM_MAP_SPECIAL | SYM_MAP_KERNEL))) {
		g->st.no_file++;
		return;
	}
	f = file_get(g, pid, fr.map);
	if (!f || !f->t)
		return;
	off = addr - fr.map->start + fr.map->offset;
	for (size_t i = 0; i < f->nloads; i++) {
		const struct gw_load *l = &f->loads[i];

		if (off < l->offset || off - l->offset >= l->filesz)
			continue;
		row = unwind_table__lookup(f->t, off - l->offset + l->vaddr, &r);
		gapwalk_rule_from_unw(row, &r, out);
		return;
	}
}

static int window_read(void *ctx, __u64 addr, __u64 *out)
{
	const struct profd_wait_exemplar *ex = ctx;

	if (addr < ex->base || addr - ex->base > ex->len || ex->len - (addr - ex->base) < 8)
		return -1;
	memcpy(out, ex->bytes + (addr - ex->base), 8);
	return 0;
}

size_t gapwalk__unwind(struct gapwalk *g, pid_t pid, const struct profd_wait_exemplar *ex,
		       uint64_t splice_bp, uint64_t *out, size_t cap, enum gapwalk_end *end,
		       gapwalk_learn_fn learn, void *ctx)
{
	struct profd_wait_regs w = ex->regs;
	struct profd_wait_rule_key key = { .tgid = ex->tgid, .asid = ex->asid };
	struct profd_wait_rule r;
	size_t n = 0;

	*end = GAPWALK_TRUNC;
	if (ex->len > sizeof(ex->bytes))
		return 0;
	while (n < cap) {
		gapwalk__rule(g, pid, w.pc, w.leaf, &r);
		key.pc = w.pc;
		key.leaf = w.leaf;
		if (learn)
			learn(ctx, &key, &r);
		if (r.cmd == PROFD_WAIT_RULE_FP)
			break;
		if (r.cmd == PROFD_WAIT_RULE_STOP) {
			*end = GAPWALK_ROOT;
			return n;
		}
		if (r.cmd != PROFD_WAIT_RULE_STEP ||
		    profd_wait_step(&r, &w, (void *)ex))
			return n;
		out[n++] = w.pc;
	}
	if (n == cap)
		return n;
	if (w.bp == splice_bp) {
		*end = GAPWALK_SPLICE;
		return n;
	}
	/* rbp differs from where BPF followed frame pointers: follow them here,
	 * as far as the window holds the frames. The chain ends where BPF's
	 * would (GAPWALK_FP_END); a frame outside the window truncates. */
	*end = GAPWALK_FP_END;
	while (n < cap) {
		__u64 next_bp, ra;

		if (!w.bp || (w.bp & 7) || w.bp < w.sp)
			break;
		if (window_read((void *)ex, w.bp, &next_bp) ||
		    window_read((void *)ex, w.bp + 8, &ra)) {
			*end = GAPWALK_TRUNC;
			break;
		}
		if (!ra)
			break;
		out[n++] = ra;
		w.sp = w.bp + 16;
		w.bp = next_bp;
	}
	if (n == cap)
		*end = GAPWALK_TRUNC;
	return n;
}
