/* SPDX-License-Identifier: Apache-2.0 */
/* agent: `profd --config PATH`, the continuous mode. Every interval it writes
 * (disk) and/or uploads (profile store) one profile per process per type,
 * serves /debug/pprof/ and /metrics over HTTP, reloads its configuration on
 * SIGHUP and flushes what it holds on SIGTERM/SIGINT. */
#ifndef PROFD_AGENT_H
#define PROFD_AGENT_H

#include <stddef.h>
#include <sys/types.h>

#include "types/profiler.h"

struct agent_opts {
	const char *config_path;        /* re-read on SIGHUP */
	const char *const *overrides;   /* "section.key=value" from the command line:
					 * applied over the file, at start and on reload */
	size_t n_overrides;
	const pid_t *pids;              /* --pid: only these processes; npids 0 = all */
	size_t npids;
};

/* Run until SIGTERM/SIGINT. A bad configuration or a component that cannot
 * start is an error at start (logged). Returns EXIT_SUCCESS/EXIT_FAILURE. */
int agent_run(const struct agent_opts *o);

/* Every check agent_run makes of a loaded configuration before it starts
 * anything (--check-config): something to do, and each secret file
 * (tokens, passwords) present, private and non-empty. 0, or -errno with
 * the reason in err. */
struct profd_config;
int agent_validate(const struct profd_config *cfg, char *err, size_t errlen);

#endif
