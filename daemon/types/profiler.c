// SPDX-License-Identifier: Apache-2.0
/* profiler: the registry (the list of types, each defined in its own
 * types/prof_NAME.c) and the options every front end sets through.
 * Add a type: its BPF program and collector, its types/prof_NAME.c with its
 * struct profiler_type, and one line in `types` below. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "pprof/pprof.h"
#include "types/profiler.h"
#include "util/parse.h"

extern const struct profiler_type profiler_cpu;
extern const struct profiler_type profiler_heap;
extern const struct profiler_type profiler_allocs;
extern const struct profiler_type profiler_mutex;
extern const struct profiler_type profiler_block;
extern const struct profiler_type profiler_threadcreate;
extern const struct profiler_type profiler_threads;

static const struct profiler_type *const types[] = {
	&profiler_cpu,
	&profiler_heap,
	&profiler_allocs,
	&profiler_mutex,
	&profiler_block,
	&profiler_threadcreate,
	&profiler_threads,
};

#define NTYPES (sizeof(types) / sizeof(types[0]))
_Static_assert(NTYPES <= PROFILER_MAX_TYPES, "raise PROFILER_MAX_TYPES");

#define OPT(field) offsetof(struct profiler_opts, field)

static const struct profiler_option options[] = {
	{ PROFILER_OPT_FREQUENCY, "frequency", 'F', "cpu", "frequency", PROFILER_V_COUNT, 1, 10000, 99,
	  OPT(frequency), "cpu: samples per second per CPU (default 99)" },
	{ PROFILER_OPT_HEAP_SAMPLE_RATE, "heap-sample-rate", 0, "heap", "sample_rate", PROFILER_V_SIZE,
	  1, 1ULL << 40, 524288, OPT(heap_sample_rate),
	  "heap/allocs: mean bytes between sampled allocations (default 512KiB)" },
	{ PROFILER_OPT_PYTHON_ALLOCATOR, "python-allocator", 0, "heap", "python_allocator",
	  PROFILER_V_PYALLOC, 0, 0, PROFILER_PYALLOC_AUTO, OPT(python_allocator),
	  "heap/allocs: CPython's own allocator, pymalloc: auto (default: calls where its "
	  "functions are named, else arenas), calls (every request, ~3 us each), arenas "
	  "(1 MiB arenas, no per-call cost) or off" },
	{ PROFILER_OPT_MIN_BLOCK, "min-block", 0, "block", "min_block", PROFILER_V_DURATION0, 0, 0, 0,
	  OPT(min_block_ns), "block: shortest off-CPU time recorded, e.g. 1ms (default 0: all)" },
	{ PROFILER_OPT_UNWIND, "unwind", 'u', "unwind", "mode", PROFILER_V_UNWIND, 0, 0,
	  PROFILER_UNWIND_AUTO, OPT(unwind), "user stacks: auto, dwarf or fp (default auto)" },
	{ PROFILER_OPT_UNWIND_MAX_MEMORY, "unwind-max-memory", 0, "unwind", "max_memory",
	  PROFILER_V_SIZE, 64ULL << 10, 1ULL << 40, 64ULL << 20, OPT(unwind_max_bytes),
	  "kernel memory for unwind tables (default 64MiB)" },
	{ PROFILER_OPT_FORMAT, "format", 0, NULL, NULL, PROFILER_V_FORMAT, 0, 0,
	  PROFILER_FORMAT_PPROF, OPT(format),
	  "threads, one-shot: pprof (default), text (Go's ?debug=1) or dump (?debug=2)" },
};

#define NOPTS (sizeof(options) / sizeof(options[0]))

static const char *const format_names[] = {
	[PROFILER_FORMAT_PPROF] = "pprof", [PROFILER_FORMAT_TEXT] = "text",
	[PROFILER_FORMAT_DUMP] = "dump",
};

static const char *const pyalloc_names[] = {
	[PROFILER_PYALLOC_OFF] = "off", [PROFILER_PYALLOC_AUTO] = "auto",
	[PROFILER_PYALLOC_CALLS] = "calls", [PROFILER_PYALLOC_ARENAS] = "arenas",
};

static const char *const unwind_names[] = {
	[PROFILER_UNWIND_AUTO] = "auto", [PROFILER_UNWIND_FP] = "fp", [PROFILER_UNWIND_DWARF] = "dwarf",
};

size_t profiler_type_count(void)
{
	return NTYPES;
}

const struct profiler_type *profiler_type_at(size_t i)
{
	return i < NTYPES ? types[i] : NULL;
}

const struct profiler_type *profiler_type_find_in(const struct profiler_type *const *list, size_t n,
						  const char *name)
{
	for (size_t i = 0; name && i < n; i++) {
		if (!strcmp(list[i]->name, name))
			return list[i];
		for (size_t j = 0; j < sizeof(list[i]->aliases) / sizeof(list[i]->aliases[0]) &&
				   list[i]->aliases[j]; j++)
			if (!strcmp(list[i]->aliases[j], name))
				return list[i];
	}
	return NULL;
}

const struct profiler_type *profiler_type_find(const char *name)
{
	return profiler_type_find_in(types, NTYPES, name);
}

const struct profiler_type *profiler_type_http(const char *path)
{
	for (size_t i = 0; path && i < NTYPES; i++)
		if ((types[i]->http.path && !strcmp(types[i]->http.path, path)) ||
		    (types[i]->http.alias && !strcmp(types[i]->http.alias, path)))
			return types[i];
	return NULL;
}

int profiler_type_index(const struct profiler_type *t)
{
	for (size_t i = 0; i < NTYPES; i++)
		if (types[i] == t)
			return (int)i;
	return -1;
}

/* Built once, before any thread can ask (a constructor): no lazy static. */
static char type_names[256];

