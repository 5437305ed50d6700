// SPDX-License-Identifier: Apache-2.0
/* The registry of profile types: names and aliases, what each entry must
 * carry, and one setter with one set of limits for the command line
 * (profiler_option_set, as main.c calls it) and the INI file (config.c). */
#include <stdio.h>
#include <string.h>

#include "agent/config.h"
#include "harness.h"
#include "types/profiler.h"

void test_registry_entries_complete(void)
{
	ASSERT_TRUE(profiler_type_count() > 0, "types");
	ASSERT_TRUE(profiler_type_count() <= PROFILER_MAX_TYPES, "fits the arrays");
	for (size_t i = 0; profiler_type_at(i); i++) {
		const struct profiler_type *t = profiler_type_at(i);

		ASSERT_TRUE(t->name && t->description, "name and description");
		ASSERT_TRUE(t->ops && t->ops->start && t->ops->drain && t->ops->stop &&
			    t->ops->summary && t->ops->free, t->name);
		ASSERT_TRUE(t->sample_types[0].type && t->period_type.type, t->name);
		ASSERT_TRUE(t->http.path && t->http.what, t->name);
		ASSERT_TRUE(t->pyroscope.name != NULL, t->name);
		ASSERT_EQ(profiler_type_index(t), (int)i, t->name);
		ASSERT_TRUE(profiler_type_find(t->name) == t, t->name);
		ASSERT_TRUE(profiler_type_http(t->http.path) == t, t->http.path);
		ASSERT_TRUE(strstr(profiler_type_names(), t->name) != NULL, t->name);
		/* No name, alias or HTTP path is claimed twice. */
		for (size_t j = 0; j < i; j++)
			ASSERT_TRUE(strcmp(profiler_type_at(j)->http.path, t->http.path), t->http.path);
		for (size_t a = 0; a < sizeof(t->aliases) / sizeof(t->aliases[0]) && t->aliases[a]; a++)
			ASSERT_TRUE(profiler_type_find(t->aliases[a]) == t, t->aliases[a]);
		/* A type that reads an option must say so to be configurable:
		 * every type with a BPF stack walk reads the unwind options
		 * (threads, an instant type, walks user stacks in the agent). */
		if (t->kind != PROFILER_INSTANT)
			ASSERT_TRUE((t->options & PROFILER_OPTS_UNWIND) == PROFILER_OPTS_UNWIND, t->name);
		/* A type that renders text reads --format; only such a type. */
		ASSERT_EQ(!!(t->options & PROFILER_OPT(PROFILER_OPT_FORMAT)), !!t->ops->text, t->name);
		if (t->http.alias)
			ASSERT_TRUE(profiler_type_http(t->http.alias) == t, t->http.alias);
	}
	ASSERT_TRUE(profiler_type_find("gpu") == NULL, "unknown");
	ASSERT_TRUE(profiler_type_find(NULL) == NULL, "NULL");
	ASSERT_TRUE(profiler_type_find("profile") == NULL, "an HTTP path is not a type name");
	ASSERT_TRUE(profiler_type_http("profile") == profiler_type_find("cpu"), "Go's /profile is cpu");
	ASSERT_TRUE(profiler_type_at(profiler_type_count()) == NULL, "end");
	ASSERT_EQ(profiler_type_index(NULL), -1, "not in the registry");
}

/* A name or any alias finds its type (the way `--type goroutine` finds a
 * threads type), first entry first; aliases are not prefixes. */
void test_registry_aliases(void)
{
	static const struct profiler_type a = { .name = "threads", .aliases = { "goroutine", "tasks" } };
	static const struct profiler_type b = { .name = "other", .aliases = { "thread" } };
	static const struct profiler_type *const list[] = { &a, &b };

	ASSERT_TRUE(profiler_type_find_in(list, 2, "threads") == &a, "name");
	ASSERT_TRUE(profiler_type_find_in(list, 2, "goroutine") == &a, "first alias");
	ASSERT_TRUE(profiler_type_find_in(list, 2, "tasks") == &a, "second alias");
	ASSERT_TRUE(profiler_type_find_in(list, 2, "thread") == &b, "alias of the second entry");
	ASSERT_TRUE(profiler_type_find_in(list, 2, "goroutines") == NULL, "no prefix match");
	ASSERT_TRUE(profiler_type_find_in(list, 2, "gorout") == NULL, "no prefix match");
	ASSERT_TRUE(profiler_type_find_in(list, 1, "thread") == NULL, "only the first n");
	ASSERT_TRUE(profiler_type_find_in(list, 2, NULL) == NULL, "NULL");
}

/* How each type is run: a delta type is drained every tick, a cumulative
 * one once at the end (heap's in-use memory), an instant one at once. */
