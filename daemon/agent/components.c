// SPDX-License-Identifier: Apache-2.0
/* components: the agent's disk store, upload worker and HTTP server:
 * starting and stopping each (the HTTP threads see the last two through
 * agent/shared.h, swapped under its lock). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/agent_internal.h"
#include "export/disk.h"
#include "export/upload_worker.h"
#include "http/server.h"
#include "util/log.h"
#include "util/secret.h"

int agent_disk_start(struct agent *a, const struct profd_config *cfg, char *err, size_t errlen)
{
	if (!*cfg->output_dir)
		return 0;
	a->disk = disk_store__new(cfg->output_dir, cfg->retention_size, cfg->retention_age_ns);
	if (!a->disk) {
		int ret = -errno;

		snprintf(err, errlen, "[profd] output_dir '%s': %s", cfg->output_dir,
			 strerror(-ret));
		return ret;
	}
	log_info("writing profiles under %s", cfg->output_dir);
	return 0;
}

void agent_disk_stop(struct agent *a)
{
	disk_store__free(a->disk);
	a->disk = NULL;
}

/* The content of the uploader's secret files, to tell on reload whether
 * they changed. NULL with a message in err when one cannot be read. */
char *agent_upload_secrets(const struct profd_config *cfg, char *err, size_t errlen)
{
	char tok[SECRET_MAX_LEN + 1] = "", pw[SECRET_MAX_LEN + 1] = "", *all = NULL;

	if ((*cfg->upload.bearer_token_file &&
	     secret__read(cfg->upload.bearer_token_file, tok, sizeof(tok), err, errlen)) ||
	    (*cfg->upload.basic_auth_password_file &&
	     secret__read(cfg->upload.basic_auth_password_file, pw, sizeof(pw), err, errlen)))
		goto out;
	if (asprintf(&all, "%s\n%s", tok, pw) < 0) {
		snprintf(err, errlen, "out of memory");
		all = NULL;
	}
out:
	memset(tok, 0, sizeof(tok));
	memset(pw, 0, sizeof(pw));
	return all;
}

void agent_free_secret(char **s)
{
	if (*s)
		memset(*s, 0, strlen(*s));
	free(*s);
	*s = NULL;
}

int agent_upload_start(struct agent *a, const struct profd_config *cfg, char *err,
			size_t errlen)
{
	struct upload_worker *w;
	struct upload_opts uo;

	if (!*cfg->upload.url)
		return 0;
	a->up_secrets = agent_upload_secrets(cfg, err, errlen);
	if (!a->up_secrets)
		return -EINVAL;
	config__upload_opts(cfg, &uo);
	w = upload_worker__start(&uo, err, errlen);
	if (!w) {
		agent_free_secret(&a->up_secrets);
		return errno ? -errno : -EINVAL;
	}
	pthread_mutex_lock(&a->sh.lock);
	a->sh.up = w;
	pthread_mutex_unlock(&a->sh.lock);
	log_info("uploading profiles to %s", cfg->upload.url);
	return 0;
}

void agent_upload_stop(struct agent *a, uint64_t timeout_ns)
{
	struct upload_worker *w;

	pthread_mutex_lock(&a->sh.lock);
	w = a->sh.up;
	a->sh.up = NULL;
	pthread_mutex_unlock(&a->sh.lock);
	upload_worker__stop(w, timeout_ns);
	agent_free_secret(&a->up_secrets);
}

int agent_read_token(const struct profd_config *cfg, char *buf, size_t size, char *err,
		      size_t errlen)
{
	buf[0] = '\0';
	if (!*cfg->http.token_file)
		return 0;
	return secret__read(cfg->http.token_file, buf, size, err, errlen);
}

int agent_http_start(struct agent *a, const struct profd_config *cfg, char *err, size_t errlen)
{
	char token[SECRET_MAX_LEN + 1], host[256];
	struct http_callbacks cb;
	struct http_server *s;
	const char *colon;
	int ret;

	if (!*cfg->http.listen)
		return 0;
	ret = agent_read_token(cfg, token, sizeof(token), err, errlen);
	if (ret)
		return ret;
	a->http_token = strdup(token);
	if (!a->http_token) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	agent_http__callbacks(&a->sh, &cb);
	s = http_server__start(&(struct http_options){ .listen = cfg->http.listen,
						      .token = token,
						      .allow_group = cfg->http.allow_group,
						      .max_concurrent = cfg->http.max_concurrent },
			       &cb, err, errlen);
	memset(token, 0, sizeof(token));
	if (!s) {
		ret = errno ? -errno : -EINVAL;
		free(a->http_token);
		a->http_token = NULL;
		return ret;
	}
	pthread_mutex_lock(&a->sh.lock);
	a->sh.http = s;
	pthread_mutex_unlock(&a->sh.lock);
	/* With port 0 the kernel picked one: say which. */
	colon = strrchr(cfg->http.listen, ':');
	snprintf(host, sizeof(host), "%.*s", (int)(colon - cfg->http.listen), cfg->http.listen);
	log_info("serving /debug/pprof/ and /metrics on http://%s:%u/%s", host,
		 http_server__port(s), *token ? " (bearer token required)"
		 : " (to each local user their own processes; all to root"
		   " and [http] allow_group)");
	return 0;
}

void agent_http_stop(struct agent *a)
{
	struct http_server *s;

	pthread_mutex_lock(&a->sh.lock);
	s = a->sh.http;
	a->sh.http = NULL;
	pthread_mutex_unlock(&a->sh.lock);
	/* Profile requests in progress end early instead of holding us up. */
	atomic_fetch_add(&a->sh.gen, 1);
	http_server__stop(s);
	if (a->http_token)
		memset(a->http_token, 0, strlen(a->http_token));
	free(a->http_token);
	a->http_token = NULL;
}
