// SPDX-License-Identifier: Apache-2.0
/* config: defaults, every key, precise errors for bad values and garbage
 * files, overrides, cross-key checks, service rules. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/config.h"
#include "harness.h"
#include "types/profiler.h"

/* The bit of a type in [profd] types. */
#define TBIT(name) (1u << profiler_type_index(profiler_type_find(name)))

static char tmpdir[64];

static void rm_tmpdir(void)
{
	char cmd[96];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	if (system(cmd))
		fprintf(stderr, "could not remove %s\n", tmpdir);
}

static const char *tmp_path(const char *name)
{
	static char path[128];

	if (!tmpdir[0]) {
		snprintf(tmpdir, sizeof(tmpdir), "/tmp/profd-config-XXXXXX");
		if (!mkdtemp(tmpdir))
			return NULL;
		atexit(rm_tmpdir);
	}
	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	return path;
}

/* Write len bytes (len < 0: strlen) to <tmpdir>/profd.ini; return its path. */
static const char *write_ini(const char *text, long len)
{
	const char *path = tmp_path("profd.ini");
	FILE *f = fopen(path, "w");

	if (!f)
		return NULL;
	fwrite(text, 1, len < 0 ? strlen(text) : (size_t)len, f);
	fclose(f);
	return path;
}

/* ASSERT_STREQ for messages longer than its buffer. */
static bool msg_is(const char *got, const char *want, const char *name)
{
	bool ok = !strcmp(got, want);

	if (!ok)
		fprintf(stderr, "    got:  %s\n    want: %s\n", got, want);
	return ASSERT_TRUE(ok, name);
}

void test_config_defaults(void)
{
	struct profd_config cfg;

	if (!ASSERT_OK(config__init(&cfg), "init"))
		return;
	ASSERT_EQ(cfg.interval_ns, 60000000000ULL, "interval 60s");
	ASSERT_EQ(cfg.types, TBIT("cpu"), "types cpu");
	ASSERT_STREQ(cfg.output_dir, "", "output_dir off");
	ASSERT_EQ(cfg.popts.frequency, 99, "frequency");
	ASSERT_EQ(cfg.popts.heap_sample_rate, 524288, "heap rate");
	ASSERT_EQ(cfg.popts.python_allocator, PROFILER_PYALLOC_AUTO, "python_allocator auto by default");
	ASSERT_EQ(cfg.popts.min_block_ns, 0, "every blocking");
	ASSERT_EQ(cfg.popts.unwind, PROFILER_UNWIND_AUTO, "unwind auto");
	ASSERT_EQ(cfg.popts.unwind_max_bytes, 64ULL << 20, "unwind cap");
	ASSERT_EQ(cfg.symbolize_cache_bytes, 32ULL << 20, "symbol cache 32MiB");
	ASSERT_STREQ(cfg.upload.url, "", "upload off");
	ASSERT_EQ(cfg.upload.mode, UPLOAD_MODE_PUSH, "mode push");
	ASSERT_EQ(cfg.group_by, GROUP_BY_SERVICE, "group_by service");
	ASSERT_STREQ(cfg.http.listen, "127.0.0.1:6060", "listen");
	ASSERT_TRUE(cfg.upload.backoff_initial_ns <= cfg.upload.backoff_max_ns, "backoff order");
	ASSERT_OK(config__check(&cfg, (char[CONFIG_ERR_LEN]){ 0 }, CONFIG_ERR_LEN), "defaults pass check");
	config__done(&cfg);
	config__done(NULL);
}

