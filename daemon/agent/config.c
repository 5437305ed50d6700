// SPDX-License-Identifier: Apache-2.0
/* config: INI parsing with inih, one table row per key, strict values.
 *
 * inih is fed through our own line reader over the file held in memory, so we
 * know the line number of every key (Debian's inih 55 is built without
 * INI_HANDLER_LINENO), see section headers as they come (an empty unknown
 * section is still an error at its own line) and reject binary data, invalid
 * UTF-8 and over-long lines before inih could split or truncate them. */
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <grp.h>
#include <ini.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/config.h"
#include "http/server.h"
#include "types/profiler.h"
#include "util/fileio.h"
#include "util/parse.h"
#include "util/text.h"

#define PATH_MAX_LEN 1024       /* room left for <name>/<pid>/<type>-<time>.pb.gz */
#define NAME_MAX_LEN 256        /* process names, patterns, service names */
#define URL_MAX_LEN 2048
#define TENANT_MAX_LEN 150      /* Pyroscope's X-Scope-OrgID limit */
#define PID_MAX_VALUE 4194304   /* PID_MAX_LIMIT on 64-bit */

enum kind {
	K_DURATION,     /* > 0 */
	K_DURATION0,    /* > 0, or "0"/"off" = no limit */
	K_SIZE,         /* in [min, max] */
	K_U64,          /* in [min, max] */
	K_PATH,         /* "" or absolute */
	K_BOOL,
	K_TYPES,
	K_MODE,
	K_GROUP,
	K_URL,
	K_LISTEN,
	K_PROCS,
	K_TENANT,
	K_USER,
	K_PROFILER,     /* an option of the registry: its own parser and limits */
};

struct key_def {
	const char *section;
	const char *name;
	enum kind kind;
	size_t off;
	uint64_t min, max;
};

#define CFG(field) offsetof(struct profd_config, field)
#define EFTYPE_NOT_REGULAR READ_FILE_NOT_REGULAR

static const struct key_def keys[] = {
	{ "profd", "interval", K_DURATION, CFG(interval_ns), 0, 0 },
	{ "profd", "group_by", K_GROUP, CFG(group_by), 0, 0 },
	{ "profd", "types", K_TYPES, CFG(types), 0, 0 },
	{ "profd", "output_dir", K_PATH, CFG(output_dir), 0, 0 },
	{ "profd", "retention_size", K_SIZE, CFG(retention_size), 0, UINT64_MAX },
	{ "profd", "retention_age", K_DURATION0, CFG(retention_age_ns), 0, 0 },
	{ "heap", "processes", K_PROCS, 0, 0, 0 },
	{ "upload", "url", K_URL, CFG(upload.url), 0, 0 },
	{ "upload", "mode", K_MODE, CFG(upload.mode), 0, 0 },
	{ "upload", "tenant_id", K_TENANT, CFG(upload.tenant_id), 0, 0 },
	{ "upload", "bearer_token_file", K_PATH, CFG(upload.bearer_token_file), 0, 0 },
	{ "upload", "basic_auth_user", K_USER, CFG(upload.basic_auth_user), 0, 0 },
	{ "upload", "basic_auth_password_file", K_PATH, CFG(upload.basic_auth_password_file), 0, 0 },
	{ "upload", "timeout", K_DURATION, CFG(upload.timeout_ns), 0, 0 },
	{ "upload", "retries", K_U64, CFG(upload.retries), 0, 20 },
	{ "upload", "backoff_initial", K_DURATION, CFG(upload.backoff_initial_ns), 0, 0 },
	{ "upload", "backoff_max", K_DURATION, CFG(upload.backoff_max_ns), 0, 0 },
	{ "upload", "spool_dir", K_PATH, CFG(upload.spool_dir), 0, 0 },
	{ "upload", "spool_max_bytes", K_SIZE, CFG(upload.spool_max_bytes), 4096, 1ULL << 40 },
	{ "upload", "tls_ca_file", K_PATH, CFG(upload.tls_ca_file), 0, 0 },
	{ "upload", "tls_insecure_skip_verify", K_BOOL, CFG(upload.tls_insecure_skip_verify), 0, 0 },
	{ "http", "listen", K_LISTEN, CFG(http.listen), 0, 0 },
	{ "http", "token_file", K_PATH, CFG(http.token_file), 0, 0 },
	{ "http", "allow_group", K_USER, CFG(http.allow_group), 0, 0 },
	{ "http", "max_concurrent", K_U64, CFG(http.max_concurrent), 1, 64 },
	{ "symbolize", "cache_max_memory", K_SIZE, CFG(symbolize_cache_bytes), 4ULL << 20, 1ULL << 40 },
};
#define NKEYS (sizeof(keys) / sizeof(keys[0]))

