// SPDX-License-Identifier: Apache-2.0
/* pprof: the profile builder. Interns strings, mappings, functions,
 * locations, stacks and label sets into dense arrays (index + 1 = id) with a
 * hash index each, and merges samples keyed on (stack, label set). The
 * encoder (encode.c) turns these arrays into a profile.proto message. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "pprof/pprof_internal.h"

bool pprof_alloc_should_fail(void)
{
	return pprof_test_alloc_fails && pprof_test_alloc_fails();
}

void *pprof_reallocarray(void *ptr, size_t n, size_t size)
{
	if (pprof_alloc_should_fail())
		return NULL;
	return reallocarray(ptr, n, size);
}

static char *pp_strdup(const char *s)
{
	if (pprof_alloc_should_fail())
		return NULL;
	return strdup(s);
}

/* Grows the array *arrp (capacity *cap, len used) to hold n more elements.
 * The array pointer is passed as void * and copied with memcpy so that one
 * helper serves every element type without type-punned pointer writes. */
static int reserve(void *arrp, size_t *cap, size_t len, size_t n, size_t size)
{
	void *arr, *grown;
	size_t want, ncap;

	if (n <= *cap - len)
		return 0;
	if (n > SIZE_MAX / size - len)
		return -ENOMEM;
	want = len + n;
	for (ncap = *cap ? *cap : 16; ncap < want;)
		ncap = ncap > SIZE_MAX / 4 ? want : ncap * 2;
	memcpy(&arr, arrp, sizeof(arr));
	grown = pprof_reallocarray(arr, ncap, size);
	if (!grown)
		return -ENOMEM;
	memcpy(arrp, &grown, sizeof(grown));
	*cap = ncap;
	return 0;
}

#define RESERVE(arr, cap, len, n) reserve(&(arr), &(cap), (len), (n), sizeof(*(arr)))

/* hashmap__reserve() is the other allocation site; route it through the
 * failure injection too so tests reach every ENOMEM path. */
static int map_reserve(struct hashmap *h, size_t n)
{
	if (pprof_alloc_should_fail())
		return -ENOMEM;
	return hashmap__reserve(h, n);
}

/* Public int-returning functions also set errno, as libbpf's do. */
static int ret_err(int err)
{
	if (err < 0)
		errno = -err;
	return err;
}

static uint64_t id_err(int err)
{
	errno = -err;
	return 0;
}

struct pprof *pprof__new(void)
{
	struct pprof *p;

	p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	/* string_table[0] must be "": index 0 means "unset" everywhere. */
	if (RESERVE(p->strs, p->strs_cap, 0, 1))
		goto fail;
	p->strs[0] = pp_strdup("");
	if (!p->strs[0])
		goto fail;
	p->nstrs = 1;
	return p;
fail:
	pprof__free(p);
	errno = ENOMEM;
	return NULL;
}

void pprof__free(struct pprof *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->nstrs; i++)
		free(p->strs[i]);
	free(p->strs);
	free(p->types);
	free(p->comments);
	free(p->mappings);
	free(p->functions);
	free(p->locations);
	free(p->lines);
	free(p->stack_pool);
	free(p->stacks);
	free(p->label_pool);
	free(p->labelsets);
	free(p->samples);
	free(p->values);
	hashmap__done(&p->str_map);
	hashmap__done(&p->mapping_map);
	hashmap__done(&p->function_map);
	hashmap__done(&p->location_map);
	hashmap__done(&p->stack_map);
	hashmap__done(&p->labelset_map);
	hashmap__done(&p->sample_map);
	free(p);
}

static bool str_eq(const void *ctx, uint32_t idx, const void *key)
{
	const struct pprof *p = ctx;

	return !strcmp(p->strs[idx], key);
}