void test_config_every_key(void)
{
	static const char ini[] =
		"\xef\xbb\xbf; a BOM, comments and CRLF line ends are fine\r\n"
		"[profd]\r\n"
		"interval = 10s ; inline comment\r\n"
		"types = cpu, heap,allocs , mutex,block,threadcreate, threads\n"
		"output_dir = /var/lib/profd/profiles\n"
		"retention_size = 2GiB\n"
		"retention_age = off\n"
		"# hash comment\n"
		"[cpu]\n"
		"frequency = 49\n"
		"[heap]\n"
		"sample_rate = 64k\n"
		"python_allocator = Off\n"
		"processes = nginx, 1234 ,postgres\n"
		"[block]\n"
		"min_block = 2ms\n"
		"[unwind]\n"
		"mode = fp\n"
		"max_memory = 16MiB\n"
		"[upload]\n"
		"url = https://profiles.example:4040/base\n"
		"mode = ingest\n"
		"tenant_id = team-a\n"
		"basic_auth_user = 12345\n"
		"basic_auth_password_file = /etc/profd/password\n"
		"timeout = 1500ms\n"
		"retries = 5\n"
		"backoff_initial = 250ms\n"
		"backoff_max = 1m\n"
		"spool_dir = /var/lib/profd/spool2\n"
		"spool_max_bytes = 10M\n"
		"tls_ca_file = /etc/ssl/ca.pem\n"
		"tls_insecure_skip_verify = yes\n"
		"[http]\n"
		"listen = [::1]:0\n"
		"token_file = /etc/profd/token\n"
		"max_concurrent = 2\n"
		"[symbolize]\n"
		"cache_max_memory = 100MiB\n"
		"[service]\n"
		"nginx* = web\n"
		"*.service = units\n"
		"postgres = db\n";
	char err[CONFIG_ERR_LEN] = "";
	struct profd_config cfg;
	const char *path = write_ini(ini, -1);
	int ret;

	ret = config__load(&cfg, path, NULL, 0, err, sizeof(err));
	if (!ASSERT_OK(ret, err))
		return;
	ASSERT_EQ(cfg.interval_ns, 10000000000ULL, "interval");
	ASSERT_EQ(cfg.types, (1u << profiler_type_count()) - 1, "all types");
	ASSERT_STREQ(cfg.output_dir, "/var/lib/profd/profiles", "output_dir");
	ASSERT_EQ(cfg.retention_size, 2ULL << 30, "retention_size");
	ASSERT_EQ(cfg.retention_age_ns, 0, "retention_age off");
	ASSERT_EQ(cfg.popts.frequency, 49, "frequency");
	ASSERT_EQ(cfg.popts.heap_sample_rate, 65536, "sample_rate");
	ASSERT_EQ(cfg.popts.python_allocator, 0, "python_allocator");
	ASSERT_EQ(cfg.popts.min_block_ns, 2000000, "min_block");
	ASSERT_EQ(cfg.popts.unwind, PROFILER_UNWIND_FP, "unwind mode");
	ASSERT_EQ(cfg.popts.unwind_max_bytes, 16ULL << 20, "unwind max_memory");
	ASSERT_EQ(cfg.n_heap_names, 2, "heap names");
	ASSERT_EQ(cfg.n_heap_pids, 1, "heap pids");
	if (cfg.n_heap_names == 2 && cfg.n_heap_pids == 1) {
		ASSERT_STREQ(cfg.heap_names[0], "nginx", "name 0");
		ASSERT_STREQ(cfg.heap_names[1], "postgres", "name 1");
		ASSERT_EQ(cfg.heap_pids[0], 1234, "pid 0");
	}
	ASSERT_STREQ(cfg.upload.url, "https://profiles.example:4040/base", "url");
	ASSERT_EQ(cfg.upload.mode, UPLOAD_MODE_INGEST, "mode");
	ASSERT_STREQ(cfg.upload.tenant_id, "team-a", "tenant");
	ASSERT_STREQ(cfg.upload.basic_auth_user, "12345", "user");
	ASSERT_STREQ(cfg.upload.basic_auth_password_file, "/etc/profd/password", "password file");
	ASSERT_EQ(cfg.upload.timeout_ns, 1500000000ULL, "timeout");
	ASSERT_EQ(cfg.upload.retries, 5, "retries");
	ASSERT_EQ(cfg.upload.backoff_initial_ns, 250000000ULL, "backoff_initial");
	ASSERT_EQ(cfg.upload.backoff_max_ns, 60000000000ULL, "backoff_max");
	ASSERT_STREQ(cfg.upload.spool_dir, "/var/lib/profd/spool2", "spool_dir");
	ASSERT_EQ(cfg.upload.spool_max_bytes, 10ULL << 20, "spool_max_bytes");
	ASSERT_STREQ(cfg.upload.tls_ca_file, "/etc/ssl/ca.pem", "ca");
	ASSERT_TRUE(cfg.upload.tls_insecure_skip_verify, "insecure");
	ASSERT_STREQ(cfg.http.listen, "[::1]:0", "listen");
	ASSERT_STREQ(cfg.http.token_file, "/etc/profd/token", "token_file");
	ASSERT_EQ(cfg.http.max_concurrent, 2, "max_concurrent");
	ASSERT_EQ(cfg.symbolize_cache_bytes, 100ULL << 20, "cache_max_memory");
	ASSERT_EQ(cfg.n_rules, 3, "rules");
	ASSERT_STREQ(config__service_for(&cfg, "nginx-worker", NULL), "web", "glob on comm");
	ASSERT_STREQ(config__service_for(&cfg, "foo", "foo.service"), "units", "glob on unit");
	ASSERT_STREQ(config__service_for(&cfg, "postgres", "pg.service"), "units", "first rule wins");
	ASSERT_STREQ(config__service_for(&cfg, "postgres", NULL), "db", "exact");
	ASSERT_TRUE(config__service_for(&cfg, "bash", NULL) == NULL, "no rule");
	config__done(&cfg);
}

