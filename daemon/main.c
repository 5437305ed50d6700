// SPDX-License-Identifier: Apache-2.0
/* profd: command line and validation; then either the one-shot profiling
 * run (run/oneshot.c) or, with --config, the continuous agent (agent/).
 * The profile options come from the registry (types/profiler.h), set
 * through the same setter as the INI file. Everything else lives in
 * modules; this file wires them together. */
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

#include "agent/agent.h"
#include "collect/bpf_diag.h"
#include "collect/probe.h"
#include "agent/config.h"
#include "util/log.h"
#include "run/oneshot.h"
#include "types/profiler.h"
#include "util/parse.h"
#include "util/phase.h"

#define MAX_PIDS 1024
#define MAX_OVERRIDES 64

static pid_t arg_pids[MAX_PIDS];
static size_t arg_npids;
static const char *arg_type = "cpu";
static uint64_t arg_duration_ns = 30ULL * 1000000000ULL;
/* The registry's options (types/profiler.h), set by --NAME VALUE. */
static struct profiler_opts arg_popts;
static char arg_output[PATH_MAX];
static int arg_verbose;
/* Continuous mode: the file, and the command line's settings over it. */
static const char *arg_config;
static bool arg_check_config;
static char *arg_overrides[MAX_OVERRIDES];
static size_t arg_noverrides;

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
		"  -o, --output PATH     profile file (default <type>-<pid|host>-<time>.pb.gz)\n"
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
		"  With --config, --type (a comma list), the profile options below (each\n"
		"  the [section] key shown), --duration (the interval) and --output (the\n"
		"  output directory) override the file; --pid applies as in one-shot mode.\n"
		"\n"
		"Ctrl-C (SIGINT) or SIGTERM stops early; the profile is still written.\n"
		"Without --pid, samples carry pid, tid, comm and thread labels:\n"
		"  go tool pprof -tagfocus=pid=1234 -top cpu-host-*.pb.gz\n"
		"heap/allocs see only allocations made after profd attached (frees of\n"
		"older blocks are ignored).\n"
		"Needs root, or CAP_BPF + CAP_PERFMON, and a kernel with BTF (>= 5.8).\n"
		"\nProfile options:\n");
	for (size_t i = 0; profiler_option_at(i); i++) {
		const struct profiler_option *o = profiler_option_at(i);
		char flag[48];

		if (o->short_opt)
			snprintf(flag, sizeof(flag), "-%c, --%s", o->short_opt, o->cli);
		else
			snprintf(flag, sizeof(flag), "    --%s", o->cli);
		if (o->section)
			fprintf(f, "  %-24s [%s] %s\n  %-24s %s\n", flag, o->section, o->key, "",
				o->help);
		else
			fprintf(f, "  %-24s %s\n", flag, o->help);
	}
	fprintf(f, "\nProfile types:\n");
	for (size_t i = 0; profiler_type_at(i); i++) {
		const struct profiler_type *t = profiler_type_at(i);

		fprintf(f, "  %-12s %s%s\n", t->name, t->description,
			t->host_wide ? "" : " (needs --pid)");
	}
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
	/* The registry's options come as OPT_PROFILER + their id. */
	enum { OPT_CHECK_CONFIG = 256, OPT_PROFILER = 512 };
	static const struct option fixed[] = {
		{ "pid", required_argument, NULL, 'p' },
		{ "type", required_argument, NULL, 't' },
		{ "duration", required_argument, NULL, 'd' },
		{ "output", required_argument, NULL, 'o' },
		{ "config", required_argument, NULL, 'c' },
		{ "set", required_argument, NULL, 's' },
		{ "check-config", no_argument, NULL, OPT_CHECK_CONFIG },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
	};
	struct option opts[sizeof(fixed) / sizeof(fixed[0]) + PROFILER_NOPTS + 1] = { 0 };
	char shorts[64] = "p:t:d:o:c:s:vhV";
	size_t nopts = 0;
	/* Flags in command-line order, checked once the mode is known. */
	struct {
		int opt;
		const char *val;
	} seen[MAX_OVERRIDES + 8];
	size_t nseen = 0;
	uint64_t v;
	int c;

	profiler_opts_defaults(&arg_popts);
	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
		opts[nopts++] = fixed[i];
	for (size_t i = 0; profiler_option_at(i); i++) {
		const struct profiler_option *o = profiler_option_at(i);

		opts[nopts++] = (struct option){ o->cli, required_argument, NULL,
						 OPT_PROFILER + (int)o->id };
		if (o->short_opt)
			snprintf(shorts + strlen(shorts), sizeof(shorts) - strlen(shorts), "%c:",
				 o->short_opt);
	}
	while ((c = getopt_long(argc, argv, shorts, opts, NULL)) != -1) {
		for (size_t i = 0; profiler_option_at(i); i++)
			if (c == profiler_option_at(i)->short_opt)
				c = OPT_PROFILER + (int)profiler_option_at(i)->id;
		if (c >= OPT_PROFILER && c < OPT_PROFILER + PROFILER_NOPTS) {
			if (nseen == sizeof(seen) / sizeof(seen[0]))
				return fail("too many options");
			seen[nseen].opt = c;
			seen[nseen++].val = optarg;
			continue;
		}
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
		case 'o':
		case 's':
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
			{ 't', "profd.types" }, { 'd', "profd.interval" },
			{ 'o', "profd.output_dir" }, { 's', "" },
		};

		for (size_t i = 0; i < nseen; i++) {
			char key[64];

			if (seen[i].opt >= OPT_PROFILER) {
				const struct profiler_option *o =
					profiler_option_at((size_t)(seen[i].opt - OPT_PROFILER));

				if (!o->section)
					return fail("--%s is for one-shot runs, not --config", o->cli);
				snprintf(key, sizeof(key), "%s.%s", o->section, o->key);
				if (add_override(key, seen[i].val))
					return EXIT_FAILURE;
				continue;
			}
			for (size_t j = 0; j < sizeof(map) / sizeof(map[0]); j++)
				if (seen[i].opt == map[j].opt && add_override(map[j].key, seen[i].val))
					return EXIT_FAILURE;
		}
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
			break;
		case 'o':
			if (!*val || strlen(val) >= sizeof(arg_output))
				return fail("invalid --output '%s'", val);
			snprintf(arg_output, sizeof(arg_output), "%s", val);
			break;
		default:
			if (seen[i].opt >= OPT_PROFILER) {
				const struct profiler_option *o =
					profiler_option_at((size_t)(seen[i].opt - OPT_PROFILER));
				char msg[PROFILER_ERR_LEN];

				if (profiler_option_set(&arg_popts, o, val, msg, sizeof(msg)))
					return fail("invalid --%s '%s': %s", o->cli, val, msg);
			}
			break;
		}
	}
	if (!profiler_type_find(arg_type))
		return fail("unknown --type '%s': valid types are: %s", arg_type, profiler_type_names());
	/* An option the type does not read would be silently ignored. */
	for (size_t i = 0; i < nseen; i++) {
		const struct profiler_option *o;
		char readers[128] = "";

		if (seen[i].opt < OPT_PROFILER)
			continue;
		o = profiler_option_at((size_t)(seen[i].opt - OPT_PROFILER));
		if (profiler_type_find(arg_type)->options & PROFILER_OPT(o->id))
			continue;
		for (size_t j = 0; profiler_type_at(j); j++)
			if (profiler_type_at(j)->options & PROFILER_OPT(o->id))
				snprintf(readers + strlen(readers), sizeof(readers) - strlen(readers),
					 "%s%s", readers[0] ? " or " : "", profiler_type_at(j)->name);
		return fail("--%s is for --type %s, not %s", o->cli, readers, arg_type);
	}
	if (profiler_type_find(arg_type)->kind == PROFILER_INSTANT) {
		for (size_t i = 0; i < nseen; i++)
			if (seen[i].opt == 'd')
				log_warn("--duration ignored: a %s profile is a snapshot, taken at once",
					 arg_type);
	}
	if (!profiler_type_find(arg_type)->host_wide && !arg_npids)
		return fail("--type %s needs --pid: its probes are attached per process", arg_type);
	arg_type = profiler_type_find(arg_type)->name; /* an alias names files by the type */
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
		if (agent_validate(&cfg, err, sizeof(err))) {
			config__done(&cfg);
			return fail("%s", err);
		}
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
	bpf_diag__install(arg_verbose);
	return agent_run(&ao);
}

int main(int argc, char **argv)
{
	struct oneshot_opts o = {};
	char msg[512];
	int ret;

	phase_begin();
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
		/* The text forms (--format) are not pprof files. */
		if (arg_popts.format != PROFILER_FORMAT_PPROF)
			strcpy(arg_output + strlen(arg_output) - strlen(".pb.gz"), ".txt");
	}
	if (check_output(arg_output)) {
		ret = EXIT_FAILURE;
		goto out;
	}
	if (probe_environment(msg, sizeof(msg))) {
		ret = fail("%s", msg);
		goto out;
	}
	bpf_diag__install(arg_verbose);
	phase_mark("arguments + environment probe");

	o.type = profiler_type_find(arg_type);
	o.popts = arg_popts;
	o.popts.pids = arg_pids;
	o.popts.npids = arg_npids;
	o.duration_ns = arg_duration_ns;
	o.output = arg_output;
	ret = oneshot_run(&o);
out:
	for (size_t i = 0; i < arg_noverrides; i++)
		free(arg_overrides[i]);
	return ret;
}