/* Besides these, the sections of the registry's options ([cpu], [unwind], ...). */
static const char *const sections[] = { "profd", "heap", "upload", "http", "symbolize", "service" };

struct parse_ctx {
	struct profd_config *cfg;
	const char *src;        /* file name, or NULL for a command-line override */
	int lineno;
	int seen[NKEYS + PROFILER_NOPTS]; /* line where each key (then each option
					   * of the registry) was set, 0 = not yet */
	bool failed;
	char *err;
	size_t errlen;
	/* reader state */
	const char *buf;
	size_t len, pos;
};

static const char *const mode_names[] = {
	[UPLOAD_MODE_PUSH] = "push", [UPLOAD_MODE_INGEST] = "ingest", [UPLOAD_MODE_PPROF] = "pprof",
};

static const char *const group_names[] = {
	[GROUP_BY_SERVICE] = "service", [GROUP_BY_PROCESS] = "process",
};

/* 0 and *idx when v is names[*idx], else -ENOENT. */
static int name_index(const char *const *names, size_t n, const char *v, size_t *idx)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(v, names[i])) {
			*idx = i;
			return 0;
		}
	return -ENOENT;
}

/* A value as it may appear in a message: sanitized and cut. */
static const char *shown(const char *v, char *buf, size_t sz)
{
	size_t n = utf8_sanitize(buf, sz, v);

	if (n < strlen(v) && sz > 4)
		memcpy(buf + sz - 4, "...", 4);
	return buf;
}

/* First error wins; later ones would only be consequences. */
__attribute__((format(printf, 4, 5))) static int fail(struct parse_ctx *c, const char *section,
						     const char *name, const char *fmt, ...)
{
	char msg[CONFIG_ERR_LEN], ss[64], sn[64];
	va_list ap;

	if (c->failed)
		return -EINVAL;
	c->failed = true;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (!c->err || !c->errlen)
		return -EINVAL;
	if (section) {
		section = shown(section, ss, sizeof(ss));
		name = shown(name, sn, sizeof(sn));
	}
	if (c->src && section)
		snprintf(c->err, c->errlen, "%s:%d: [%s] %s: %s", c->src, c->lineno, section, name, msg);
	else if (c->src)
		snprintf(c->err, c->errlen, "%s:%d: %s", c->src, c->lineno, msg);
	else if (section)
		snprintf(c->err, c->errlen, "command line: [%s] %s: %s", section, name, msg);
	else
		snprintf(c->err, c->errlen, "command line: %s", msg);
	return -EINVAL;
}

static bool is_section(const char *s)
{
	for (size_t i = 0; i < sizeof(sections) / sizeof(sections[0]); i++)
		if (!strcmp(s, sections[i]))
			return true;
	return profiler_option_section(s);
}

static bool has_ctl(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return true;
	return false;
}

static int set_str(char **slot, const char *v)
{
	char *dup = strdup(v);

	if (!dup)
		return -ENOMEM;
	free(*slot);
	*slot = dup;
	return 0;
}

static bool valid_url(const char *v)
{
	const char *host;

	if (!strncasecmp(v, "http://", 7))
		host = v + 7;
	else if (!strncasecmp(v, "https://", 8))
		host = v + 8;
	else
		return false;
	if (!*host || *host == '/' || *host == ':')
		return false;
	for (const char *p = v; *p; p++)
		if (*p == ' ' || *p == '\t' || (unsigned char)*p >= 0x80)
			return false;
	return true;
}