/* Each bad file: the exact start of its message ("F" stands for the path). */
void test_config_bad_files(void)
{
	static const struct {
		const char *ini;
		const char *msg;
	} cases[] = {
		{ "[profd]\ninterval = abc\n", "F:2: [profd] interval: invalid duration 'abc'" },
		{ "[profd]\ngroup_by = host\n", "F:2: [profd] group_by: invalid group_by 'host' (service or process)" },
		{ "[upload]\n\ntimeout = 0s\n", "F:3: [upload] timeout: invalid duration '0s'" },
		{ "[nope]\n", "F:1: unknown section [nope]" },
		{ "[profd]\n[ profd ]\n", "F:2: unknown section [ profd ]" },
		{ "[profd]\n\nbogus = 1\n", "F:3: [profd] unknown key 'bogus'" },
		{ "[profd]\nInterval = 1s\n", "F:2: [profd] unknown key 'Interval'" },
		{ "[profd]\ninterval 60s\n", "F:2: syntax error" },
		{ "[profd\ninterval = 60s\n", "F:1: syntax error" },
		{ "[profd]\ninterval = 1s\n  2s\n", "F:3: syntax error" },
		{ "[profd]\n= 5\n", "F:2: [profd] empty key" },
		{ "interval = 1s\n", "F:1: key 'interval' outside a section" },
		{ "[profd]\ninterval=1s\n[cpu]\nfrequency=9\n[profd]\ninterval=2s\n",
		  "F:6: [profd] interval: duplicate key (first set at line 2)" },
		{ "[cpu]\nfrequency = 99\nfrequency = 99\n",
		  "F:3: [cpu] frequency: duplicate key (first set at line 2)" },
		{ "[profd]\ntypes = cpu\xff\n", "F:2: invalid UTF-8" },
		{ "[profd]\ntypes = \xc0\xaf\n", "F:2: invalid UTF-8" },
		{ "[profd]\ntypes = cpu\x01\n", "F:2: [profd] types: control character in value" },
		{ "[profd]\ntypes = cpu,,heap\n", "F:2: [profd] types: empty entry in list 'cpu,,heap'" },
		{ "[profd]\ntypes = cpu,\n", "F:2: [profd] types: empty entry" },
		{ "[profd]\ntypes =\n", "F:2: [profd] types: empty entry" },
		{ "[profd]\ntypes = cpu, gpu\n", "F:2: [profd] types: unknown profile type 'gpu'" },
		{ "[profd]\noutput_dir = profiles\n", "F:2: [profd] output_dir: 'profiles' is not an absolute path" },
		{ "[profd]\nretention_size = 10 GB\n", "F:2: [profd] retention_size: invalid size '10 GB'" },
		{ "[profd]\nretention_age = -1s\n", "F:2: [profd] retention_age: invalid duration '-1s'" },
		{ "[cpu]\nfrequency = 0\n", "F:2: [cpu] frequency: 0 out of range [1, 10000]" },
		{ "[cpu]\nfrequency = 99999999999999999999999\n", "F:2: [cpu] frequency: 99999999999999999999999 out of range" },
		{ "[cpu]\nfrequency = 99Hz\n", "F:2: [cpu] frequency: invalid number '99Hz'" },
		{ "[heap]\nsample_rate = 0\n", "F:2: [heap] sample_rate: 0 out of range" },
		{ "[heap]\npython_allocator = maybe\n",
		  "F:2: [heap] python_allocator: expected auto, calls, arenas or off, not 'maybe'" },
		{ "[heap]\npython_allocator =\n",
		  "F:2: [heap] python_allocator: expected auto, calls, arenas or off" },
		{ "[heap]\nprocesses = nginx, 0\n", "F:2: [heap] processes: invalid pid '0'" },
		{ "[heap]\nprocesses = 99999999\n", "F:2: [heap] processes: invalid pid '99999999'" },
		{ "[heap]\nprocesses = a b\n", "F:2: [heap] processes: invalid process name 'a b'" },
		{ "[unwind]\nmode = orc\n", "F:2: [unwind] mode: invalid mode 'orc' (auto, fp or dwarf)" },
		{ "[unwind]\nmax_memory = 4k\n", "F:2: [unwind] max_memory: 4k out of range" },
		{ "[block]\nmin_block = -1ms\n", "F:2: [block] min_block: invalid duration '-1ms'" },
		{ "[heap]\nprocesses = /bin/sh\n", "F:2: [heap] processes: invalid process name '/bin/sh'" },
		{ "[upload]\nurl = ftp://x\n", "F:2: [upload] url: invalid URL 'ftp://x'" },
		{ "[upload]\nurl = http://\n", "F:2: [upload] url: invalid URL 'http://'" },
		{ "[upload]\nurl = http://a b/\n", "F:2: [upload] url: invalid URL 'http://a b/'" },
		{ "[upload]\nmode = grpc\n", "F:2: [upload] mode: invalid mode 'grpc'" },
		{ "[upload]\ntenant_id = a b\n", "F:2: [upload] tenant_id: invalid tenant id 'a b'" },
		{ "[upload]\ntenant_id = ..\n", "F:2: [upload] tenant_id: invalid tenant id '..'" },
		{ "[upload]\nbasic_auth_user = a:b\n", "F:2: [upload] basic_auth_user: user name must have no ':'" },
		{ "[upload]\nretries = 21\n", "F:2: [upload] retries: 21 out of range [0, 20]" },
		{ "[upload]\nspool_max_bytes = 1k\n", "F:2: [upload] spool_max_bytes: 1k out of range" },
		{ "[upload]\ntls_insecure_skip_verify = maybe\n",
		  "F:2: [upload] tls_insecure_skip_verify: invalid boolean 'maybe'" },
		{ "[http]\nlisten = 6060\n", "F:2: [http] listen: invalid address '6060'" },
		{ "[http]\nlisten = 127.0.0.1:70000\n", "F:2: [http] listen: invalid address '127.0.0.1:70000'" },
		{ "[http]\nlisten = [::1:6060\n", "F:2: [http] listen: invalid address '[::1:6060'" },
		{ "[http]\nlisten = a/b:1\n", "F:2: [http] listen: invalid address 'a/b:1'" },
		{ "[http]\nmax_concurrent = 0\n", "F:2: [http] max_concurrent: 0 out of range [1, 64]" },
		{ "[service]\nnginx = web\nnginx = web2\n", "F:3: [service] nginx: duplicate rule" },
		{ "[service]\nnginx =\n", "F:2: [service] nginx: service name must be 1 to" },
		{ "[symbolize]\ncache_max_memory = lots\n",
		  "F:2: [symbolize] cache_max_memory: invalid size 'lots' (e.g. 512, 64k, 100MiB, 1G)" },
		{ "[symbolize]\ncache_max_memory =\n", "F:2: [symbolize] cache_max_memory: invalid size ''" },
		{ "[symbolize]\ncache_max_memory = -32MiB\n",
		  "F:2: [symbolize] cache_max_memory: invalid size '-32MiB'" },
		{ "[symbolize]\ncache_max_memory = 0\n",
		  "F:2: [symbolize] cache_max_memory: 0 out of range [4194304, 1099511627776]" },
		{ "[symbolize]\ncache_max_memory = 1MiB\n", "F:2: [symbolize] cache_max_memory: 1MiB out of range" },
		{ "[symbolize]\ncache_max_memory = 2048G\n", "F:2: [symbolize] cache_max_memory: 2048G out of range" },
		{ "[symbolize]\ncache_max_memory = 32MiB\ncache_max_memory = 64MiB\n",
		  "F:3: [symbolize] cache_max_memory: duplicate key (first set at line 2)" },
		{ "[symbolize]\ncache_size = 32MiB\n", "F:2: [symbolize] unknown key 'cache_size'" },
	};
	char err[CONFIG_ERR_LEN], want[CONFIG_ERR_LEN];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct profd_config cfg;
		const char *path = write_ini(cases[i].ini, -1);
		int ret;

		snprintf(want, sizeof(want), "%s%s", path, cases[i].msg + 1);
		err[0] = '\0';
		ret = config__load(&cfg, path, NULL, 0, err, sizeof(err));
		ASSERT_EQ(ret, -EINVAL, cases[i].ini);
		if (!ASSERT_TRUE(!strncmp(err, want, strlen(want)), cases[i].ini))
			fprintf(stderr, "    got:  %s\n    want: %s...\n", err, want);
		/* On failure config__load leaves a released, zeroed config. */
		ASSERT_TRUE(cfg.output_dir == NULL && cfg.rules == NULL, "released");
	}
}