void test_registry_kinds(void)
{
	const struct profiler_type *cpu = profiler_type_find("cpu");
	const struct profiler_type *heap = profiler_type_find("heap");
	const struct profiler_type *allocs = profiler_type_find("allocs");
	const struct profiler_type *block = profiler_type_find("block");

	if (!ASSERT_TRUE(cpu && heap && allocs && block, "types"))
		return;
	ASSERT_EQ(cpu->kind, PROFILER_DELTA, "cpu: delta");
	ASSERT_EQ(block->kind, PROFILER_DELTA, "block: delta");
	ASSERT_EQ(heap->kind, PROFILER_CUMULATIVE, "heap: cumulative");
	ASSERT_EQ(allocs->kind, PROFILER_CUMULATIVE, "allocs: cumulative");
	ASSERT_TRUE(heap->ops->tick != NULL, "a cumulative type keeps house on the tick");
	ASSERT_TRUE(cpu->host_wide, "cpu runs host-wide");
	ASSERT_TRUE(block->host_wide, "block runs host-wide");
	ASSERT_FALSE(heap->host_wide, "heap attaches per process");
	ASSERT_TRUE(cpu->http.host_wide, "/profile without ?pid=");
	ASSERT_FALSE(block->http.host_wide, "/block needs ?pid=");
	ASSERT_FALSE(heap->http.host_wide, "/heap needs ?pid=");
	ASSERT_TRUE(heap->probe_group && allocs->probe_group &&
		    !strcmp(heap->probe_group, allocs->probe_group), "one allocator probe");
	ASSERT_TRUE(cpu->http.default_seconds > 0, "cpu: a duration by default");
	ASSERT_TRUE(heap->pyroscope.delta_false, "memory series are not deltas");
	ASSERT_FALSE(cpu->pyroscope.delta_false, "cpu series are");
	ASSERT_STREQ(heap->default_sample ? heap->default_sample : "(last)", "(last)",
		     "heap: inuse_space, Go's default");
	ASSERT_STREQ(allocs->default_sample, "alloc_space", "allocs: alloc_space");
}

/* Every value accepted or refused alike by `--NAME VALUE` (the setter main.c
 * calls) and by `[section] key = VALUE` (config.c), with the same reason. */
void test_registry_cli_and_ini_agree(void)
{
	static const char *const values[] = {
		"0", "1", "99", "10000", "10001", "20000", "100000", "99Hz", "", "64k", "65535",
		"64KiB", "1T", "1TiB", "2T", "1ms", "off", "auto", "fp", "dwarf", "DWARF", "-1",
		"18446744073709551616",
	};

	for (size_t i = 0; profiler_option_at(i); i++) {
		const struct profiler_option *o = profiler_option_at(i);

		/* A one-shot option (--format) has no INI key to agree with. */
		if (!o->section) {
			ASSERT_TRUE(profiler_option_key(NULL, o->key) == NULL, o->cli);
			continue;
		}
		for (size_t v = 0; v < sizeof(values) / sizeof(values[0]); v++) {
			struct profiler_opts cli;
			struct profd_config cfg;
			char set[128], cerr[PROFILER_ERR_LEN] = "", ierr[CONFIG_ERR_LEN] = "", want[256];
			int rc_cli, rc_ini;

			profiler_opts_defaults(&cli);
			if (!ASSERT_OK(config__init(&cfg), "init"))
				return;
			snprintf(set, sizeof(set), "%s.%s=%s", o->section, o->key, values[v]);
			rc_cli = profiler_option_set(&cli, o, values[v], cerr, sizeof(cerr));
			rc_ini = config__set(&cfg, set, ierr, sizeof(ierr));
			ASSERT_EQ(rc_cli, rc_ini, set);
			if (!rc_cli) {
				cli.pids = cfg.popts.pids;
				cli.npids = cfg.popts.npids;
				ASSERT_TRUE(profiler_opts_equal(&cli, &cfg.popts), set);
			} else {
				snprintf(want, sizeof(want), "[%s] %s: %s", o->section, o->key, cerr);
				ASSERT_TRUE(strstr(ierr, want) != NULL, ierr);
			}
			config__done(&cfg);
		}
	}
}

/* The limits that used to differ: -F 20000 and [cpu] frequency = 20000. */
void test_registry_frequency_limit(void)
{
	const struct profiler_option *o = profiler_option_cli("frequency");
	struct profiler_opts opts;
	char err[PROFILER_ERR_LEN];

	if (!ASSERT_TRUE(o != NULL, "--frequency"))
		return;
	ASSERT_TRUE(profiler_option_key("cpu", "frequency") == o, "[cpu] frequency is --frequency");
	profiler_opts_defaults(&opts);
	ASSERT_EQ(opts.frequency, 99, "default 99 Hz");
	ASSERT_OK(profiler_option_set(&opts, o, "10000", err, sizeof(err)), "10000");
	ASSERT_EQ(opts.frequency, 10000, "stored");
	ASSERT_ERR(profiler_option_set(&opts, o, "20000", err, sizeof(err)), "20000");
	ASSERT_STREQ(err, "20000 out of range [1, 10000]", "reason");
	ASSERT_EQ(opts.frequency, 10000, "a refused value changes nothing");
	ASSERT_TRUE(profiler_option_cli("no-such") == NULL, "unknown option");
	ASSERT_TRUE(profiler_option_key("cpu", "nope") == NULL, "unknown key");
	ASSERT_TRUE(profiler_option_section("unwind"), "[unwind] is an options section");
	ASSERT_FALSE(profiler_option_section("upload"), "[upload] is not");
}

/* [profd] types takes every registry name and alias. */
void test_registry_config_types(void)
{
	for (size_t i = 0; profiler_type_at(i); i++) {
		const struct profiler_type *t = profiler_type_at(i);
		struct profd_config cfg;
		char set[64], err[CONFIG_ERR_LEN];

		if (!ASSERT_OK(config__init(&cfg), "init"))
			return;
		snprintf(set, sizeof(set), "profd.types=%s", t->name);
		ASSERT_OK(config__set(&cfg, set, err, sizeof(err)), set);
		ASSERT_EQ(cfg.types, 1u << i, set);
		for (size_t a = 0; a < sizeof(t->aliases) / sizeof(t->aliases[0]) && t->aliases[a]; a++) {
			snprintf(set, sizeof(set), "profd.types=%s", t->aliases[a]);
			ASSERT_OK(config__set(&cfg, set, err, sizeof(err)), set);
			ASSERT_EQ(cfg.types, 1u << i, set);
		}
		config__done(&cfg);
	}
}