/* "host:port" or "[v6addr]:port", port 0..65535 (0: any free port). */
static bool valid_listen(const char *v)
{
	const char *colon, *h;
	uint64_t port;

	if (*v == '[') {
		const char *rb = strchr(v, ']');

		if (!rb || rb == v + 1 || rb[1] != ':')
			return false;
		for (h = v + 1; h < rb; h++)
			if (!strchr("0123456789abcdefABCDEF:.", *h))
				return false;
		colon = rb + 1;
	} else {
		colon = strrchr(v, ':');
		if (!colon || colon == v)
			return false;
		for (h = v; h < colon; h++)
			if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-", *h))
				return false;
	}
	return !parse_u64(colon + 1, 0, 65535, &port);
}

/* Cortex/Pyroscope tenant ids: a limited charset, not "." or "..". */
static bool valid_tenant(const char *v)
{
	if (strlen(v) > TENANT_MAX_LEN || !strcmp(v, ".") || !strcmp(v, ".."))
		return false;
	for (; *v; v++)
		if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!-_.*'()", *v))
			return false;
	return true;
}

static int set_types(struct parse_ctx *c, const struct key_def *k, const char *v)
{
	char buf[CONFIG_MAX_LINE + 1], tok[32], sv[64];
	unsigned types = 0;
	char *save = NULL, *t;

	snprintf(buf, sizeof(buf), "%s", v);
	if (!*v || v[strlen(v) - 1] == ',' || *v == ',' || strstr(v, ",,"))
		return fail(c, k->section, k->name, "empty entry in list '%s'", shown(v, sv, sizeof(sv)));
	for (t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		size_t n;
		const struct profiler_type *pt;

		while (*t == ' ' || *t == '\t')
			t++;
		n = strlen(t);
		while (n && (t[n - 1] == ' ' || t[n - 1] == '\t'))
			t[--n] = '\0';
		snprintf(tok, sizeof(tok), "%s", t);
		pt = n < sizeof(tok) ? profiler_type_find(tok) : NULL;
		if (!pt)
			return fail(c, k->section, k->name, "unknown profile type '%s' (known: %s)",
				    shown(t, sv, sizeof(sv)), profiler_type_names());
		types |= 1u << profiler_type_index(pt);
	}
	*(unsigned *)((char *)c->cfg + k->off) = types;
	return 0;
}

static void free_procs(struct profd_config *cfg)
{
	for (size_t i = 0; i < cfg->n_heap_names; i++)
		free(cfg->heap_names[i]);
	free(cfg->heap_names);
	free(cfg->heap_pids);
	cfg->heap_names = NULL;
	cfg->heap_pids = NULL;
	cfg->n_heap_names = cfg->n_heap_pids = 0;
}

/* "nginx, 1234, postgres": digits are pids, anything else a process name. */
static int set_procs(struct parse_ctx *c, const struct key_def *k, const char *v)
{
	char buf[CONFIG_MAX_LINE + 1], sv[64];
	struct profd_config *cfg = c->cfg;
	char *save = NULL, *t;
	int err = 0;

	free_procs(cfg);
	if (!*v)
		return 0;
	if (v[strlen(v) - 1] == ',' || *v == ',' || strstr(v, ",,"))
		return fail(c, k->section, k->name, "empty entry in list '%s'", shown(v, sv, sizeof(sv)));
	cfg->heap_names = calloc(CONFIG_MAX_HEAP_PROCS, sizeof(*cfg->heap_names));
	cfg->heap_pids = calloc(CONFIG_MAX_HEAP_PROCS, sizeof(*cfg->heap_pids));
	if (!cfg->heap_names || !cfg->heap_pids)
		return -ENOMEM;
	snprintf(buf, sizeof(buf), "%s", v);
	for (t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		uint64_t pid;
		size_t n;

		while (*t == ' ' || *t == '\t')
			t++;
		n = strlen(t);
		while (n && (t[n - 1] == ' ' || t[n - 1] == '\t'))
			t[--n] = '\0';
		if (!n || n > NAME_MAX_LEN || strpbrk(t, " \t/"))
			return fail(c, k->section, k->name, "invalid process name '%s'",
				    shown(t, sv, sizeof(sv)));
		if (cfg->n_heap_names + cfg->n_heap_pids >= CONFIG_MAX_HEAP_PROCS)
			return fail(c, k->section, k->name, "more than %d processes",
				    CONFIG_MAX_HEAP_PROCS);
		if (t[0] >= '0' && t[0] <= '9') {
			if (parse_u64(t, 1, PID_MAX_VALUE, &pid))
				return fail(c, k->section, k->name, "invalid pid '%s'",
					    shown(t, sv, sizeof(sv)));
			cfg->heap_pids[cfg->n_heap_pids++] = (pid_t)pid;
			continue;
		}
		cfg->heap_names[cfg->n_heap_names] = strdup(t);
		if (!cfg->heap_names[cfg->n_heap_names])
			return -ENOMEM;
		cfg->n_heap_names++;
	}
	return err;
}