void test_config_garbage_files(void)
{
	char err[CONFIG_ERR_LEN], want[CONFIG_ERR_LEN];
	struct profd_config cfg;
	static char big[(CONFIG_MAX_FILE_SIZE) + 2];
	char line[CONFIG_MAX_LINE + 64];
	const char *path;
	int ret;

	/* An ELF header: NUL bytes on line 1. */
	path = write_ini("\x7f" "ELF\x02\x01\x01\x00\x00\x00\x00", 12);
	ret = config__load(&cfg, path, NULL, 0, err, sizeof(err));
	snprintf(want, sizeof(want), "%s:1: binary data (NUL byte)", path);
	ASSERT_EQ(ret, -EINVAL, "elf");
	msg_is(err, want, "elf message");

	/* One line over the limit, and one exactly at it. */
	snprintf(line, sizeof(line), "[profd]\n; ");
	memset(line + 10, 'x', CONFIG_MAX_LINE - 2);
	line[10 + CONFIG_MAX_LINE - 2] = '\n';
	path = write_ini(line, 10 + CONFIG_MAX_LINE - 1);
	ret = config__load(&cfg, path, NULL, 0, err, sizeof(err));
	if (ASSERT_OK(ret, "line at the limit"))
		config__done(&cfg);
	memset(line + 10, 'x', CONFIG_MAX_LINE - 1);
	line[10 + CONFIG_MAX_LINE - 1] = '\n';
	path = write_ini(line, 10 + CONFIG_MAX_LINE);
	ret = config__load(&cfg, path, NULL, 0, err, sizeof(err));
	snprintf(want, sizeof(want), "%s:2: line longer than %d characters", path, CONFIG_MAX_LINE);
	ASSERT_EQ(ret, -EINVAL, "long line");
	msg_is(err, want, "long line message");
	/* A long value inside the limit still gets its own key's error. */
	snprintf(line, sizeof(line), "[profd]\noutput_dir = /");
	memset(line + strlen(line), 'a', 2000);
	line[22 + 2000] = '\0';
	path = write_ini(line, -1);
	ret = config__load(&cfg, path, NULL, 0, err, sizeof(err));
	snprintf(want, sizeof(want), "%s:2: [profd] output_dir: path longer than", path);
	ASSERT_EQ(ret, -EINVAL, "long path");
	ASSERT_TRUE(!strncmp(err, want, strlen(want)), err);

	/* Over the file size limit, in comments. */
	memset(big, '\n', sizeof(big) - 1);
	path = write_ini(big, sizeof(big) - 1);
	ret = config__load(&cfg, path, NULL, 0, err, sizeof(err));
	ASSERT_EQ(ret, -EINVAL, "big file");
	ASSERT_TRUE(strstr(err, "larger than") != NULL, err);

	/* Missing file and a directory: -errno and the path in the message. */
	ret = config__load(&cfg, "/nonexistent/profd.ini", NULL, 0, err, sizeof(err));
	ASSERT_EQ(ret, -ENOENT, "missing");
	ASSERT_TRUE(strstr(err, "/nonexistent/profd.ini") != NULL, err);
	ret = config__load(&cfg, "/tmp", NULL, 0, err, sizeof(err));
	ASSERT_EQ(ret, -EISDIR, "directory");

	/* An empty file is a valid file: all defaults. */
	path = write_ini("", 0);
	ASSERT_OK(config__load(&cfg, path, NULL, 0, err, sizeof(err)), "empty file");
	config__done(&cfg);
}

