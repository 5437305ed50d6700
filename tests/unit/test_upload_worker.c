// SPDX-License-Identifier: Apache-2.0
/* upload_worker: against a store that accepts connections and never
 * answers, stop() keeps its deadline and every queued profile ends up in
 * the spool; a full queue refuses (and counts) instead of growing. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "agent/config.h"
#include "export/pyroscope.h"
#include "export/spool.h"
#include "harness.h"
#include "types/profiler.h"
#include "export/upload_worker.h"

/* A listening socket nobody accepts from: connections complete (backlog)
 * and requests hang until the client gives up. */
static int black_hole(uint16_t *port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) || listen(fd, 64) ||
	    getsockname(fd, (struct sockaddr *)&sa, &len)) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	*port = ntohs(sa.sin_port);
	return fd;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int setup(struct profd_config *cfg, const char *spool, uint16_t port)
{
	char err[CONFIG_ERR_LEN], set[256];
	int ret = config__init(cfg);

	snprintf(set, sizeof(set), "upload.url=http://127.0.0.1:%u", port);
	ret = ret ?: config__set(cfg, set, err, sizeof(err));
	snprintf(set, sizeof(set), "upload.spool_dir=%s", spool);
	ret = ret ?: config__set(cfg, set, err, sizeof(err));
	ret = ret ?: config__set(cfg, "upload.timeout=30s", err, sizeof(err));
	ret = ret ?: config__set(cfg, "upload.retries=0", err, sizeof(err));
	return ret;
}

static uint8_t *fake_profile(size_t *len)
{
	uint8_t *p = malloc(64);

	if (p) {
		memset(p, 0x5a, 64);
		*len = 64;
	}
	return p;
}

void test_upload_worker_stop_deadline_spools(void)
{
	char dir[] = "/tmp/profd-uw.XXXXXX", err[CONFIG_ERR_LEN] = "";
	struct pyroscope_meta m = {
		.type = profiler_type_find("cpu"), .service_name = "svc", .host = "h", .pid = 42, .process = "p",
	};
	struct upload_worker_stats st;
	struct profd_config cfg = { 0 };
	struct upload_opts uo;
	struct upload_worker *w;
	struct spool *sp;
	uint16_t port;
	double t0;
	int fd;

	if (!ASSERT_OK_PTR(mkdtemp(dir), "mkdtemp"))
		return;
	fd = black_hole(&port);
	if (!ASSERT_TRUE(fd >= 0, "black hole") || !ASSERT_OK(setup(&cfg, dir, port), "config"))
		goto out;
	config__upload_opts(&cfg, &uo);
	w = upload_worker__start(&uo, err, sizeof(err));
	if (!ASSERT_OK_PTR(w, err))
		goto out;
	for (int i = 0; i < 5; i++) {
		size_t len;
		uint8_t *gz = fake_profile(&len);

		m.pid = 100 + i;
		ASSERT_OK(upload_worker__enqueue_take(w, &m, gz, len), "enqueue");
	}
	usleep(200 * 1000);     /* the first request is hanging now */
	upload_worker__stats(w, &st);
	ASSERT_EQ(st.up.delivered, 0, "nothing delivered");
	ASSERT_TRUE(st.queued >= 4, "the rest waits");
	t0 = now_s();
	upload_worker__stop(w, 300 * 1000000ULL);
	/* 300 ms, then the transfer is aborted: well under the 30 s timeout. */
	ASSERT_TRUE(now_s() - t0 < 3, "stop kept its deadline");
	sp = spool__open(dir, 1 << 20);
	if (ASSERT_OK_PTR(sp, "spool reopened")) {
		ASSERT_EQ(spool__stats(sp)->items, 5, "every profile spooled");
		spool__free(sp);
	}
out:
	if (fd >= 0)
		close(fd);
	config__done(&cfg);
	{
		char cmd[64];

		snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
		ASSERT_OK(system(cmd), "cleanup");
	}
}

void test_upload_worker_queue_bound(void)
{
	char dir[] = "/tmp/profd-uw.XXXXXX", err[CONFIG_ERR_LEN] = "";
	struct pyroscope_meta m = { .type = profiler_type_find("cpu"), .service_name = "svc", .pid = 1 };
	struct upload_worker_stats st;
	struct profd_config cfg = { 0 };
	struct upload_opts uo;
	struct upload_worker *w;
	int fd, full = 0;
	uint16_t port;

	if (!ASSERT_OK_PTR(mkdtemp(dir), "mkdtemp"))
		return;
	fd = black_hole(&port);
	if (!ASSERT_TRUE(fd >= 0, "black hole") || !ASSERT_OK(setup(&cfg, dir, port), "config"))
		goto out;
	/* No spool: what is left at stop is dropped at once, not written. */
	if (!ASSERT_OK(config__set(&cfg, "upload.spool_dir=", err, sizeof(err)), err))
		goto out;
	config__upload_opts(&cfg, &uo);
	w = upload_worker__start(&uo, err, sizeof(err));
	if (!ASSERT_OK_PTR(w, err))
		goto out;
	/* The worker holds one in flight; the queue takes its bound, no more. */
	for (int i = 0; i < UPLOAD_QUEUE_MAX_ITEMS + 10; i++) {
		size_t len;
		uint8_t *gz = fake_profile(&len);
		int ret = upload_worker__enqueue_take(w, &m, gz, len);

		if (ret == -ENOBUFS)
			full++;
		else if (!ASSERT_OK(ret, "enqueue"))
			break;
	}
	upload_worker__stats(w, &st);
	ASSERT_TRUE(st.queued <= UPLOAD_QUEUE_MAX_ITEMS, "queue bounded");
	ASSERT_TRUE(full >= 9, "refused past the bound");
	ASSERT_EQ(st.queue_dropped, full, "refusals counted");
	upload_worker__stop(w, 1);
out:
	if (fd >= 0)
		close(fd);
	config__done(&cfg);
	{
		char cmd[64];

		snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
		ASSERT_OK(system(cmd), "cleanup");
	}
}
