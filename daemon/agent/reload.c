// SPDX-License-Identifier: Apache-2.0
/* reload: SIGHUP: the new configuration is checked, diffed against the
 * running one, and only what changed is restarted (back to the old one
 * on failure). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "agent/agent_internal.h"
#include "unwind/unwinder.h"
#include "util/log.h"
#include "util/sdnotify.h"
#include "util/secret.h"

static bool str_eq(const char *x, const char *y)
{
	return !strcmp(x ? x : "", y ? y : "");
}

static bool profilers_differ(const struct profd_config *x, const struct profd_config *y)
{
	if (agent_continuous(x) != agent_continuous(y) || x->types != y->types ||
	    !profiler_opts_equal(&x->popts, &y->popts) ||
	    x->n_heap_names != y->n_heap_names || x->n_heap_pids != y->n_heap_pids)
		return true;
	for (size_t i = 0; i < x->n_heap_names; i++)
		if (!str_eq(x->heap_names[i], y->heap_names[i]))
			return true;
	return x->n_heap_pids &&
	       memcmp(x->heap_pids, y->heap_pids, x->n_heap_pids * sizeof(*x->heap_pids));
}

static bool disk_differs(const struct profd_config *x, const struct profd_config *y)
{
	return !str_eq(x->output_dir, y->output_dir) || x->retention_size != y->retention_size ||
	       x->retention_age_ns != y->retention_age_ns;
}

/* A setting changed, or the content of a secret file (token rotation is a
 * reason to send SIGHUP). */
static bool upload_differs(struct agent *a, const struct profd_config *x,
			   const struct profd_config *y)
{
	char err[CONFIG_ERR_LEN];
	char *now;
	bool differ;

	if (!str_eq(x->upload.url, y->upload.url) || x->upload.mode != y->upload.mode ||
	    !str_eq(x->upload.tenant_id, y->upload.tenant_id) ||
	    !str_eq(x->upload.bearer_token_file, y->upload.bearer_token_file) ||
	    !str_eq(x->upload.basic_auth_user, y->upload.basic_auth_user) ||
	    !str_eq(x->upload.basic_auth_password_file, y->upload.basic_auth_password_file) ||
	    x->upload.timeout_ns != y->upload.timeout_ns || x->upload.retries != y->upload.retries ||
	    x->upload.backoff_initial_ns != y->upload.backoff_initial_ns ||
	    x->upload.backoff_max_ns != y->upload.backoff_max_ns ||
	    !str_eq(x->upload.spool_dir, y->upload.spool_dir) ||
	    x->upload.spool_max_bytes != y->upload.spool_max_bytes ||
	    !str_eq(x->upload.tls_ca_file, y->upload.tls_ca_file) ||
	    x->upload.tls_insecure_skip_verify != y->upload.tls_insecure_skip_verify)
		return true;
	if (!*y->upload.url)
		return false;
	/* Unreadable now: restart, and fail there with its message. */
	now = agent_upload_secrets(y, err, sizeof(err));
	differ = !now || !str_eq(now, a->up_secrets);
	agent_free_secret(&now);
	return differ;
}

static bool http_differs(struct agent *a, const struct profd_config *x,
			 const struct profd_config *y)
{
	char token[SECRET_MAX_LEN + 1], err[CONFIG_ERR_LEN];
	bool differ;

	if (!str_eq(x->http.listen, y->http.listen) ||
	    !str_eq(x->http.token_file, y->http.token_file) ||
	    !str_eq(x->http.allow_group, y->http.allow_group) ||
	    x->http.max_concurrent != y->http.max_concurrent)
		return true;
	if (!*y->http.listen || !*y->http.token_file)
		return false;
	/* A token that cannot be read now: restart, and fail there with its message. */
	if (agent_read_token(y, token, sizeof(token), err, sizeof(err)))
		return true;
	differ = !str_eq(token, a->http_token);
	memset(token, 0, sizeof(token));
	return differ;
}

/* The walker's settings ([unwind]): the same, and its tables stay. */
static bool unwind_differs(const struct profd_config *x, const struct profd_config *y)
{
	return x->popts.unwind != y->popts.unwind ||
	       x->popts.unwind_max_bytes != y->popts.unwind_max_bytes;
}