/* Random bytes and byte flips of a valid file: never a crash, always either
 * success or -EINVAL with a message that starts with the path. */
void test_config_fuzz(void)
{
	static const char valid[] = "[profd]\ninterval = 10s\ntypes = cpu,heap\n[upload]\n"
				    "url = http://127.0.0.1:4040\n[http]\nlisten = 127.0.0.1:0\n"
				    "[service]\nng* = web\n";
	unsigned seed = 12345;
	char buf[2048], err[CONFIG_ERR_LEN];
	int ok = 0, bad = 0;

	for (int iter = 0; iter < 400; iter++) {
		struct profd_config cfg;
		const char *path;
		size_t len;
		int ret;

		if (iter % 2) {
			len = rand_r(&seed) % sizeof(buf);
			for (size_t i = 0; i < len; i++)
				buf[i] = (char)(rand_r(&seed) % 256);
		} else {
			len = sizeof(valid) - 1;
			memcpy(buf, valid, len);
			for (int f = 0; f < 1 + iter % 5; f++)
				buf[rand_r(&seed) % len] = (char)(rand_r(&seed) % 256);
		}
		path = write_ini(buf, len);
		err[0] = '\0';
		ret = config__load(&cfg, path, NULL, 0, err, sizeof(err));
		if (!ret) {
			ok++;
			config__done(&cfg);
			continue;
		}
		bad++;
		if (!ASSERT_EQ(ret, -EINVAL, "fuzz ret") || !ASSERT_TRUE(!strncmp(err, path, strlen(path)), err))
			break;
	}
	ASSERT_TRUE(bad > 200, "most garbage is rejected");
}