/* NULL and "" are index 0, which is never in the hash index. */
static int intern(struct pprof *p, const char *s, uint32_t *out)
{
	uint64_t hash;
	uint32_t idx;
	char *copy;
	int err;

	if (!s || !*s) {
		*out = 0;
		return 0;
	}
	hash = hash_bytes(s, strlen(s), 0);
	idx = hashmap__find(&p->str_map, hash, str_eq, p, s);
	if (idx != HASHMAP_NONE) {
		*out = idx;
		return 0;
	}
	err = RESERVE(p->strs, p->strs_cap, p->nstrs, 1);
	if (err)
		return err;
	err = map_reserve(&p->str_map, 1);
	if (err)
		return err;
	copy = pp_strdup(s);
	if (!copy)
		return -ENOMEM;
	p->strs[p->nstrs] = copy;
	hashmap__insert(&p->str_map, hash, p->nstrs);
	*out = p->nstrs++;
	return 0;
}

int pprof__add_sample_type(struct pprof *p, const char *type, const char *unit)
{
	struct pp_value_type vt;
	int err;

	/* Every sample carries one value per type: the set is fixed once a
	 * sample exists. */
	if (!p || !type || !*type || p->nsamples)
		return ret_err(-EINVAL);
	err = RESERVE(p->types, p->types_cap, p->ntypes, 1);
	if (!err)
		err = intern(p, type, &vt.type);
	if (!err)
		err = intern(p, unit, &vt.unit);
	if (err)
		return ret_err(err);
	p->types[p->ntypes++] = vt;
	return 0;
}

int pprof__set_period(struct pprof *p, const char *type, const char *unit, int64_t period)
{
	struct pp_value_type vt;
	int err;

	if (!p || !type || !*type)
		return ret_err(-EINVAL);
	err = intern(p, type, &vt.type);
	if (!err)
		err = intern(p, unit, &vt.unit);
	if (err)
		return ret_err(err);
	p->period_type = vt;
	p->has_period = true;
	p->period = period;
	return 0;
}

int pprof__set_default_sample_type(struct pprof *p, const char *type)
{
	uint32_t idx;
	int err;

	if (!p)
		return ret_err(-EINVAL);
	err = intern(p, type, &idx);
	if (err)
		return ret_err(err);
	p->default_sample_type = idx;
	return 0;
}

void pprof__set_time(struct pprof *p, int64_t time_nanos, int64_t duration_nanos)
{
	if (!p)
		return;
	p->time_nanos = time_nanos;
	p->duration_nanos = duration_nanos;
}

int pprof__add_comment(struct pprof *p, const char *comment)
{
	uint32_t idx;
	int err;

	if (!p || !comment || !*comment)
		return ret_err(-EINVAL);
	err = RESERVE(p->comments, p->comments_cap, p->ncomments, 1);
	if (!err)
		err = intern(p, comment, &idx);
	if (err)
		return ret_err(err);
	p->comments[p->ncomments++] = idx;
	return 0;
}

static uint64_t mapping_hash(const struct pp_mapping *m)
{
	uint64_t h = hash_u64(m->start);

	h = hash_combine(h, m->limit);
	h = hash_combine(h, m->offset);
	h = hash_combine(h, m->filename);
	return hash_combine(h, m->build_id);
}

static bool mapping_eq(const void *ctx, uint32_t idx, const void *key)
{
	const struct pp_mapping *a = &((const struct pprof *)ctx)->mappings[idx], *b = key;

	return a->start == b->start && a->limit == b->limit && a->offset == b->offset &&
	       a->filename == b->filename && a->build_id == b->build_id;
}

static bool str_is(const struct pprof *p, uint32_t idx, const char *s)
{
	return !strcmp(p->strs[idx], s ? s : "");
}