static int parse_bool(const char *v, bool *out)
{
	static const char *const yes[] = { "1", "true", "yes", "on" };
	static const char *const no[] = { "0", "false", "no", "off" };

	for (size_t i = 0; i < 4; i++) {
		if (!strcasecmp(v, yes[i])) {
			*out = true;
			return 0;
		}
		if (!strcasecmp(v, no[i])) {
			*out = false;
			return 0;
		}
	}
	return -EINVAL;
}

static int set_service_rule(struct parse_ctx *c, const char *pattern, const char *service,
			    bool replace)
{
	struct profd_config *cfg = c->cfg;
	struct service_rule *r;
	size_t i;

	if (strlen(pattern) > NAME_MAX_LEN || has_ctl(pattern))
		return fail(c, "service", pattern, "pattern must be 1 to %d printable characters",
			    NAME_MAX_LEN);
	if (!*service || strlen(service) > NAME_MAX_LEN)
		return fail(c, "service", pattern, "service name must be 1 to %d characters",
			    NAME_MAX_LEN);
	for (i = 0; i < cfg->n_rules; i++) {
		if (strcmp(cfg->rules[i].pattern, pattern))
			continue;
		if (!replace)
			return fail(c, "service", pattern, "duplicate rule");
		return set_str(&cfg->rules[i].service, service);
	}
	if (cfg->n_rules >= CONFIG_MAX_SERVICE_RULES)
		return fail(c, "service", pattern, "more than %d rules", CONFIG_MAX_SERVICE_RULES);
	r = realloc(cfg->rules, (cfg->n_rules + 1) * sizeof(*r));
	if (!r)
		return -ENOMEM;
	cfg->rules = r;
	r = &cfg->rules[cfg->n_rules];
	r->pattern = strdup(pattern);
	r->service = strdup(service);
	if (!r->pattern || !r->service) {
		free(r->pattern);
		free(r->service);
		return -ENOMEM;
	}
	cfg->n_rules++;
	return 0;
}

/* A key of the registry's options: the setter the command line uses too. */
static int set_option(struct parse_ctx *c, const char *section, const char *name, const char *v,
		      bool from_file)
{
	const struct profiler_option *opt = profiler_option_key(section, name);
	char msg[PROFILER_ERR_LEN], kn[64];
	size_t i;

	if (!opt)
		return fail(c, NULL, NULL, "[%s] unknown key '%s'", section, shown(name, kn, sizeof(kn)));
	i = NKEYS + opt->id;
	if (from_file && c->seen[i])
		return fail(c, section, name, "duplicate key (first set at line %d)", c->seen[i]);
	c->seen[i] = c->lineno ? c->lineno : -1;
	if (profiler_option_set(&c->cfg->popts, opt, v, msg, sizeof(msg)))
		return fail(c, section, name, "%s", msg);
	return 0;
}

