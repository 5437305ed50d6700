// SPDX-License-Identifier: Apache-2.0
/* profd: command line and validation; then either the one-shot profiling
 * run (oneshot.c) or, with --config, the continuous agent (agent.c).
 * Everything else lives in modules; this file wires them together. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <bpf/libbpf.h>

#include "agent.h"
#include "collect/probe.h"
#include "config.h"
#include "log.h"
#include "oneshot.h"
#include "profiler.h"
#include "prof_threads.h" /* threads: one-shot snapshot */
#include "util/parse.h"

#define MAX_PIDS 1024
#define MAX_OVERRIDES 64

static pid_t arg_pids[MAX_PIDS];
static size_t arg_npids;
static const char *arg_type = "cpu";
static uint64_t arg_duration_ns = 30ULL * 1000000000ULL;
static uint64_t arg_frequency = 99;
static uint64_t arg_min_block_ns;
static uint64_t arg_heap_rate = 524288;
static char arg_output[PATH_MAX];
static int arg_verbose;
/* Continuous mode: the file, and the command line's settings over it. */
static const char *arg_config;
static bool arg_check_config;
static char *arg_overrides[MAX_OVERRIDES];
static size_t arg_noverrides;
static enum profiler_unwind arg_unwind = PROFILER_UNWIND_AUTO;
static uint64_t arg_unwind_max_bytes; /* 0: the loader's default */
/* threads: --format pprof (0), text (1: Go's debug=1), dump (2: debug=2) */
static int arg_threads_format;
static bool arg_duration_given; /* threads: a snapshot ignores --duration */

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: profd [OPTIONS]\n"
		"Profile processes with eBPF and write a gzipped pprof profile that\n"
		"`go tool pprof` reads like a Go profile.\n"
		"\n"
		"  -p, --pid PID         profile this process (repeatable); default: every process\n"
		"  -t, --type TYPE       profile type (default cpu), see below\n"
		"  -d, --duration D      how long to profile: 30s, 2m, 500ms (default 30s)\n"
		"  -F, --frequency HZ    CPU samples per second per CPU (default 99)\n"
		"      --min-block D     block: shortest off-CPU time recorded, e.g. 1ms\n"
		"                        (default 0: every blocking)\n"
		"  -o, --output PATH     profile file (default <type>-<pid|host>-<time>.pb.gz)\n"
		"      --heap-sample-rate BYTES\n"
		"                        heap/allocs: mean bytes between samples (default 524288,\n"
		"                        Go's default); 1 records every allocation\n"
		"  -u, --unwind MODE     user stacks: dwarf (.eh_frame tables, complete without\n"
		"                        frame pointers; fails if the kernel cannot, < 5.17),\n"
		"                        fp (frame pointers only) or auto (default: dwarf where\n"
		"                        the kernel allows it, else fp)\n"
		"      --unwind-max-memory SIZE\n"
		"                        kernel memory for .eh_frame tables, e.g. 64MiB (the\n"
		"                        default); tables past it are refused (counted) and\n"
		"                        their code gets frame-pointer steps\n"
		"      --format FORM     threads: pprof (default), text (count + stack, Go's\n"
		"                        goroutine ?debug=1) or dump (every thread, ?debug=2)\n"
		"  -v, --verbose         debug messages (libbpf included)\n"
		"  -h, --help            this help\n"
		"  -V, --version         print the version\n"
		"\n"
		"Continuous mode (the systemd service):\n"
		"  -c, --config PATH     run continuously with this INI file (see config/profd.ini):\n"
		"                        every interval one profile per process per type, written\n"
		"                        to output_dir and/or uploaded; /debug/pprof/ and /metrics\n"
		"                        over HTTP. SIGHUP reloads the file; SIGTERM flushes, stops.\n"
		"  -s, --set SEC.KEY=VAL override a file setting, e.g. --set http.listen=[::1]:6061\n"
		"      --check-config    validate the file (and overrides), print it is fine, exit\n"
		"  With --config, --type (a comma list), --frequency, --heap-sample-rate,\n"
		"  --min-block, --unwind, --unwind-max-memory, --duration (the interval) and\n"
		"  --output (the output directory) override the file; --pid applies as in\n"
		"  one-shot mode.\n"
		"\n"
		"Ctrl-C (SIGINT) or SIGTERM stops early; the profile is still written.\n"
		"Without --pid, samples carry pid, tid, comm and thread labels:\n"
		"  go tool pprof -tagfocus=pid=1234 -top cpu-host-*.pb.gz\n"
		"heap/allocs need --pid; they see only allocations made after profd\n"
		"attached (frees of older blocks are ignored).\n"
		"Needs root, or CAP_BPF + CAP_PERFMON, and a kernel with BTF (>= 5.8).\n"
		"\nProfile types:\n");
	for (size_t i = 0; profiler_type_at(i); i++)
		fprintf(f, "  %-12s %s\n", profiler_type_at(i)->name, profiler_type_at(i)->description);
}