void test_config_overrides(void)
{
	static const struct {
		const char *set;
		const char *msg;  /* NULL: accepted */
	} cases[] = {
		{ "upload.timeout=abc", "command line: [upload] timeout: invalid duration 'abc'" },
		{ "cpu.frequency=199", NULL },
		{ "symbolize.cache_max_memory=16MiB", NULL },
		{ "symbolize.cache_max_memory=big",
		  "command line: [symbolize] cache_max_memory: invalid size 'big'" },
		{ "cpu.frequency = 299", NULL },
		{ "profd.types=cpu,mutex", NULL },
		{ "profd.group_by=service", NULL },
		{ "profd.group_by=process", NULL },
		{ "profd.group_by=pid", "command line: [profd] group_by: invalid group_by 'pid' (service or process)" },
		{ "profd.group_by=", "command line: [profd] group_by: invalid group_by '' (service or process)" },
		{ "http.listen=", NULL },
		{ "service.nginx*=web", NULL },
		{ "service.nginx*=web2", NULL },
		{ "nodot=1", "command line: 'nodot=1': expected section.key=value" },
		{ "profd.interval", "command line: 'profd.interval': expected section.key=value" },
		{ "a=b.c", "command line: 'a=b.c': expected section.key=value" },
		{ "bogus.key=1", "command line: unknown section [bogus]" },
		{ "profd.bogus=1", "command line: [profd] unknown key 'bogus'" },
		{ "profd.output_dir=rel", "command line: [profd] output_dir: 'rel' is not an absolute path" },
		{ "heap.python_allocator=calls", NULL },
		{ "heap.python_allocator=on", NULL },
		{ "heap.python_allocator=Arenas", NULL },
		{ "heap.python_allocator=arena",
		  "command line: [heap] python_allocator: expected auto, calls, arenas or off, not 'arena'" },
	};
	struct profd_config cfg;
	char err[CONFIG_ERR_LEN];

	if (!ASSERT_OK(config__init(&cfg), "init"))
		return;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int ret = config__set(&cfg, cases[i].set, err, sizeof(err));

		if (!cases[i].msg) {
			ASSERT_OK(ret, cases[i].set);
			continue;
		}
		ASSERT_EQ(ret, -EINVAL, cases[i].set);
		if (!ASSERT_TRUE(!strncmp(err, cases[i].msg, strlen(cases[i].msg)), cases[i].set))
			fprintf(stderr, "    got:  %s\n    want: %s\n", err, cases[i].msg);
	}
	ASSERT_EQ(cfg.popts.frequency, 299, "last override wins");
	ASSERT_EQ(cfg.popts.python_allocator, PROFILER_PYALLOC_ARENAS, "python_allocator arenas");
	ASSERT_EQ(cfg.group_by, GROUP_BY_PROCESS, "group_by process");
	ASSERT_EQ(cfg.types, TBIT("cpu") | TBIT("mutex"), "types");
	ASSERT_STREQ(cfg.http.listen, "", "http off");
	ASSERT_EQ(cfg.n_rules, 1, "service override replaces");
	ASSERT_STREQ(config__service_for(&cfg, "nginx", NULL), "web2", "replaced service");
	config__done(&cfg);
}