/* Validate and store one value. from_file: duplicates are errors. */
static int set_value(struct parse_ctx *c, const char *section, const char *name, const char *v,
		     bool from_file)
{
	const struct key_def *k = NULL;
	char sv[64], kn[64];
	void *slot;
	uint64_t u;
	size_t i;
	int err;
	bool b;

	if (!*section)
		return fail(c, NULL, NULL, "key '%s' outside a section", shown(name, kn, sizeof(kn)));
	if (!is_section(section))
		return fail(c, NULL, NULL, "unknown section [%s]", shown(section, sv, sizeof(sv)));
	if (!*name)
		return fail(c, NULL, NULL, "[%s] empty key", section);
	if (has_ctl(v))
		return fail(c, section, shown(name, kn, sizeof(kn)), "control character in value");
	if (!strcmp(section, "service"))
		return set_service_rule(c, name, v, !from_file);
	for (i = 0; i < NKEYS; i++) {
		if (!strcmp(keys[i].section, section) && !strcmp(keys[i].name, name)) {
			k = &keys[i];
			break;
		}
	}
	if (!k)
		return set_option(c, section, name, v, from_file);
	if (from_file && c->seen[i])
		return fail(c, section, name, "duplicate key (first set at line %d)", c->seen[i]);
	c->seen[i] = c->lineno ? c->lineno : -1;
	slot = (char *)c->cfg + k->off;

	switch (k->kind) {
	case K_DURATION0:
		if (!strcmp(v, "0") || !strcasecmp(v, "off")) {
			*(uint64_t *)slot = 0;
			return 0;
		}
		/* fallthrough */
	case K_DURATION:
		err = parse_duration_ns(v, &u);
		if (err)
			return fail(c, section, name, "invalid duration '%s' (e.g. 30s, 500ms, 2m, 1h)",
				    shown(v, sv, sizeof(sv)));
		*(uint64_t *)slot = u;
		return 0;
	case K_SIZE:
		err = parse_size(v, &u);
		if (err)
			return fail(c, section, name, "invalid size '%s' (e.g. 512, 64k, 100MiB, 1G)",
				    shown(v, sv, sizeof(sv)));
		if (u < k->min || u > k->max)
			return fail(c, section, name, "%s out of range [%llu, %llu]",
				    shown(v, sv, sizeof(sv)), (unsigned long long)k->min,
				    (unsigned long long)k->max);
		*(uint64_t *)slot = u;
		return 0;
	case K_U64:
		err = parse_u64(v, k->min, k->max, &u);
		if (err == -ERANGE)
			return fail(c, section, name, "%s out of range [%llu, %llu]",
				    shown(v, sv, sizeof(sv)), (unsigned long long)k->min,
				    (unsigned long long)k->max);
		if (err)
			return fail(c, section, name, "invalid number '%s'", shown(v, sv, sizeof(sv)));
		*(uint64_t *)slot = u;
		return 0;
	case K_BOOL:
		if (parse_bool(v, &b))
			return fail(c, section, name, "invalid boolean '%s' (true/false, yes/no, on/off, 1/0)",
				    shown(v, sv, sizeof(sv)));
		*(bool *)slot = b;
		return 0;
	case K_MODE:
		if (!name_index(mode_names, sizeof(mode_names) / sizeof(mode_names[0]), v, &i)) {
			*(enum upload_mode *)slot = (enum upload_mode)i;
			return 0;
		}
		return fail(c, section, name, "invalid mode '%s' (push, ingest or pprof)",
			    shown(v, sv, sizeof(sv)));
	case K_GROUP:
		if (!name_index(group_names, sizeof(group_names) / sizeof(group_names[0]), v, &i)) {
			*(enum group_by *)slot = (enum group_by)i;
			return 0;
		}
		return fail(c, section, name, "invalid group_by '%s' (service or process)",
			    shown(v, sv, sizeof(sv)));
	case K_PROFILER:
		break;
	case K_TYPES:
		return set_types(c, k, v);
	case K_PROCS:
		err = set_procs(c, k, v);
		return err;
	case K_PATH:
		if (*v && *v != '/')
			return fail(c, section, name, "'%s' is not an absolute path", shown(v, sv, sizeof(sv)));
		if (strlen(v) > PATH_MAX_LEN)
			return fail(c, section, name, "path longer than %d characters", PATH_MAX_LEN);
		break;
	case K_URL:
		if (strlen(v) > URL_MAX_LEN)
			return fail(c, section, name, "URL longer than %d characters", URL_MAX_LEN);
		if (*v && !valid_url(v))
			return fail(c, section, name, "invalid URL '%s' (http:// or https://, then a host)",
				    shown(v, sv, sizeof(sv)));
		break;
	case K_LISTEN:
		if (*v && !valid_listen(v))
			return fail(c, section, name,
				    "invalid address '%s' (host:port or [v6addr]:port, empty = off)",
				    shown(v, sv, sizeof(sv)));
		break;
	case K_TENANT:
		if (!valid_tenant(v))
			return fail(c, section, name,
				    "invalid tenant id '%s' (at most %d of A-Za-z0-9!-_.*'())",
				    shown(v, sv, sizeof(sv)), TENANT_MAX_LEN);
		break;
	case K_USER:
		if (strchr(v, ':') || strlen(v) > NAME_MAX_LEN)
			return fail(c, section, name, "user name must have no ':' and at most %d characters",
				    NAME_MAX_LEN);
		break;
	}
	return set_str((char **)slot, v);
}