uint64_t pprof__mapping(struct pprof *p, const struct pprof_mapping *m)
{
	struct pp_mapping key = { 0 };
	uint32_t idx, *recent;
	uint64_t hash;
	int err;

	if (!p || !m)
		return id_err(-EINVAL);
	recent = &p->mapping_recent[hash_u64(m->start) & (PP_MAPPING_RECENT - 1)];
	if (*recent) {
		const struct pp_mapping *r = &p->mappings[*recent - 1];

		if (r->start == m->start && r->limit == m->limit && r->offset == m->offset &&
		    str_is(p, r->filename, m->filename) && str_is(p, r->build_id, m->build_id))
			return *recent;
	}
	key.start = m->start;
	key.limit = m->limit;
	key.offset = m->offset;
	err = intern(p, m->filename, &key.filename);
	if (!err)
		err = intern(p, m->build_id, &key.build_id);
	if (err)
		return id_err(err);
	hash = mapping_hash(&key);
	idx = hashmap__find(&p->mapping_map, hash, mapping_eq, p, &key);
	if (idx != HASHMAP_NONE)
		return *recent = idx + 1;
	err = RESERVE(p->mappings, p->mappings_cap, p->nmappings, 1);
	if (!err)
		err = map_reserve(&p->mapping_map, 1);
	if (err)
		return id_err(err);
	p->mappings[p->nmappings] = key;
	hashmap__insert(&p->mapping_map, hash, p->nmappings);
	return *recent = ++p->nmappings;
}

int pprof__mapping_mark(struct pprof *p, uint64_t mapping_id, unsigned flags)
{
	if (!p || !mapping_id || mapping_id > p->nmappings || (flags & ~PPROF_HAS_ALL))
		return ret_err(-EINVAL);
	p->mappings[mapping_id - 1].flags |= flags;
	return 0;
}

static uint64_t function_hash(const struct pp_function *f)
{
	uint64_t h = hash_u64(f->name);

	h = hash_combine(h, f->system_name);
	h = hash_combine(h, f->filename);
	return hash_combine(h, (uint64_t)f->start_line);
}

static bool function_eq(const void *ctx, uint32_t idx, const void *key)
{
	const struct pp_function *a = &((const struct pprof *)ctx)->functions[idx], *b = key;

	return a->name == b->name && a->system_name == b->system_name &&
	       a->filename == b->filename && a->start_line == b->start_line;
}

uint64_t pprof__function(struct pprof *p, const char *name, const char *system_name,
			 const char *filename, int64_t start_line)
{
	struct pp_function key = { .start_line = start_line };
	uint32_t idx, *recent;
	uint64_t hash;
	int err;

	if (!p)
		return id_err(-EINVAL);
	/* A function's other addresses come next to each other (its other
	 * lines, callers of it from several places): compared in full, the
	 * recent one costs no hashing. */
	recent = &p->function_recent[hash_u64((uintptr_t)name) & (PP_FUNCTION_RECENT - 1)];
	if (*recent) {
		const struct pp_function *r = &p->functions[*recent - 1];

		if (r->start_line == start_line && str_is(p, r->name, name) &&
		    (system_name == name ? r->system_name == r->name
					 : str_is(p, r->system_name, system_name)) &&
		    str_is(p, r->filename, filename))
			return *recent;
	}
	err = intern(p, name, &key.name);
	if (!err && system_name == name) /* the usual case: once is enough */
		key.system_name = key.name;
	else if (!err)
		err = intern(p, system_name, &key.system_name);
	if (!err)
		err = intern(p, filename, &key.filename);
	if (err)
		return id_err(err);
	hash = function_hash(&key);
	idx = hashmap__find(&p->function_map, hash, function_eq, p, &key);
	if (idx != HASHMAP_NONE)
		return *recent = idx + 1;
	err = RESERVE(p->functions, p->functions_cap, p->nfunctions, 1);
	if (!err)
		err = map_reserve(&p->function_map, 1);
	if (err)
		return id_err(err);
	p->functions[p->nfunctions] = key;
	hashmap__insert(&p->function_map, hash, p->nfunctions);
	return *recent = ++p->nfunctions;
}

struct location_key {
	uint64_t mapping_id;
	uint64_t address;
};

static bool location_eq(const void *ctx, uint32_t idx, const void *key)
{
	const struct pp_location *a = &((const struct pprof *)ctx)->locations[idx];
	const struct location_key *b = key;

	return a->mapping_id == b->mapping_id && a->address == b->address;
}