__attribute__((constructor)) static void build_type_names(void)
{
	size_t n = 0;

	for (size_t i = 0; i < NTYPES && n < sizeof(type_names); i++)
		n += snprintf(type_names + n, sizeof(type_names) - n, "%s%s", i ? ", " : "",
			      types[i]->name);
}

const char *profiler_type_names(void)
{
	return type_names;
}

const struct profiler_option *profiler_option_at(size_t i)
{
	return i < NOPTS ? &options[i] : NULL;
}

const struct profiler_option *profiler_option_cli(const char *cli)
{
	for (size_t i = 0; cli && i < NOPTS; i++)
		if (!strcmp(options[i].cli, cli))
			return &options[i];
	return NULL;
}

const struct profiler_option *profiler_option_key(const char *section, const char *key)
{
	for (size_t i = 0; section && key && i < NOPTS; i++)
		if (options[i].section && !strcmp(options[i].section, section) &&
		    !strcmp(options[i].key, key))
			return &options[i];
	return NULL;
}

bool profiler_option_section(const char *section)
{
	for (size_t i = 0; section && i < NOPTS; i++)
		if (options[i].section && !strcmp(options[i].section, section))
			return true;
	return false;
}

static int range_err(const struct profiler_option *opt, const char *v, char *err, size_t errlen)
{
	snprintf(err, errlen, "%.64s out of range [%llu, %llu]", v, (unsigned long long)opt->min,
		 (unsigned long long)opt->max);
	return -EINVAL;
}