static int ini_cb(void *user, const char *section, const char *name, const char *value)
{
	struct parse_ctx *c = user;
	int err;

	if (c->failed)
		return 0;
	err = set_value(c, section, name, value, true);
	if (err == -ENOMEM)
		fail(c, NULL, NULL, "out of memory");
	return err ? 0 : 1;
}

/* Section header on a line inih is about to see? Check it now, at its line. */
static void check_header(struct parse_ctx *c, const char *line, size_t n)
{
	char name[CONFIG_MAX_LINE + 1], sv[64];
	const char *rb;
	size_t i = 0;

	while (i < n && (line[i] == ' ' || line[i] == '\t'))
		i++;
	if (i == n || line[i] != '[')
		return;
	rb = memchr(line + i, ']', n - i);
	if (!rb)
		return;         /* inih reports the syntax error */
	snprintf(name, sizeof(name), "%.*s", (int)(rb - line - i - 1), line + i + 1);
	if (!is_section(name))
		fail(c, NULL, NULL, "unknown section [%s]", shown(name, sv, sizeof(sv)));
}

/* fgets over the buffer, one whole line per call. num is inih's line buffer
 * (CONFIG_MAX_LINE + 3 for '\r', '\n' and NUL). */
static char *line_reader(char *str, int num, void *stream)
{
	struct parse_ctx *c = stream;
	const char *line = c->buf + c->pos, *nl;
	size_t n, content;

	if (c->failed || c->pos >= c->len)
		return NULL;
	nl = memchr(line, '\n', c->len - c->pos);
	n = nl ? (size_t)(nl - line) + 1 : c->len - c->pos;
	c->lineno++;
	content = n - (nl ? 1 : 0);
	if (content && line[content - 1] == '\r')
		content--;
	if (content > CONFIG_MAX_LINE || n + 1 > (size_t)num) {
		fail(c, NULL, NULL, "line longer than %d characters", CONFIG_MAX_LINE);
		return NULL;
	}
	if (memchr(line, '\0', n)) {
		fail(c, NULL, NULL, "binary data (NUL byte)");
		return NULL;
	}
	if (!utf8_valid(line, n)) {
		fail(c, NULL, NULL, "invalid UTF-8");
		return NULL;
	}
	check_header(c, line, content);
	if (c->failed)
		return NULL;
	memcpy(str, line, n);
	str[n] = '\0';
	c->pos += n;
	return str;
}

int config__load_file(struct profd_config *cfg, const char *path, char *err, size_t errlen)
{
	struct parse_ctx c = { .cfg = cfg, .src = path, .err = err, .errlen = errlen };
	char *buf = NULL;
	size_t len = 0;
	int ret;

	if (err && errlen)
		err[0] = '\0';
	ret = read_file_all(path, CONFIG_MAX_FILE_SIZE, &buf, &len);
	if (ret == -EFBIG) {
		snprintf(err, errlen, "%s: larger than %d bytes", path, CONFIG_MAX_FILE_SIZE);
		return -EINVAL;
	}
	if (ret == -EFTYPE_NOT_REGULAR) {
		snprintf(err, errlen, "%s: not a regular file (a FIFO, device or socket)", path);
		return -EINVAL;
	}
	if (ret) {
		snprintf(err, errlen, "%s: %s", path, strerror(-ret));
		return ret;
	}
	c.buf = buf;
	c.len = len;
	/* Process-wide knobs of Debian's inih: a heap line buffer big enough for
	 * our longest line, no Python-style continuation lines (an indented line
	 * would silently extend the previous value), stop at the first error (a
	 * section header without its "]" must not let the keys after it be read
	 * as keys outside any section). */
	ini_use_stack = false;
	ini_allow_realloc = false;
	ini_max_line = ini_initial_alloc = CONFIG_MAX_LINE + 3;
	ini_allow_multiline = false;
	ini_allow_no_value = false;
	ini_stop_on_first_error = true;
	ret = ini_parse_stream(line_reader, &c, ini_cb, &c);
	free(buf);
	if (c.failed)
		return -EINVAL;
	if (ret < 0) {
		snprintf(err, errlen, "%s: out of memory", path);
		return -ENOMEM;
	}
	if (ret > 0) {
		c.lineno = ret;
		fail(&c, NULL, NULL, "syntax error: expected '[section]' or 'key = value'");
		return -EINVAL;
	}
	return 0;
}

