// SPDX-License-Identifier: Apache-2.0
/* frames: symbolize stacks into pprof locations. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "aggregate/frames.h"
#include "pprof/pprof.h"
#include "profd/python.h"
#include "python/python.h"
#include "symbolize/symbolizer.h"

/* The last mapping one frames__locations() call added, so that the frames
 * of one binary (most of a stack) intern its path and build id once. The
 * symbolizer's mapping records stay put during the call. */
struct map_memo {
	const struct sym_mapping *map;
	uint64_t id;
};

/* The pprof mapping of a symbolizer mapping: found, or added. 0 on
 * allocation failure. */
static uint64_t mapping_of(struct pprof *p, const struct sym_mapping *m)
{
	return pprof__mapping(p, &(struct pprof_mapping){
					 .start = m->start,
					 .limit = m->limit,
					 .offset = m->offset,
					 .filename = m->path,
					 .build_id = m->build_id,
				 });
}

/* What f's lines tell its mapping (PPROF_HAS_*, without FUNCTIONS). */
static unsigned frame_flags(const struct sym_frame *f)
{
	unsigned flags = 0;

	for (size_t i = 0; i < f->nlines; i++) {
		if (f->lines[i].file)
			flags |= PPROF_HAS_FILENAMES;
		if (f->lines[i].line)
			flags |= PPROF_HAS_LINE_NUMBERS;
	}
	/* DWARF describes inlining: a single line from it is a truthful
	 * "not inlined". */
	if (f->nlines > 1 || (f->flags & SYM_FRAME_DEBUG_INFO))
		flags |= PPROF_HAS_INLINE_FRAMES;
	return flags;
}

/* f's lines (at most cap) as pprof lines, their functions made: how many,
 * or -ENOMEM. */
static ssize_t frame_lines(struct pprof *p, const struct sym_frame *f, struct pprof_line *lines,
			   size_t cap)
{
	size_t n = 0;

	for (size_t i = 0; i < f->nlines && n < cap; i++) {
		const struct sym_line *l = &f->lines[i];

		lines[n].function_id = pprof__function(p, l->name, l->system_name, l->file,
						       l->start_line);
		if (!lines[n].function_id)
			return -ENOMEM;
		lines[n++].line = l->line;
	}
	return (ssize_t)n;
}

/* One frame → Location id (0 on allocation failure). The Location address
 * is the address looked up: PC for a leaf, return address - 1 for callers,
 * as Go writes them. A Location already in the profile keeps the lines it
 * was added with, so a frame seen before builds none: only its mapping is
 * marked as the lines would mark it. */
static uint64_t frame_location(struct pprof *p, const struct sym_frame *f, uint64_t addr,
			       struct map_memo *memo, struct frames_stats *st)
{
	struct pprof_line lines[SYM_MAX_INLINE];
	uint64_t mapping_id = 0, loc;
	unsigned flags = frame_flags(f);

	if (f->map && f->map == memo->map) {
		mapping_id = memo->id;
	} else if (f->map) {
		mapping_id = mapping_of(p, f->map);
		if (!mapping_id)
			return 0;
		*memo = (struct map_memo){ .map = f->map, .id = mapping_id };
	}
	st->frames++;
	if (f->flags & SYM_FRAME_DEFERRED)
		st->deferred++;
	else
		st->unsymbolized += f->nlines == 0;
	/* Seen before in this profile (most frames are): its lines won then,
	 * so do not make their functions again (hashing their strings was two
	 * thirds of building a 1000-sample profile). */
	loc = pprof__location_find(p, mapping_id, addr);
	if (!loc) {
		ssize_t n = frame_lines(p, f, lines, SYM_MAX_INLINE);

		if (n < 0)
			return 0;
		loc = pprof__location(p, mapping_id, addr, lines, (size_t)n);
	}
	if (loc && mapping_id && f->nlines)
		pprof__mapping_mark(p, mapping_id, flags | PPROF_HAS_FUNCTIONS);
	return loc;
}

/* A Python frame (include/profd/python.h) → its own Location and Function:
 * no mapping, an address of its own per (pid, code object, instruction). */
static uint64_t python_location(struct pprof *p, pid_t pid, uint64_t v, struct frames_stats *st)
{
	struct python_frame pf;
	struct pprof_line line;
	uint64_t h = (v ^ ((uint64_t)pid * 0x9e3779b97f4a7c15ULL)) * 0x100000001b3ULL;
	uint64_t addr = (PROFD_PY_TAG << 60) | (h >> 4), loc;

	loc = pprof__location_find(p, 0, addr);
	if (loc) {
		st->frames++;
		return loc;
	}
	python__frame(pid, v, &pf);
	line.function_id = pprof__function(p, pf.name, pf.name, pf.file[0] ? pf.file : NULL,
					   pf.start_line);
	if (!line.function_id)
		return 0;
	line.line = pf.line;
	st->frames++;
	return pprof__location(p, 0, addr, &line, 1);
}

int frames__locations(struct pprof *p, struct symbolizer *s, pid_t pid,
		      const uint64_t *kstack, size_t nk, const uint64_t *ustack, size_t nu,
		      enum frames_user_leaf leaf, uint64_t *locs, size_t cap,
		      struct frames_stats *st)
{
	struct map_memo memo = { 0 };
	struct sym_frame f;
	size_t n = 0;
	int err;