int profiler_option_set(struct profiler_opts *o, const struct profiler_option *opt, const char *v,
			char *err, size_t errlen)
{
	uint64_t *slot = (uint64_t *)((char *)o + opt->off);
	uint64_t u = 0;
	int rc;

	switch (opt->kind) {
	case PROFILER_V_COUNT:
		rc = parse_u64(v, opt->min, opt->max, &u);
		if (rc == -ERANGE)
			return range_err(opt, v, err, errlen);
		if (rc) {
			snprintf(err, errlen, "invalid number '%.64s'", v);
			return -EINVAL;
		}
		break;
	case PROFILER_V_SIZE:
		if (parse_size(v, &u)) {
			snprintf(err, errlen, "invalid size '%.64s' (e.g. 512, 64k, 100MiB, 1G)", v);
			return -EINVAL;
		}
		if (u < opt->min || u > opt->max)
			return range_err(opt, v, err, errlen);
		break;
	case PROFILER_V_DURATION0:
		if (!strcmp(v, "0") || !strcasecmp(v, "off")) {
			u = 0;
		} else if (parse_duration_ns(v, &u)) {
			snprintf(err, errlen, "invalid duration '%.64s' (e.g. 30s, 500ms, 2m, 1h)", v);
			return -EINVAL;
		}
		break;
	case PROFILER_V_UNWIND:
		for (u = 0; u < sizeof(unwind_names) / sizeof(unwind_names[0]); u++)
			if (!strcmp(v, unwind_names[u]))
				break;
		if (u == sizeof(unwind_names) / sizeof(unwind_names[0])) {
			snprintf(err, errlen, "invalid mode '%.64s' (auto, fp or dwarf)", v);
			return -EINVAL;
		}
		*(enum profiler_unwind *)((char *)o + opt->off) = (enum profiler_unwind)u;
		return 0;
	case PROFILER_V_PYALLOC:
		for (u = 0; u < sizeof(pyalloc_names) / sizeof(pyalloc_names[0]); u++)
			if (!strcasecmp(v, pyalloc_names[u]))
				break;
		if (!strcasecmp(v, "on")) /* before 'calls' and 'arenas' existed */
			u = PROFILER_PYALLOC_AUTO;
		if (u == sizeof(pyalloc_names) / sizeof(pyalloc_names[0])) {
			snprintf(err, errlen, "expected auto, calls, arenas or off, not '%.64s'", v);
			return -EINVAL;
		}
		break;
	case PROFILER_V_FORMAT:
		for (u = 0; u < sizeof(format_names) / sizeof(format_names[0]); u++)
			if (!strcmp(v, format_names[u]))
				break;
		if (u == sizeof(format_names) / sizeof(format_names[0])) {
			snprintf(err, errlen, "expected pprof, text or dump");
			return -EINVAL;
		}
		break;
	}
	*slot = u;
	return 0;
}

bool profiler_opts_equal(const struct profiler_opts *a, const struct profiler_opts *b)
{
	for (size_t i = 0; i < NOPTS; i++) {
		size_t sz = options[i].kind == PROFILER_V_UNWIND ? sizeof(enum profiler_unwind)
								 : sizeof(uint64_t);

		if (memcmp((const char *)a + options[i].off, (const char *)b + options[i].off, sz))
			return false;
	}
	return true;
}

void profiler_opts_defaults(struct profiler_opts *o)
{
	for (size_t i = 0; i < NOPTS; i++) {
		if (options[i].kind == PROFILER_V_UNWIND)
			*(enum profiler_unwind *)((char *)o + options[i].off) =
				(enum profiler_unwind)options[i].dflt;
		else
			*(uint64_t *)((char *)o + options[i].off) = options[i].dflt;
	}
}

int profiler_init_profile(struct profiler *pr, struct pprof *p)
{
	const struct profiler_type *t = pr->type;
	char comment[128];
	int err = 0;

	for (size_t i = 0; !err && i < PROFILER_MAX_SAMPLE_TYPES && t->sample_types[i].type; i++)
		err = pprof__add_sample_type(p, t->sample_types[i].type, t->sample_types[i].unit);
	if (!err)
		err = pprof__set_period(p, t->period_type.type, t->period_type.unit,
					t->period ? t->period(&pr->opts) : 1);
	if (!err && t->default_sample)
		err = pprof__set_default_sample_type(p, t->default_sample);
	if (!err && t->ops->comment) {
		comment[0] = '\0';
		t->ops->comment(pr, comment, sizeof(comment));
		if (comment[0])
			err = pprof__add_comment(p, comment);
	}
	return err;
}