int config__set(struct profd_config *cfg, const char *assignment, char *err, size_t errlen)
{
	struct parse_ctx c = { .cfg = cfg, .err = err, .errlen = errlen };
	char buf[CONFIG_MAX_LINE + 1], sv[64];
	char *dot, *eq, *name, *value;
	size_t n;
	int ret;

	if (err && errlen)
		err[0] = '\0';
	if (strlen(assignment) > CONFIG_MAX_LINE)
		return fail(&c, NULL, NULL, "override longer than %d characters", CONFIG_MAX_LINE);
	snprintf(buf, sizeof(buf), "%s", assignment);
	eq = strchr(buf, '=');
	dot = strchr(buf, '.');
	if (!eq || !dot || dot > eq)
		return fail(&c, NULL, NULL, "'%s': expected section.key=value",
			    shown(assignment, sv, sizeof(sv)));
	*dot = *eq = '\0';
	name = dot + 1;
	value = eq + 1;
	n = strlen(name);
	while (n && (name[n - 1] == ' ' || name[n - 1] == '\t'))
		name[--n] = '\0';
	while (*value == ' ' || *value == '\t')
		value++;
	if (!utf8_valid(assignment, strlen(assignment)))
		return fail(&c, NULL, NULL, "invalid UTF-8 in override");
	ret = set_value(&c, buf, name, value, false);
	if (ret == -ENOMEM)
		fail(&c, NULL, NULL, "out of memory");
	return ret;
}

int config__check(const struct profd_config *cfg, char *err, size_t errlen)
{
	const char *msg = NULL;

	if (cfg->upload.backoff_initial_ns > cfg->upload.backoff_max_ns)
		msg = "[upload] backoff_initial is larger than backoff_max";
	else if (*cfg->upload.basic_auth_user && !*cfg->upload.basic_auth_password_file)
		msg = "[upload] basic_auth_user needs basic_auth_password_file";
	else if (!*cfg->upload.basic_auth_user && *cfg->upload.basic_auth_password_file)
		msg = "[upload] basic_auth_password_file needs basic_auth_user";
	else if (*cfg->upload.basic_auth_user && *cfg->upload.bearer_token_file)
		msg = "[upload] set either bearer_token_file or basic auth, not both";
	else if (!cfg->types)
		msg = "[profd] types is empty";
	else if (*cfg->http.listen && !*cfg->http.token_file &&
		 !http_listen_is_loopback(cfg->http.listen))
		msg = "[http] listen on a non-loopback address needs token_file (without a "
		      "token only local users can be told apart)";
	else if (*cfg->http.allow_group && !getgrnam(cfg->http.allow_group))
		msg = "[http] allow_group names no group";
	if (!msg)
		return 0;
	snprintf(err, errlen, "%s", msg);
	return -EINVAL;
}