	for (size_t i = 0; i < nk && n < cap; i++) {
		uint64_t addr = i ? kstack[i] - 1 : kstack[i];

		err = symbolizer__kernel(s, addr, &f);
		if (err)
			f = (struct sym_frame){};
		locs[n] = frame_location(p, &f, addr, &memo, st);
		if (!locs[n])
			return -ENOMEM;
		n++;
	}
	for (size_t i = 0; i < nu && n < cap; i++) {
		/* Below a kernel part the first user PC is where the syscall
		 * (or fault) returns to, like any caller's return address. */
		int exact = i == 0 && nk == 0 && leaf == FRAMES_LEAF_EXACT;
		uint64_t addr = exact ? ustack[i] : ustack[i] - 1;

		if (PROFD_PY_IS_FRAME(ustack[i])) {
			locs[n] = python_location(p, pid, ustack[i], st);
			if (!locs[n])
				return -ENOMEM;
			n++;
			continue;
		}
		err = symbolizer__user(s, pid, addr, &f);
		if (err)
			f = (struct sym_frame){};
		locs[n] = frame_location(p, &f, addr, &memo, st);
		if (!locs[n])
			return -ENOMEM;
		n++;
	}
	return n;
}

struct kernel_fill {
	struct pprof *p;
	struct symbolizer *s;
	size_t named;
};

static size_t kernel_lines(void *ctx, uint64_t addr, struct pprof_line *lines, size_t cap)
{
	struct kernel_fill *k = ctx;
	struct sym_frame f;
	ssize_t n;

	if (symbolizer__kernel(k->s, addr, &f))
		return 0;
	n = frame_lines(k->p, &f, lines, cap);
	if (n < 0)
		return 0;
	k->named += n > 0;
	return (size_t)n;
}

int frames__kernel_resolve(struct pprof *p, struct symbolizer *s)
{
	struct kernel_fill k = { .p = p, .s = s };
	struct sym_mapping km;
	struct sym_frame f;
	uint64_t id;
	int err;

	if (!symbolizer__kernel_undefer(s, &km))
		return 0;
	/* The mapping the deferred frames were added under (found, not made:
	 * the lookups that were deferred added it). */
	id = mapping_of(p, &km);
	if (!id)
		return -errno;
	err = pprof__fill_locations(p, id, kernel_lines, &k);
	if (err)
		return err;
	symbolizer__kernel(s, 0, &f); /* the mapping as kallsyms gave it */
	if (f.map)
		pprof__mapping_set_range(p, id, f.map->start, f.map->limit);
	if (k.named)
		pprof__mapping_mark(p, id, PPROF_HAS_FUNCTIONS);
	return 0;
}

struct user_fill {
	struct pprof *p;
	struct symbolizer *s;
	const struct sym_mapping *map;
	unsigned flags; /* the mapping's, as frame_location() marks them */
	size_t looked_up, named;
	int err;
};

static size_t user_lines(void *ctx, uint64_t addr, struct pprof_line *lines, size_t cap)
{
	struct user_fill *u = ctx;
	struct sym_frame f;
	ssize_t n;

	u->looked_up++;
	if (symbolizer__user_late(u->s, u->map, addr, &f) || !f.nlines)
		return 0;
	n = frame_lines(u->p, &f, lines, cap);
	if (n < 0) {
		u->err = (int)n;
		return 0;
	}
	u->flags |= frame_flags(&f) | PPROF_HAS_FUNCTIONS;
	u->named++;
	return (size_t)n;
}

int frames__user_resolve(struct pprof *p, struct symbolizer *s, struct frames_stats *st)
{
	size_t npins = symbolizer__user_undefer(s), ndone = 0;
	struct user_fill u = { .p = p, .s = s };
	uint8_t *done = NULL, *nd;
	int err = 0;

	for (size_t i = 0; i < npins && !err; i++) {
		const struct sym_mapping *m = symbolizer__user_deferred(s, i);
		uint64_t id;

		/* The mapping the deferred frames were added under (found:
		 * the lookups added it). Processes mapping a binary alike
		 * share it, and its locations: the first pin fills them. */
		id = mapping_of(p, m);
		if (!id) {
			err = -errno;
			break;
		}
		if (id > ndone) {
			nd = realloc(done, id * 2);
			if (!nd) {
				err = -ENOMEM;
				break;
			}
			memset(nd + ndone, 0, id * 2 - ndone);
			done = nd;
			ndone = id * 2;
		}
		if (done[id - 1])
			continue;
		done[id - 1] = 1;
		u.map = m;
		u.flags = 0;
		err = pprof__fill_locations(p, id, user_lines, &u);
		if (!err)
			err = u.err;
		if (!err && u.flags)
			err = pprof__mapping_mark(p, id, u.flags);
	}
	free(done);
	if (st) {
		st->frames = u.looked_up;
		st->unsymbolized = u.looked_up - u.named;
	}
	return err;
}

int frames__main_mapping(struct pprof *p, struct symbolizer *s, pid_t pid)
{
	const struct sym_mapping *sm = symbolizer__main_mapping(s, pid);
	struct pprof_mapping m;

	if (!sm)
		return -ENOENT;
	m = (struct pprof_mapping){
		.start = sm->start,
		.limit = sm->limit,
		.offset = sm->offset,
		.filename = sm->path,
		.build_id = sm->build_id,
	};
	return pprof__mapping(p, &m) ? 0 : -errno;
}

void task_labels__fill(struct task_labels *tl, uint32_t pid, uint32_t tid,
		       const char *comm16, const char *thread16)
{
	memcpy(tl->comm, comm16, 16);
	tl->comm[16] = '\0';
	memcpy(tl->thread, thread16, 16);
	tl->thread[16] = '\0';
	/* An empty string label vanishes in pprof: say "?" instead. */
	tl->l[0] = (struct pprof_label){ .key = "pid", .num = pid };
	tl->l[1] = (struct pprof_label){ .key = "tid", .num = tid };
	tl->l[2] = (struct pprof_label){ .key = "comm", .str = tl->comm[0] ? tl->comm : "?" };
	tl->l[3] = (struct pprof_label){ .key = "thread", .str = tl->thread[0] ? tl->thread : "?" };
}
