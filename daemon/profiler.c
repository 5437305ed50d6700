// SPDX-License-Identifier: Apache-2.0
/* profiler: the table of profile types. Add a type: one entry here. */
#include <string.h>

#include "profiler.h"
#include "prof_threads.h" /* threads: its type and alias */

static const struct profiler_type *const types[] = {
	&profiler_cpu,
	&profiler_heap,
	&profiler_allocs,
	&profiler_mutex,
	&profiler_block,
	&profiler_threadcreate,
	&profiler_threads,   /* threads: snapshot of every thread (prof_threads.c) */
	&profiler_goroutine, /* threads: alias, Go's name */
};

#define NTYPES (sizeof(types) / sizeof(types[0]))

const struct profiler_type *profiler_type_at(size_t i)
{
	return i < NTYPES ? types[i] : NULL;
}

const struct profiler_type *profiler_type_find(const char *name)
{
	for (size_t i = 0; i < NTYPES; i++)
		if (!strcmp(types[i]->name, name))
			return types[i];
	return NULL;
}

const char *profiler_type_names(void)
{
	static char names[256];

	if (!names[0]) {
		for (size_t i = 0; i < NTYPES; i++) {
			if (i)
				strcat(names, ", ");
			strcat(names, types[i]->name);
		}
	}
	return names;
}