int config__init(struct profd_config *cfg)
{
	static const struct {
		size_t off;
		const char *v;
	} strs[] = {
		{ CFG(output_dir), "" },
		{ CFG(upload.url), "" },
		{ CFG(upload.tenant_id), "" },
		{ CFG(upload.bearer_token_file), "" },
		{ CFG(upload.basic_auth_user), "" },
		{ CFG(upload.basic_auth_password_file), "" },
		{ CFG(upload.spool_dir), "/var/lib/profd/spool" },
		{ CFG(upload.tls_ca_file), "" },
		{ CFG(http.listen), "127.0.0.1:6060" },
		{ CFG(http.token_file), "" },
		{ CFG(http.allow_group), "" },
	};

	memset(cfg, 0, sizeof(*cfg));
	cfg->interval_ns = 60ULL * 1000000000;
	cfg->types = 1u << profiler_type_index(profiler_type_find("cpu"));
	cfg->retention_size = 1ULL << 30;
	cfg->retention_age_ns = 7ULL * 24 * 3600 * 1000000000;
	profiler_opts_defaults(&cfg->popts);
	cfg->upload.mode = UPLOAD_MODE_PUSH;
	cfg->upload.timeout_ns = 10ULL * 1000000000;
	cfg->upload.retries = 3;
	cfg->upload.backoff_initial_ns = 1000000000ULL;
	cfg->upload.backoff_max_ns = 30ULL * 1000000000;
	cfg->upload.spool_max_bytes = 256ULL << 20;
	cfg->http.max_concurrent = 4;
	cfg->symbolize_cache_bytes = CONFIG_DEFAULT_SYMBOL_CACHE;
	for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++) {
		char **slot = (char **)((char *)cfg + strs[i].off);

		*slot = strdup(strs[i].v);
		if (!*slot)
			return -ENOMEM;
	}
	return 0;
}

void config__done(struct profd_config *cfg)
{
	if (!cfg)
		return;
	for (size_t i = 0; i < NKEYS; i++) {
		enum kind k = keys[i].kind;

		if (k == K_PATH || k == K_URL || k == K_LISTEN || k == K_TENANT || k == K_USER)
			free(*(char **)((char *)cfg + keys[i].off));
	}
	free_procs(cfg);
	for (size_t i = 0; i < cfg->n_rules; i++) {
		free(cfg->rules[i].pattern);
		free(cfg->rules[i].service);
	}
	free(cfg->rules);
	memset(cfg, 0, sizeof(*cfg));
}

int config__load(struct profd_config *cfg, const char *path, const char *const *overrides,
		 size_t n_overrides, char *err, size_t errlen)
{
	int ret;

	ret = config__init(cfg);
	if (ret) {
		snprintf(err, errlen, "out of memory");
		goto cleanup;
	}
	if (path) {
		ret = config__load_file(cfg, path, err, errlen);
		if (ret)
			goto cleanup;
	}
	for (size_t i = 0; i < n_overrides; i++) {
		ret = config__set(cfg, overrides[i], err, errlen);
		if (ret)
			goto cleanup;
	}
	ret = config__check(cfg, err, errlen);
	if (ret)
		goto cleanup;
	return 0;
cleanup:
	config__done(cfg);
	return ret;
}

const char *config__service_for(const struct profd_config *cfg, const char *comm,
				const char *unit)
{
	for (size_t i = 0; i < cfg->n_rules; i++) {
		const struct service_rule *r = &cfg->rules[i];

		if ((comm && !fnmatch(r->pattern, comm, 0)) || (unit && !fnmatch(r->pattern, unit, 0)))
			return r->service;
	}
	return NULL;
}

void config__upload_opts(const struct profd_config *cfg, struct upload_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->url = cfg->upload.url;
	o->mode = cfg->upload.mode;
	o->tenant_id = cfg->upload.tenant_id;
	o->bearer_token_file = cfg->upload.bearer_token_file;
	o->basic_auth_user = cfg->upload.basic_auth_user;
	o->basic_auth_password_file = cfg->upload.basic_auth_password_file;
	o->timeout_ns = cfg->upload.timeout_ns;
	o->retries = cfg->upload.retries;
	o->backoff_initial_ns = cfg->upload.backoff_initial_ns;
	o->backoff_max_ns = cfg->upload.backoff_max_ns;
	o->spool_dir = cfg->upload.spool_dir;
	o->spool_max_bytes = cfg->upload.spool_max_bytes;
	o->tls_ca_file = cfg->upload.tls_ca_file;
	o->tls_insecure_skip_verify = cfg->upload.tls_insecure_skip_verify;
}
