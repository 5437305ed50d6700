// SPDX-License-Identifier: Apache-2.0
/* waitgraph: see waitgraph.h. */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "aggregate/waitgraph.h"

struct idx {
	int32_t tid;
	int i;
};

static int cmp_idx(const void *a, const void *b)
{
	const struct idx *x = a, *y = b;

	if (x->tid != y->tid)
		return x->tid < y->tid ? -1 : 1;
	return x->i - y->i;
}

static int find(const struct idx *ix, size_t n, int32_t tid)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (ix[mid].tid < tid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < n && ix[lo].tid == tid ? ix[lo].i : -1;
}

void waitgraph__free(struct wg_result *r)
{
	free(r->next);
	free(r->cycle);
	free(r->end);
	free(r->end_node);
	free(r->missing);
	free(r->cycle_start);
	free(r->cycle_nodes);
	memset(r, 0, sizeof(*r));
}

struct cyc {
	int32_t min_tid;
	int start; /* node of the cycle with min_tid */
	int len;
};

static int cmp_cyc(const void *a, const void *b)
{
	const struct cyc *x = a, *y = b;

	return (x->min_tid > y->min_tid) - (x->min_tid < y->min_tid);
}

int waitgraph__build(const struct wg_node *nodes, size_t n, struct wg_result *out)
{
	struct idx *ix = calloc(n ? n : 1, sizeof(*ix));
	unsigned char *color = calloc(n ? n : 1, 1); /* 0 new, 1 on path, 2 done */
	char *dup = calloc(n ? n : 1, 1);
	struct cyc *cy = calloc(n ? n : 1, sizeof(*cy));
	int *path = calloc(n ? n : 1, sizeof(int));
	size_t ncy = 0, ncn = 0;

	memset(out, 0, sizeof(*out));
	out->n = n;
	out->next = calloc(n ? n : 1, sizeof(int));
	out->cycle = calloc(n ? n : 1, sizeof(int));
	out->end = calloc(n ? n : 1, sizeof(*out->end));
	out->end_node = calloc(n ? n : 1, sizeof(int));
	out->missing = calloc(n ? n : 1, sizeof(int32_t));
	if (!ix || !color || !dup || !cy || !path || !out->next || !out->cycle || !out->end ||
	    !out->end_node || !out->missing)
		goto nomem;
	for (size_t i = 0; i < n; i++)
		ix[i] = (struct idx){ nodes[i].tid, (int)i };
	qsort(ix, n, sizeof(*ix), cmp_idx);
	/* Later duplicates of a tid: ignored. */
	for (size_t i = 1; i < n; i++)
		if (ix[i].tid == ix[i - 1].tid)
			dup[ix[i].i] = 1;
	for (size_t i = 0; i < n; i++) {
		out->next[i] = -1;
		out->end_node[i] = -1;
		if (dup[i] || nodes[i].owner <= 0)
			continue;
		out->next[i] = find(ix, n, nodes[i].owner);
		if (out->next[i] >= 0 && dup[out->next[i]])
			out->next[i] = -1;
	}
	/* Follow each chain once: a functional graph (one edge out at most). */
	for (size_t s = 0; s < n; s++) {
		size_t np = 0;
		int v = (int)s;

		while (v >= 0 && color[v] == 0) {
			color[v] = 1;
			path[np++] = v;
			v = out->next[v];
		}
		if (v >= 0 && color[v] == 1) {
			/* A new cycle: from v to the end of the path. */
			struct cyc c = { .min_tid = nodes[v].tid, .start = v, .len = 0 };
			int u = v;

			do {
				c.len++;
				if (nodes[u].tid < c.min_tid) {
					c.min_tid = nodes[u].tid;
					c.start = u;
				}
				out->cycle[u] = -1; /* numbered below */
				u = out->next[u];
			} while (u != v);
			cy[ncy++] = c;
			ncn += c.len;
		}
		for (size_t k = 0; k < np; k++)
			color[path[k]] = 2;
	}
	qsort(cy, ncy, sizeof(*cy), cmp_cyc);
	out->ncycles = ncy;
	out->cycle_start = calloc(ncy + 1, sizeof(size_t));
	out->cycle_nodes = calloc(ncn ? ncn : 1, sizeof(int));
	if (!out->cycle_start || !out->cycle_nodes)
		goto nomem;
	ncn = 0;
	for (size_t c = 0; c < ncy; c++) {
		int u = cy[c].start;

		out->cycle_start[c] = ncn;
		for (int k = 0; k < cy[c].len; k++) {
			out->cycle[u] = (int)c + 1;
			out->cycle_nodes[ncn++] = u;
			u = out->next[u];
		}
	}
	out->cycle_start[ncy] = ncn;
	/* Where each chain ends. Bounded: a chain not in a cycle has at most n
	 * edges. */
	for (size_t i = 0; i < n; i++) {
		int v = (int)i, last = (int)i;
		size_t steps = 0;

		if (dup[i] || nodes[i].owner == WG_NOT_WAITING) {
			out->end[i] = WG_END_NONE;
			continue;
		}
		while (v >= 0 && !out->cycle[v] && steps++ <= n) {
			last = v;
			if (nodes[v].owner == WG_NOT_WAITING || dup[v]) {
				out->end[i] = WG_END_HOLDER;
				out->end_node[i] = v;
				break;
			}
			if (nodes[v].owner < 0) {
				out->end[i] = WG_END_UNKNOWN;
				out->end_node[i] = v;
				break;
			}
			if (out->next[v] < 0) {
				out->end[i] = WG_END_MISSING;
				out->end_node[i] = v;
				out->missing[i] = nodes[v].owner;
				break;
			}
			v = out->next[v];
		}
		if (v >= 0 && out->cycle[v]) {
			out->end[i] = WG_END_CYCLE;
			out->end_node[i] = v;
		}
		(void)last;
	}
	free(ix);
	free(color);
	free(dup);
	free(cy);
	free(path);
	return 0;
nomem:
	free(ix);
	free(color);
	free(dup);
	free(cy);
	free(path);
	waitgraph__free(out);
	return -ENOMEM;
}