void test_config_file_then_overrides(void)
{
	const char *path = write_ini("[cpu]\nfrequency = 49\n[upload]\nurl = http://127.0.0.1:1/\n", -1);
	const char *good[] = { "cpu.frequency=19" };
	const char *bad[] = { "upload.backoff_initial=2m" };
	const char *auth[] = { "upload.basic_auth_user=u" };
	const char *both[] = { "upload.basic_auth_user=u", "upload.basic_auth_password_file=/p",
			       "upload.bearer_token_file=/t" };
	struct profd_config cfg;
	char err[CONFIG_ERR_LEN];

	if (!ASSERT_OK(config__load(&cfg, path, good, 1, err, sizeof(err)), err))
		return;
	ASSERT_EQ(cfg.popts.frequency, 19, "override beats file");
	ASSERT_STREQ(cfg.upload.url, "http://127.0.0.1:1/", "file value kept");
	config__done(&cfg);

	ASSERT_EQ(config__load(&cfg, path, bad, 1, err, sizeof(err)), -EINVAL, "backoff order");
	msg_is(err, "[upload] backoff_initial is larger than backoff_max", "backoff message");
	ASSERT_EQ(config__load(&cfg, path, auth, 1, err, sizeof(err)), -EINVAL, "user alone");
	msg_is(err, "[upload] basic_auth_user needs basic_auth_password_file", "user message");
	ASSERT_EQ(config__load(&cfg, path, both, 3, err, sizeof(err)), -EINVAL, "both auths");
	ASSERT_TRUE(strstr(err, "not both") != NULL, err);
}