static int fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int fail(const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_err("%s", msg);
	return EXIT_FAILURE;
}

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (level == LIBBPF_DEBUG && !arg_verbose)
		return 0;
	if (level != LIBBPF_WARN && !arg_verbose)
		return 0;
	return vfprintf(stderr, fmt, ap);
}

/* Refuse an output path we could not write, before profiling starts: try
 * creating (and removing) a file in its directory. */
static int check_output(const char *path)
{
	char dir[PATH_MAX], probe[PATH_MAX + 32];
	struct stat st;
	int fd;

	if (!stat(path, &st) && S_ISDIR(st.st_mode)) {
		log_err("cannot write output '%s': it is a directory", path);
		return -EISDIR;
	}
	snprintf(dir, sizeof(dir), "%s", path);
	snprintf(probe, sizeof(probe), "%s/.profd-probe-XXXXXX", dirname(dir));
	fd = mkostemp(probe, O_CLOEXEC);
	if (fd < 0) {
		int err = -errno;

		log_err("cannot write output '%s': %s", path, strerror(-err));
		return err;
	}
	close(fd);
	unlink(probe);
	return 0;
}

/* Queue "section.key=value" for continuous mode; a relative --output is
 * made absolute (the configuration wants absolute paths). */
static int add_override(const char *key, const char *value)
{
	char cwd[PATH_MAX];
	int n;

	if (arg_noverrides == MAX_OVERRIDES)
		return fail("too many settings on the command line (at most %d)", MAX_OVERRIDES);
	if (!strcmp(key, "profd.output_dir") && value[0] && value[0] != '/') {
		if (!getcwd(cwd, sizeof(cwd)))
			return fail("cannot resolve --output '%s': %s", value, strerror(errno));
		n = asprintf(&arg_overrides[arg_noverrides], "%s=%s/%s", key, cwd, value);
	} else if (key[0]) {
		n = asprintf(&arg_overrides[arg_noverrides], "%s=%s", key, value);
	} else {
		n = asprintf(&arg_overrides[arg_noverrides], "%s", value);
	}
	if (n < 0)
		return fail("out of memory");
	arg_noverrides++;
	return 0;
}

