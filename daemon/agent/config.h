/* SPDX-License-Identifier: Apache-2.0 */
/* config: the INI file (inih) → struct profd_config. Defaults, strict
 * per-key validation and cross-key checks; no side effects (nothing is opened
 * except the file itself, no logging). Every error message names where it
 * comes from: "profd.ini:12: [upload] timeout: invalid duration 'abc'". */
#ifndef PROFD_CONFIG_H
#define PROFD_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "export/upload.h"
#include "types/profiler.h"

/* Bounds on what a file can make the agent hold. */
#define CONFIG_MAX_FILE_SIZE (1 << 20)
#define CONFIG_MAX_LINE 4096            /* characters per line, newline excluded */
#define CONFIG_MAX_HEAP_PROCS 256
#define CONFIG_MAX_SERVICE_RULES 256
#define CONFIG_ERR_LEN 512              /* enough for any message config builds */
#define CONFIG_DEFAULT_SYMBOL_CACHE (32ULL << 20) /* [symbolize] cache_max_memory */

/* [service] "pattern = service": fnmatch(3) glob against the process name or
 * its systemd unit; the first rule in file order that matches wins. */
struct service_rule {
	char *pattern;
	char *service;
};

/* What one profile covers per type and interval. */
enum group_by {
	GROUP_BY_SERVICE,               /* every process of a service (default) */
	GROUP_BY_PROCESS,               /* one process */
};

struct profd_config {
	/* [profd] */
	uint64_t interval_ns;
	enum group_by group_by;
	unsigned types;                 /* bit (1u << place in the registry) */
	char *output_dir;               /* "" = don't write */
	uint64_t retention_size;        /* bytes under output_dir; 0 = no limit */
	uint64_t retention_age_ns;      /* 0 = no limit */
	/* [cpu] frequency, [heap] sample_rate, [block] min_block, [unwind]
	 * mode, max_memory: the registry's options (types/profiler.h); pids
	 * unused */
	struct profiler_opts popts;
	/* [heap] */
	char **heap_names;              /* processes to heap-profile, by name ... */
	size_t n_heap_names;
	pid_t *heap_pids;               /* ... or by pid */
	size_t n_heap_pids;
	/* [upload] */
	struct {
		char *url;              /* "" = off */
		enum upload_mode mode;
		char *tenant_id;        /* "" = no X-Scope-OrgID */
		char *bearer_token_file;
		char *basic_auth_user;
		char *basic_auth_password_file;
		uint64_t timeout_ns;
		uint64_t retries;       /* extra attempts after the first */
		uint64_t backoff_initial_ns;
		uint64_t backoff_max_ns;
		char *spool_dir;        /* "" = no spool: undeliverable profiles are dropped */
		uint64_t spool_max_bytes;
		char *tls_ca_file;      /* "" = system CAs */
		bool tls_insecure_skip_verify;
	} upload;
	/* [http] */
	struct {
		char *listen;           /* "host:port", "[v6]:port"; "" = off */
		char *token_file;       /* "" = none: each request is authorized by its
					 * local user (loopback listen only) */
		char *allow_group;      /* "" = none: members may see all, as root */
		uint64_t max_concurrent; /* profile requests served at once */
	} http;
	/* [symbolize] */
	uint64_t symbolize_cache_bytes; /* the symbol cache's budget */
	/* [service] */
	struct service_rule *rules;
	size_t n_rules;
};

/* Fill cfg with every default. Returns 0 or -ENOMEM (cfg is then still safe
 * to pass to config__done()). */
int config__init(struct profd_config *cfg);
/* Free what cfg owns and zero it. NULL-safe. */
void config__done(struct profd_config *cfg);

/* Parse the INI file at path into cfg (which holds defaults or earlier
 * values). Unknown sections and keys, duplicate keys, bad values, binary
 * data, lines over CONFIG_MAX_LINE and files over CONFIG_MAX_FILE_SIZE are
 * errors. Returns 0, -EINVAL (message in err), or -errno from opening or
 * reading the file (message in err). On error cfg may be partly updated:
 * load into a scratch config and keep the old one (SIGHUP). */
int config__load_file(struct profd_config *cfg, const char *path, char *err, size_t errlen);

/* Apply one "section.key=value" override (command line) with the same
 * validation. Returns 0 or -EINVAL with a message naming the override. */
int config__set(struct profd_config *cfg, const char *assignment, char *err, size_t errlen);

/* Cross-key checks, run after the file and the overrides: backoff_initial <=
 * backoff_max, basic auth user and password file together, not both bearer
 * and basic auth. Returns 0 or -EINVAL with a message. */
int config__check(const struct profd_config *cfg, char *err, size_t errlen);

/* config__init + config__load_file (when path is not NULL) + every override +
 * config__check. On error cfg is released (config__done) and err says why. */
int config__load(struct profd_config *cfg, const char *path, const char *const *overrides,
		 size_t n_overrides, char *err, size_t errlen);

/* The [upload] section as the uploader's options (strings borrowed). */
void config__upload_opts(const struct profd_config *cfg, struct upload_opts *o);

/* The service name a [service] rule gives the process (name comm, systemd
 * unit or NULL), or NULL if no rule matches. Borrowed from cfg. */
const char *config__service_for(const struct profd_config *cfg, const char *comm,
				const char *unit);

#endif