/* Move the components from configuration `from` (what runs) to `to`,
 * restarting those whose settings differ. On error the message is in err
 * and the components are partly moved: apply again with the roles
 * swapped to go back. */
static int apply(struct agent *a, const struct profd_config *to, const struct profd_config *from,
		 char *err, size_t errlen)
{
	bool prof = profilers_differ(from, to), disk = disk_differs(from, to),
	     up = upload_differs(a, from, to), http = http_differs(a, from, to);
	struct unwinder *keep = NULL;
	int ret = 0;

	if (prof) {
		/* The shared walker would go with the last profiler, and every
		 * process's tables with it: hold it when [unwind] is unchanged. */
		if (!unwind_differs(from, to)) {
			keep = unwinder__hold();
			if (keep)
				log_debug("reload: [unwind] unchanged, unwind tables kept");
		}
		agent_profilers_stop(a);
	}
	if (disk)
		agent_disk_stop(a);
	if (up)
		agent_upload_stop(a, AGENT_UPLOAD_RELOAD_NS);
	if (http)
		agent_http_stop(a);
	if (disk)
		ret = agent_disk_start(a, to, err, errlen);
	if (!ret && up)
		ret = agent_upload_start(a, to, err, errlen);
	if (!ret && http)
		ret = agent_http_start(a, to, err, errlen);
	if (!ret && prof)
		ret = agent_profilers_start(a, to, err, errlen);
	unwinder__put(keep); /* NULL-safe; frees it if the new profilers do not walk */
	return ret;
}

int agent_check_config(const struct profd_config *cfg, char *err, size_t errlen)
{
	if (!agent_continuous(cfg) && !*cfg->http.listen) {
		snprintf(err, errlen, "nothing to do: set [profd] output_dir, [upload] url or "
			 "[http] listen");
		return -EINVAL;
	}
	return 0;
}

int agent_validate(const struct profd_config *cfg, char *err, size_t errlen)
{
	char token[SECRET_MAX_LEN + 1];
	char *secrets;
	int ret;

	ret = agent_check_config(cfg, err, errlen);
	if (ret)
		return ret;
	ret = agent_read_token(cfg, token, sizeof(token), err, errlen);
	memset(token, 0, sizeof(token));
	if (ret)
		return ret;
	secrets = agent_upload_secrets(cfg, err, errlen);
	if (!secrets)
		return -EINVAL;
	agent_free_secret(&secrets);
	return 0;
}

void agent_reload(struct agent *a)
{
	char err[CONFIG_ERR_LEN] = "", err2[CONFIG_ERR_LEN] = "";
	struct profd_config nc;
	int ret;

	sdnotify__sendf("RELOADING=1\nMONOTONIC_USEC=%llu",
			(unsigned long long)(agent_now_ns(CLOCK_MONOTONIC) / 1000));
	log_info("SIGHUP: reloading %s", a->o->config_path);
	ret = config__load(&nc, a->o->config_path, a->o->overrides, a->o->n_overrides, err,
			   sizeof(err));
	if (!ret) {
		ret = agent_check_config(&nc, err, sizeof(err));
		if (ret)
			config__done(&nc);
	}
	if (ret) {
		a->reload_errors++;
		log_err("reload failed: %s; keeping the current configuration", err);
		goto out;
	}
	/* The interval so far is written with the settings it was taken with. */
	agent_tick(a);
	agent_interval_end(a, agent_now_ns(CLOCK_REALTIME));
	ret = apply(a, &nc, &a->cfg, err, sizeof(err));
	if (ret) {
		a->reload_errors++;
		log_err("reload failed: %s; going back to the previous configuration", err);
		if (apply(a, &a->cfg, &nc, err2, sizeof(err2)))
			log_err("cannot go back to the previous configuration either: %s", err2);
		config__done(&nc);
		goto out;
	}
	config__done(&a->cfg);
	a->cfg = nc;
	symbolizer__set_max_cache_bytes(a->sym, a->cfg.symbolize_cache_bytes);
	a->reloads++;
	agent_interval_begin(a, 0);
	log_info("configuration reloaded");
out:
	agent_snapshot_update(a);
	sdnotify__send("READY=1");
	agent_notify_status(a);
}