uint64_t pprof__location_find(const struct pprof *p, uint64_t mapping_id, uint64_t address)
{
	struct location_key key = { mapping_id, address };
	uint32_t idx;

	if (!p)
		return 0;
	idx = hashmap__find(&p->location_map, hash_combine(hash_u64(mapping_id), address),
			    location_eq, p, &key);
	return idx == HASHMAP_NONE ? 0 : (uint64_t)idx + 1;
}

uint64_t pprof__location(struct pprof *p, uint64_t mapping_id, uint64_t address,
			 const struct pprof_line *lines, size_t nlines)
{
	struct location_key key = { mapping_id, address };
	struct pp_location *loc;
	uint64_t hash;
	uint32_t idx;
	int err;

	/* pprof rejects a Line whose function id is unknown, so refuse it here
	 * rather than write a profile nobody can read. */
	if (!p || mapping_id > p->nmappings || (nlines && !lines))
		return id_err(-EINVAL);
	for (size_t i = 0; i < nlines; i++)
		if (!lines[i].function_id || lines[i].function_id > p->nfunctions)
			return id_err(-EINVAL);
	hash = hash_combine(hash_u64(mapping_id), address);
	idx = hashmap__find(&p->location_map, hash, location_eq, p, &key);
	if (idx != HASHMAP_NONE)
		return (uint64_t)idx + 1;
	err = RESERVE(p->locations, p->locations_cap, p->nlocations, 1);
	if (!err)
		err = RESERVE(p->lines, p->lines_cap, p->nlines, nlines);
	if (!err)
		err = map_reserve(&p->location_map, 1);
	if (err)
		return id_err(err);
	loc = &p->locations[p->nlocations];
	loc->mapping_id = mapping_id;
	loc->address = address;
	loc->lines.off = p->nlines;
	loc->lines.len = nlines;
	if (nlines)
		memcpy(&p->lines[p->nlines], lines, nlines * sizeof(*lines));
	p->nlines += nlines;
	hashmap__insert(&p->location_map, hash, p->nlocations);
	return ++p->nlocations;
}

int pprof__fill_locations(struct pprof *p, uint64_t mapping_id, pprof_lines_fn fn, void *ctx)
{
	struct pprof_line lines[PPROF_MAX_FILL_LINES];

	if (!p || !mapping_id || mapping_id > p->nmappings || !fn)
		return ret_err(-EINVAL);
	for (size_t i = 0; i < p->nlocations; i++) {
		struct pp_location *loc = &p->locations[i];
		size_t n;
		int err;

		if (loc->mapping_id != mapping_id || loc->lines.len)
			continue;
		n = fn(ctx, loc->address, lines, PPROF_MAX_FILL_LINES);
		if (!n)
			continue;
		for (size_t j = 0; j < n; j++)
			if (!lines[j].function_id || lines[j].function_id > p->nfunctions)
				return ret_err(-EINVAL);
		err = RESERVE(p->lines, p->lines_cap, p->nlines, n);
		if (err)
			return ret_err(err);
		loc = &p->locations[i];
		memcpy(&p->lines[p->nlines], lines, n * sizeof(*lines));
		loc->lines.off = p->nlines;
		loc->lines.len = n;
		p->nlines += n;
	}
	return 0;
}

int pprof__mapping_set_range(struct pprof *p, uint64_t mapping_id, uint64_t start, uint64_t limit)
{
	if (!p || !mapping_id || mapping_id > p->nmappings)
		return ret_err(-EINVAL);
	p->mappings[mapping_id - 1].start = start;
	p->mappings[mapping_id - 1].limit = limit;
	return 0;
}

/* A stack or label set probe: n elements starting at v. */
struct span_key {
	const void *v;
	size_t n;
};

