/* SPDX-License-Identifier: Apache-2.0 */
/* pprof_internal: the builder's tables, shared by pprof.c (building) and
 * encode.c (serializing). Not for use outside daemon/pprof/. */
#ifndef PROFD_PPROF_INTERNAL_H
#define PROFD_PPROF_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pprof/pprof.h"
#include "util/hashmap.h"

#define PPROF_HAS_ALL \
	(PPROF_HAS_FUNCTIONS | PPROF_HAS_FILENAMES | PPROF_HAS_LINE_NUMBERS | PPROF_HAS_INLINE_FRAMES)

#define PP_MAPPING_RECENT 16      /* a power of two */
#define PP_FUNCTION_RECENT 64     /* a power of two */

/* String fields below are string table indexes; 0 is "". */
struct pp_value_type {
	uint32_t type;
	uint32_t unit;
};

struct pp_mapping {
	uint64_t start, limit, offset;
	uint32_t filename, build_id;
	unsigned int flags;   /* PPROF_HAS_* */
};

struct pp_function {
	uint32_t name, system_name, filename;
	int64_t start_line;
};

/* A slice [off, off + len) of one of the pools. */
struct pp_span {
	size_t off;
	size_t len;
};

struct pp_location {
	uint64_t mapping_id;
	uint64_t address;
	struct pp_span lines;   /* into pprof.lines */
};

/* Interned label. A string label has num == 0 and unit == 0. The explicit
 * pad keeps the struct free of compiler padding, so label sets can be
 * hashed and compared as bytes. */
struct pp_label {
	int64_t num;
	uint32_t key;
	uint32_t str;
	uint32_t unit;
	uint32_t zero;
};
_Static_assert(sizeof(struct pp_label) == 24, "struct pp_label must have no hidden padding");

struct pp_sample {
	uint32_t stack;      /* index into pprof.stacks */
	uint32_t labelset;   /* index into pprof.labelsets */
};

struct pprof {
	char **strs;                      /* the string table; strs[0] = "" */
	size_t nstrs, strs_cap;
	struct hashmap str_map;

	struct pp_value_type *types;
	size_t ntypes, types_cap;
	struct pp_value_type period_type;
	bool has_period;
	int64_t period;
	uint32_t default_sample_type;
	int64_t time_nanos, duration_nanos;
	int64_t *comments;                /* string indexes, as in the proto */
	size_t ncomments, comments_cap;

	struct pp_mapping *mappings;      /* id = index + 1 */
	size_t nmappings, mappings_cap;
	struct hashmap mapping_map;
	/* Mapping ids by memory start, checked in full before use: a stack's
	 * frames ask for the same few mappings over and over, and comparing
	 * two strings costs a third of interning them. 0: empty. */
	uint32_t mapping_recent[PP_MAPPING_RECENT];

	struct pp_function *functions;    /* id = index + 1 */
	size_t nfunctions, functions_cap;
	struct hashmap function_map;
	/* Function ids by name pointer, checked in full before use. 0: empty. */
	uint32_t function_recent[PP_FUNCTION_RECENT];

	struct pp_location *locations;    /* id = index + 1 */
	size_t nlocations, locations_cap;
	struct hashmap location_map;
	struct pprof_line *lines;         /* pool of every location's lines */
	size_t nlines, lines_cap;

	/* Distinct location-id lists; several samples (different labels) share one. */
	struct pp_span *stacks;
	size_t nstacks, stacks_cap;
	uint64_t *stack_pool;
	size_t stack_pool_len, stack_pool_cap;
	struct hashmap stack_map;

	/* Distinct sorted label sets; most samples share a handful. */
	struct pp_span *labelsets;
	size_t nlabelsets, labelsets_cap;
	struct pp_label *label_pool;
	size_t label_pool_len, label_pool_cap;
	struct hashmap labelset_map;

	struct pp_sample *samples;
	size_t nsamples, samples_cap;
	int64_t *values;                  /* nsamples x ntypes, row-major */
	size_t values_cap;
	struct hashmap sample_map;
};

/* Fault injection for the unit tests, which define this hook (true: fail
 * this allocation with ENOMEM) to walk every out-of-memory path. The
 * daemon does not define it: the weak reference is NULL there. */
extern bool pprof_test_alloc_fails(void) __attribute__((weak));

/* Allocation wrappers honouring pprof_test_alloc_fails(). */
bool pprof_alloc_should_fail(void);
void *pprof_reallocarray(void *ptr, size_t n, size_t size);

#endif
