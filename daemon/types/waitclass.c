// SPDX-License-Identifier: Apache-2.0
/* waitclass: function-name classes for the wait profiles. */
#include <string.h>

#include "types/waitclass.h"

static int starts_with(const char *s, const char *prefix)
{
	return !strncmp(s, prefix, strlen(prefix));
}

int waitclass_is_lock_function(const char *name)
{
	static const char *const exact[] = {
		"lll_lock_wait", "lll_lock_wait_private", "pthread_mutex_cond_lock",
		"mtx_lock", "mtx_timedlock",
	};
	size_t len;

	/* glibc names one function several ways: pthread_mutex_lock,
	 * __pthread_mutex_lock, ___pthread_mutex_lock, __GI___lll_lock_wait
	 * (its internal alias, named so in its debug info). */
	while (*name == '_')
		name++;
	if (starts_with(name, "GI_"))
		name += 3;
	while (*name == '_')
		name++;
	for (size_t i = 0; i < sizeof(exact) / sizeof(exact[0]); i++)
		if (!strcmp(name, exact[i]))
			return 1;
	len = strlen(name);
	if (len < 4 || strcmp(name + len - 4, "lock") || strstr(name, "unlock") ||
	    strstr(name, "try"))
		return 0;
	/* pthread_mutex_{lock,timedlock,clocklock}, pthread_rwlock_{rd,wr,
	 * timedrd,timedwr,clockrd,clockwr}lock */
	return starts_with(name, "pthread_mutex_") || starts_with(name, "pthread_rwlock_");
}

int waitclass_is_gil_function(const char *name)
{
	return starts_with(name, "take_gil") && (!name[8] || name[8] == '.');
}

int waitclass_is_tracing_glue(const char *name)
{
	return starts_with(name, "bpf_prog_") || starts_with(name, "bpf_trace_run") ||
	       starts_with(name, "__bpf_trace_") || starts_with(name, "__traceiter_");
}