/* config/profd.ini documents every key with its default: it must load and
 * give exactly the built-in defaults. */
void test_config_shipped_example(void)
{
	struct profd_config def, cfg;
	char err[CONFIG_ERR_LEN];

	if (!ASSERT_OK(config__load(&cfg, "config/profd.ini", NULL, 0, err, sizeof(err)), err))
		return;
	if (!ASSERT_OK(config__init(&def), "init")) {
		config__done(&cfg);
		return;
	}
	ASSERT_EQ(cfg.interval_ns, def.interval_ns, "interval");
	ASSERT_EQ(cfg.types, def.types, "types");
	ASSERT_STREQ(cfg.output_dir, def.output_dir, "output_dir");
	ASSERT_EQ(cfg.retention_size, def.retention_size, "retention_size");
	ASSERT_EQ(cfg.retention_age_ns, def.retention_age_ns, "retention_age");
	ASSERT_EQ(cfg.popts.frequency, def.popts.frequency, "frequency");
	ASSERT_EQ(cfg.popts.heap_sample_rate, def.popts.heap_sample_rate, "sample_rate");
	ASSERT_EQ(cfg.n_heap_names + cfg.n_heap_pids, 0, "processes");
	ASSERT_EQ(cfg.popts.min_block_ns, def.popts.min_block_ns, "min_block");
	ASSERT_EQ(cfg.popts.unwind, def.popts.unwind, "unwind mode");
	ASSERT_EQ(cfg.popts.unwind_max_bytes, def.popts.unwind_max_bytes, "unwind max_memory");
	ASSERT_STREQ(cfg.upload.url, def.upload.url, "url");
	ASSERT_EQ(cfg.upload.mode, def.upload.mode, "mode");
	ASSERT_EQ(cfg.group_by, def.group_by, "group_by");
	ASSERT_EQ(cfg.upload.timeout_ns, def.upload.timeout_ns, "timeout");
	ASSERT_EQ(cfg.upload.retries, def.upload.retries, "retries");
	ASSERT_EQ(cfg.upload.backoff_initial_ns, def.upload.backoff_initial_ns, "backoff_initial");
	ASSERT_EQ(cfg.upload.backoff_max_ns, def.upload.backoff_max_ns, "backoff_max");
	ASSERT_STREQ(cfg.upload.spool_dir, def.upload.spool_dir, "spool_dir");
	ASSERT_EQ(cfg.upload.spool_max_bytes, def.upload.spool_max_bytes, "spool_max_bytes");
	ASSERT_EQ(cfg.upload.tls_insecure_skip_verify, def.upload.tls_insecure_skip_verify, "insecure");
	ASSERT_STREQ(cfg.http.listen, def.http.listen, "listen");
	ASSERT_EQ(cfg.http.max_concurrent, def.http.max_concurrent, "max_concurrent");
	ASSERT_EQ(cfg.n_rules, 0, "no rules");
	config__done(&def);
	config__done(&cfg);
}