static int parse_args(int argc, char **argv)
{
	enum { OPT_CHECK_CONFIG = 256, OPT_UNWIND_MAX, OPT_FORMAT /* threads */ };
	static const struct option opts[] = {
		{ "pid", required_argument, NULL, 'p' },
		{ "type", required_argument, NULL, 't' },
		{ "duration", required_argument, NULL, 'd' },
		{ "frequency", required_argument, NULL, 'F' },
		{ "min-block", required_argument, NULL, 'B' },
		{ "output", required_argument, NULL, 'o' },
		{ "heap-sample-rate", required_argument, NULL, 'R' },
		{ "config", required_argument, NULL, 'c' },
		{ "set", required_argument, NULL, 's' },
		{ "check-config", no_argument, NULL, OPT_CHECK_CONFIG },
		{ "unwind", required_argument, NULL, 'u' },
		{ "unwind-max-memory", required_argument, NULL, OPT_UNWIND_MAX },
		{ "format", required_argument, NULL, OPT_FORMAT }, /* threads */
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{},
	};
	/* Flags in command-line order, checked once the mode is known. */
	struct {
		int opt;
		const char *val;
	} seen[MAX_OVERRIDES + 8];
	size_t nseen = 0;
	uint64_t v;
	int c;

	while ((c = getopt_long(argc, argv, "p:t:d:F:o:c:s:u:vhV", opts, NULL)) != -1) {
		switch (c) {
		case 'p':
			if (parse_u64(optarg, 1, INT_MAX, &v))
				return fail("invalid --pid '%s': expected a process id", optarg);
			if (arg_npids == MAX_PIDS)
				return fail("too many --pid options (at most %d)", MAX_PIDS);
			arg_pids[arg_npids++] = (pid_t)v;
			break;
		case 't':
		case 'd':
		case 'F':
		case 'o':
		case 'R':
		case 's':
		case 'B':
		case 'u':
		case OPT_UNWIND_MAX:
			if (nseen == sizeof(seen) / sizeof(seen[0]))
				return fail("too many options");
			seen[nseen].opt = c;
			seen[nseen++].val = optarg;
			break;
		case 'c':
			if (!*optarg)
				return fail("--config needs a path");
			arg_config = optarg;
			break;
		case OPT_CHECK_CONFIG:
			arg_check_config = true;
			break;
		case OPT_FORMAT: /* threads */
			if (!strcmp(optarg, "pprof"))
				arg_threads_format = 0;
			else if (!strcmp(optarg, "text"))
				arg_threads_format = 1;
			else if (!strcmp(optarg, "dump"))
				arg_threads_format = 2;
			else
				return fail("invalid --format '%s': expected pprof, text or dump", optarg);
			break;
		case 'v':
			arg_verbose = 1;
			log_set_level(LOG_LVL_DEBUG);
			break;
		case 'h':
			usage(stdout);
			exit(EXIT_SUCCESS);
		case 'V':
			printf("profd %s\n", PROFD_VERSION);
			exit(EXIT_SUCCESS);
		default:
			usage(stderr);
			return EXIT_FAILURE;
		}
	}
	if (optind < argc)
		return fail("unexpected argument '%s' (see --help)", argv[optind]);

	if (arg_config) {
		static const struct {
			int opt;
			const char *key;
		} map[] = {
			{ 't', "profd.types" }, { 'd', "profd.interval" }, { 'F', "cpu.frequency" },
			{ 'o', "profd.output_dir" }, { 'R', "heap.sample_rate" }, { 's', "" },
			{ 'B', "block.min_block" }, { 'u', "unwind.mode" },
			{ OPT_UNWIND_MAX, "unwind.max_memory" },
		};

		for (size_t i = 0; i < nseen; i++)
			for (size_t j = 0; j < sizeof(map) / sizeof(map[0]); j++)
				if (seen[i].opt == map[j].opt && add_override(map[j].key, seen[i].val))
					return EXIT_FAILURE;
		return 0;
	}
	if (arg_check_config)
		return fail("--check-config needs --config PATH");
	for (size_t i = 0; i < nseen; i++) {
		const char *val = seen[i].val;

		switch (seen[i].opt) {
		case 's':
			return fail("--set '%s' needs --config PATH (continuous mode)", val);
		case 't':
			arg_type = val;
			break;
		case 'd':
			if (parse_duration_ns(val, &arg_duration_ns))
				return fail("invalid --duration '%s': expected e.g. 30s, 2m, 500ms", val);
			arg_duration_given = true; /* threads */
			break;
		case 'F':
			if (parse_u64(val, 1, 100000, &arg_frequency))
				return fail("invalid --frequency '%s': expected 1..100000 Hz", val);
			break;
		case 'o':
			if (!*val || strlen(val) >= sizeof(arg_output))
				return fail("invalid --output '%s'", val);
			snprintf(arg_output, sizeof(arg_output), "%s", val);
			break;
		case 'R':
			if (parse_u64(val, 1, 1ULL << 40, &arg_heap_rate))
				return fail("invalid --heap-sample-rate '%s': expected bytes, 1..2^40",
					    val);
			break;
		case 'B':
			if (!strcmp(val, "0"))
				arg_min_block_ns = 0;
			else if (parse_duration_ns(val, &arg_min_block_ns))
				return fail("invalid --min-block '%s': expected e.g. 1ms, 50us, 0", val);
			break;
		case 'u':
			if (!strcmp(val, "fp"))
				arg_unwind = PROFILER_UNWIND_FP;
			else if (!strcmp(val, "dwarf"))
				arg_unwind = PROFILER_UNWIND_DWARF;
			else if (!strcmp(val, "auto"))
				arg_unwind = PROFILER_UNWIND_AUTO;
			else
				return fail("invalid --unwind '%s': expected auto, fp or dwarf", val);
			break;
		case OPT_UNWIND_MAX:
			if (parse_size(val, &arg_unwind_max_bytes) || arg_unwind_max_bytes < (64ULL << 10) ||
			    arg_unwind_max_bytes > (1ULL << 40))
				return fail("invalid --unwind-max-memory '%s': expected a size from 64KiB "
					    "to 1TiB, e.g. 64MiB", val);
			break;
		}
	}
	if (!profiler_type_find(arg_type))
		return fail("unknown --type '%s': valid types are: %s", arg_type, profiler_type_names());
	/* threads: --format only means something for the snapshot type */
	if (arg_threads_format && !prof_threads__is(profiler_type_find(arg_type)))
		return fail("--format %s is for --type threads (or goroutine)",
			    arg_threads_format == 1 ? "text" : "dump");
	if (profiler_type_find(arg_type)->needs_pid && !arg_npids)
		return fail("--type %s needs --pid: its probes are attached per process", arg_type);
	return 0;
}

