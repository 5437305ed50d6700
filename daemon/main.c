// SPDX-License-Identifier: Apache-2.0
/* profd: command line, validation, signals and the one-shot profiling run.
 * Everything else lives in modules; this file wires them together. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <bpf/libbpf.h>

#include "collect/probe.h"
#include "log.h"
#include "oneshot.h"
#include "profiler.h"
#include "util/parse.h"

#define MAX_PIDS 1024

static pid_t arg_pids[MAX_PIDS];
static size_t arg_npids;
static const char *arg_type = "cpu";
static uint64_t arg_duration_ns = 30ULL * 1000000000ULL;
static uint64_t arg_frequency = 99;
static uint64_t arg_min_block_ns;
static uint64_t arg_heap_rate = 524288;
static char arg_output[PATH_MAX];
static int arg_verbose;

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
		"  -v, --verbose         debug messages (libbpf included)\n"
		"  -h, --help            this help\n"
		"  -V, --version         print the version\n"
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

static int parse_args(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "pid", required_argument, NULL, 'p' },
		{ "type", required_argument, NULL, 't' },
		{ "duration", required_argument, NULL, 'd' },
		{ "frequency", required_argument, NULL, 'F' },
		{ "min-block", required_argument, NULL, 'B' },
		{ "output", required_argument, NULL, 'o' },
		{ "heap-sample-rate", required_argument, NULL, 'R' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{},
	};
	uint64_t v;
	int c;

	while ((c = getopt_long(argc, argv, "p:t:d:F:o:vhV", opts, NULL)) != -1) {
		switch (c) {
		case 'p':
			if (parse_u64(optarg, 1, INT_MAX, &v))
				return fail("invalid --pid '%s': expected a process id", optarg);
			if (arg_npids == MAX_PIDS)
				return fail("too many --pid options (at most %d)", MAX_PIDS);
			arg_pids[arg_npids++] = (pid_t)v;
			break;
		case 't':
			arg_type = optarg;
			break;
		case 'd':
			if (parse_duration_ns(optarg, &arg_duration_ns))
				return fail("invalid --duration '%s': expected e.g. 30s, 2m, 500ms", optarg);
			break;
		case 'F':
			if (parse_u64(optarg, 1, 100000, &arg_frequency))
				return fail("invalid --frequency '%s': expected 1..100000 Hz", optarg);
			break;
		case 'B':
			if (!strcmp(optarg, "0"))
				arg_min_block_ns = 0;
			else if (parse_duration_ns(optarg, &arg_min_block_ns))
				return fail("invalid --min-block '%s': expected e.g. 1ms, 50us, 0", optarg);
			break;
		case 'o':
			if (!*optarg || strlen(optarg) >= sizeof(arg_output))
				return fail("invalid --output '%s'", optarg);
			snprintf(arg_output, sizeof(arg_output), "%s", optarg);
			break;
		case 'R':
			if (parse_u64(optarg, 1, 1ULL << 40, &arg_heap_rate))
				return fail("invalid --heap-sample-rate '%s': expected bytes, 1..2^40",
					    optarg);
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
	if (!profiler_type_find(arg_type))
		return fail("unknown --type '%s': valid types are: %s", arg_type, profiler_type_names());
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


int main(int argc, char **argv)
{
	struct oneshot_opts o = {};
	char msg[512];
	int ret;

	ret = parse_args(argc, argv);
	if (ret)
		return ret;
	for (size_t i = 0; i < arg_npids; i++) {
		char proc[64];

		snprintf(proc, sizeof(proc), "/proc/%d", arg_pids[i]);
		if (access(proc, F_OK))
			return fail("no process with pid %d", arg_pids[i]);
	}
	clock_gettime(CLOCK_REALTIME, &o.wall_start);
	if (!arg_output[0])
		default_output(&o.wall_start);
	if (check_output(arg_output))
		return EXIT_FAILURE;
	if (probe_environment(msg, sizeof(msg)))
		return fail("%s", msg);
	libbpf_set_print(libbpf_print);

	o.type = profiler_type_find(arg_type);
	o.popts = (struct profiler_opts){
		.pids = arg_pids,
		.npids = arg_npids,
		.frequency = arg_frequency,
		.min_block_ns = arg_min_block_ns,
		.heap_sample_rate = arg_heap_rate,
	};
	o.duration_ns = arg_duration_ns;
	o.output = arg_output;
	return oneshot_run(&o);
}