static bool stack_eq(const void *ctx, uint32_t idx, const void *key)
{
	const struct pprof *p = ctx;
	const struct span_key *k = key;
	const struct pp_span *s = &p->stacks[idx];

	/* n == 0: the pool and the probe may both be NULL. */
	return s->len == k->n &&
	       (!k->n || !memcmp(&p->stack_pool[s->off], k->v, k->n * sizeof(uint64_t)));
}

static bool labelset_eq(const void *ctx, uint32_t idx, const void *key)
{
	const struct pprof *p = ctx;
	const struct span_key *k = key;
	const struct pp_span *s = &p->labelsets[idx];

	return s->len == k->n &&
	       (!k->n || !memcmp(&p->label_pool[s->off], k->v, k->n * sizeof(struct pp_label)));
}

static int intern_stack(struct pprof *p, const uint64_t *locs, size_t n, uint32_t *out)
{
	struct span_key key = { locs, n };
	uint64_t hash;
	uint32_t idx;
	int err;

	hash = n ? hash_bytes(locs, n * sizeof(*locs), 1) : 1;
	idx = hashmap__find(&p->stack_map, hash, stack_eq, p, &key);
	if (idx != HASHMAP_NONE) {
		*out = idx;
		return 0;
	}
	err = RESERVE(p->stacks, p->stacks_cap, p->nstacks, 1);
	if (!err)
		err = RESERVE(p->stack_pool, p->stack_pool_cap, p->stack_pool_len, n);
	if (!err)
		err = map_reserve(&p->stack_map, 1);
	if (err)
		return err;
	if (n)
		memcpy(&p->stack_pool[p->stack_pool_len], locs, n * sizeof(*locs));
	p->stacks[p->nstacks].off = p->stack_pool_len;
	p->stacks[p->nstacks].len = n;
	p->stack_pool_len += n;
	hashmap__insert(&p->stack_map, hash, p->nstacks);
	*out = p->nstacks++;
	return 0;
}

static int intern_labelset(struct pprof *p, const struct pp_label *labels, size_t n,
			   uint32_t *out)
{
	struct span_key key = { labels, n };
	uint64_t hash;
	uint32_t idx;
	int err;

	hash = n ? hash_bytes(labels, n * sizeof(*labels), 2) : 2;
	idx = hashmap__find(&p->labelset_map, hash, labelset_eq, p, &key);
	if (idx != HASHMAP_NONE) {
		*out = idx;
		return 0;
	}
	err = RESERVE(p->labelsets, p->labelsets_cap, p->nlabelsets, 1);
	if (!err)
		err = RESERVE(p->label_pool, p->label_pool_cap, p->label_pool_len, n);
	if (!err)
		err = map_reserve(&p->labelset_map, 1);
	if (err)
		return err;
	if (n)
		memcpy(&p->label_pool[p->label_pool_len], labels, n * sizeof(*labels));
	p->labelsets[p->nlabelsets].off = p->label_pool_len;
	p->labelsets[p->nlabelsets].len = n;
	p->label_pool_len += n;
	hashmap__insert(&p->labelset_map, hash, p->nlabelsets);
	*out = p->nlabelsets++;
	return 0;
}

static int label_cmp(const struct pp_label *a, const struct pp_label *b)
{
	if (a->key != b->key)
		return a->key < b->key ? -1 : 1;
	if (a->str != b->str)
		return a->str < b->str ? -1 : 1;
	if (a->num != b->num)
		return a->num < b->num ? -1 : 1;
	if (a->unit != b->unit)
		return a->unit < b->unit ? -1 : 1;
	return 0;
}

/* Interns the label strings into out[] and sorts it, so that the same labels
 * given in any order make the same set. Insertion sort: sets are small. */
static int canon_labels(struct pprof *p, const struct pprof_label *in, size_t n,
			struct pp_label *out)
{
	int err;