static void default_output(const struct timespec *start)
{
	char when[32];
	struct tm tm;

	localtime_r(&start->tv_sec, &tm);
	strftime(when, sizeof(when), "%Y%m%d-%H%M%S", &tm);
	if (arg_npids)
		snprintf(arg_output, sizeof(arg_output), "%s-%d-%s.pb.gz", arg_type, arg_pids[0], when);
	else
		snprintf(arg_output, sizeof(arg_output), "%s-host-%s.pb.gz", arg_type, when);
}

static int run_continuous(void)
{
	struct agent_opts ao = {
		.config_path = arg_config,
		.overrides = (const char *const *)arg_overrides,
		.n_overrides = arg_noverrides,
		.pids = arg_pids,
		.npids = arg_npids,
	};
	char msg[512];

	if (arg_check_config) {
		struct profd_config cfg;
		char err[CONFIG_ERR_LEN];

		if (config__load(&cfg, arg_config, ao.overrides, ao.n_overrides, err, sizeof(err)))
			return fail("%s", err);
		config__done(&cfg);
		printf("%s: configuration is valid\n", arg_config);
		return EXIT_SUCCESS;
	}
	for (size_t i = 0; i < arg_npids; i++) {
		char proc[64];

		snprintf(proc, sizeof(proc), "/proc/%d", arg_pids[i]);
		if (access(proc, F_OK))
			return fail("no process with pid %d", arg_pids[i]);
	}
	if (probe_environment(msg, sizeof(msg)))
		return fail("%s", msg);
	libbpf_set_print(libbpf_print);
	return agent_run(&ao);
}

int main(int argc, char **argv)
{
	struct oneshot_opts o = {};
	char msg[512];
	int ret;

	ret = parse_args(argc, argv);
	if (ret)
		goto out;
	if (arg_config) {
		ret = run_continuous();
		goto out;
	}
	for (size_t i = 0; i < arg_npids; i++) {
		char proc[64];

		snprintf(proc, sizeof(proc), "/proc/%d", arg_pids[i]);
		if (access(proc, F_OK)) {
			ret = fail("no process with pid %d", arg_pids[i]);
			goto out;
		}
	}
	clock_gettime(CLOCK_REALTIME, &o.wall_start);
	if (!arg_output[0]) {
		default_output(&o.wall_start);
		/* threads: the text forms are not pprof files */
		if (arg_threads_format && strlen(arg_output) > 6)
			strcpy(arg_output + strlen(arg_output) - 6, ".txt");
	}
	if (check_output(arg_output)) {
		ret = EXIT_FAILURE;
		goto out;
	}
	if (probe_environment(msg, sizeof(msg))) {
		ret = fail("%s", msg);
		goto out;
	}
	libbpf_set_print(libbpf_print);

	o.type = profiler_type_find(arg_type);
	o.popts = (struct profiler_opts){
		.pids = arg_pids,
		.npids = arg_npids,
		.frequency = arg_frequency,
		.min_block_ns = arg_min_block_ns,
		.heap_sample_rate = arg_heap_rate,
		.unwind = arg_unwind,
		.unwind_max_bytes = arg_unwind_max_bytes,
	};
	o.duration_ns = arg_duration_ns;
	o.output = arg_output;
	/* threads: a snapshot, written at once (no duration) */
	if (prof_threads__is(o.type)) {
		if (arg_duration_given)
			log_warn("--duration ignored: a threads snapshot is taken at once");
		ret = threads_oneshot_run(o.type, &o.popts, arg_output, arg_threads_format);
	} else {
		ret = oneshot_run(&o);
	}
out:
	for (size_t i = 0; i < arg_noverrides; i++)
		free(arg_overrides[i]);
	return ret;
}
