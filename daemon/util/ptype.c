// SPDX-License-Identifier: Apache-2.0
/* ptype: profile type names. */
#include <string.h>

#include "util/ptype.h"

static const char *const names[PROFD_PT_MAX] = {
	[PROFD_PT_CPU] = "cpu",       [PROFD_PT_HEAP] = "heap",   [PROFD_PT_ALLOCS] = "allocs",
	[PROFD_PT_MUTEX] = "mutex",   [PROFD_PT_BLOCK] = "block", [PROFD_PT_THREADCREATE] = "threadcreate",
	[PROFD_PT_THREADS] = "threads", /* threads */
};

const char *ptype__name(enum profd_ptype t)
{
	return (unsigned)t < PROFD_PT_MAX ? names[t] : NULL;
}

int ptype__parse(const char *name)
{
	for (int i = 0; name && i < PROFD_PT_MAX; i++)
		if (!strcmp(name, names[i]))
			return i;
	return -1;
}