	for (size_t i = 0; i < n; i++) {
		struct pp_label l = { 0 };
		size_t j;

		err = intern(p, in[i].key, &l.key);
		if (err)
			return err;
		if (in[i].str) {
			err = intern(p, in[i].str, &l.str);
		} else {
			l.num = in[i].num;
			err = intern(p, in[i].num_unit, &l.unit);
		}
		if (err)
			return err;
		for (j = i; j > 0 && label_cmp(&out[j - 1], &l) > 0; j--)
			out[j] = out[j - 1];
		out[j] = l;
	}
	return 0;
}

struct sample_key {
	uint32_t stack;
	uint32_t labelset;
};

static bool sample_eq(const void *ctx, uint32_t idx, const void *key)
{
	const struct pp_sample *a = &((const struct pprof *)ctx)->samples[idx];
	const struct sample_key *b = key;

	return a->stack == b->stack && a->labelset == b->labelset;
}

/* Sums saturate rather than wrap: a clipped total is still the right order
 * of magnitude, a wrapped one changes sign. */
static int64_t sat_add(int64_t a, int64_t b)
{
	int64_t r;

	if (__builtin_add_overflow(a, b, &r))
		return b > 0 ? INT64_MAX : INT64_MIN;
	return r;
}

#define PP_LABELS_ON_STACK 16

int pprof__add_sample(struct pprof *p, const uint64_t *locs, size_t nlocs,
		      const int64_t *values, const struct pprof_label *labels,
		      size_t nlabels)
{
	struct pp_label on_stack[PP_LABELS_ON_STACK], *canon = on_stack;
	struct sample_key key;
	uint64_t hash;
	uint32_t idx;
	int err;

	if (!p || !values || !p->ntypes || (nlocs && !locs) || (nlabels && !labels))
		return ret_err(-EINVAL);
	for (size_t i = 0; i < nlocs; i++)
		if (!locs[i] || locs[i] > p->nlocations)
			return ret_err(-EINVAL);
	for (size_t i = 0; i < nlabels; i++)
		if (!labels[i].key || !*labels[i].key)
			return ret_err(-EINVAL);
	if (nlabels > PP_LABELS_ON_STACK) {
		canon = pprof_reallocarray(NULL, nlabels, sizeof(*canon));
		if (!canon)
			return ret_err(-ENOMEM);
	}
	err = canon_labels(p, labels, nlabels, canon);
	if (!err)
		err = intern_labelset(p, canon, nlabels, &key.labelset);
	if (!err)
		err = intern_stack(p, locs, nlocs, &key.stack);
	if (err)
		goto cleanup;

	hash = hash_combine(hash_u64(key.stack), key.labelset);
	idx = hashmap__find(&p->sample_map, hash, sample_eq, p, &key);
	if (idx != HASHMAP_NONE) {
		int64_t *v = &p->values[(size_t)idx * p->ntypes];

		for (size_t i = 0; i < p->ntypes; i++)
			v[i] = sat_add(v[i], values[i]);
		goto cleanup;
	}
	err = RESERVE(p->samples, p->samples_cap, p->nsamples, 1);
	if (!err)
		err = RESERVE(p->values, p->values_cap, p->nsamples * p->ntypes, p->ntypes);
	if (!err)
		err = map_reserve(&p->sample_map, 1);
	if (err)
		goto cleanup;
	p->samples[p->nsamples].stack = key.stack;
	p->samples[p->nsamples].labelset = key.labelset;
	memcpy(&p->values[p->nsamples * p->ntypes], values, p->ntypes * sizeof(*values));
	hashmap__insert(&p->sample_map, hash, p->nsamples);
	p->nsamples++;
cleanup:
	if (canon != on_stack)
		free(canon);
	return ret_err(err);
}

size_t pprof__sample_count(const struct pprof *p)
{
	return p ? p->nsamples : 0;
}

int64_t pprof__value_total(const struct pprof *p, size_t type_index)
{
	int64_t total = 0;

	if (!p || type_index >= p->ntypes)
		return 0;
	for (size_t i = 0; i < p->nsamples; i++)
		total = sat_add(total, p->values[i * p->ntypes + type_index]);
	return total;
}
