// SPDX-License-Identifier: Apache-2.0
/* profd: command line, validation, signals and the one-shot profiling run.
 * Everything else lives in modules; this file wires them together. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include <bpf/libbpf.h>

#include "collect/cpu.h"
#include "collect/probe.h"
#include "cpuprof.h"
#include "frames.h"
#include "log.h"
#include "pprof/pprof.h"
#include "symbolize/symbolizer.h"
#include "util/parse.h"

#define MAX_PIDS 1024
#define DRAIN_INTERVAL_NS 1000000000ULL

static const char *const valid_types[] = { "cpu" };

static pid_t arg_pids[MAX_PIDS];
static size_t arg_npids;
static const char *arg_type = "cpu";
static uint64_t arg_duration_ns = 30ULL * 1000000000ULL;
static uint64_t arg_frequency = 99;
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
		"  -t, --type TYPE       profile type: cpu (default cpu)\n"
		"  -d, --duration D      how long to profile: 30s, 2m, 500ms (default 30s)\n"
		"  -F, --frequency HZ    CPU samples per second per CPU (default 99)\n"
		"  -o, --output PATH     profile file (default <type>-<pid|host>-<time>.pb.gz)\n"
		"  -v, --verbose         debug messages (libbpf included)\n"
		"  -h, --help            this help\n"
		"  -V, --version         print the version\n"
		"\n"
		"Ctrl-C (SIGINT) or SIGTERM stops early; the profile is still written.\n"
		"Without --pid, samples carry pid, tid, comm and thread labels:\n"
		"  go tool pprof -tagfocus=pid=1234 -top cpu-host-*.pb.gz\n"
		"Needs root, or CAP_BPF + CAP_PERFMON, and a kernel with BTF (>= 5.8).\n");
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
		{ "output", required_argument, NULL, 'o' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{},
	};
	uint64_t v;
	size_t i;
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
		case 'o':
			if (!*optarg || strlen(optarg) >= sizeof(arg_output))
				return fail("invalid --output '%s'", optarg);
			snprintf(arg_output, sizeof(arg_output), "%s", optarg);
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
	for (i = 0; i < sizeof(valid_types) / sizeof(valid_types[0]); i++)
		if (!strcmp(arg_type, valid_types[i]))
			break;
	if (i == sizeof(valid_types) / sizeof(valid_types[0]))
		return fail("unknown --type '%s': valid types are: cpu", arg_type);
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

static int64_t elapsed_ns(const struct timespec *a, const struct timespec *b)
{
	return (b->tv_sec - a->tv_sec) * 1000000000LL + (b->tv_nsec - a->tv_nsec);
}

/* The run loop: drain every second, stop at the deadline, on SIGINT/SIGTERM
 * or when every target process has exited. */
static int run_cpu(struct symbolizer *sym, const struct timespec *wall_start)
{
	struct pollfd pfds[2 + MAX_PIDS];
	struct itimerspec tick = { .it_interval = { 1, 0 }, .it_value = { 1, 0 } };
	struct timespec mono_start, now;
	struct cpu_collector *col = NULL;
	struct cpuprof cp = {};
	struct cpu_stats st;
	int sfd = -1, tfd = -1, npfds = 0, alive, err, ret = EXIT_FAILURE;
	const char *stop_reason = "duration elapsed";
	sigset_t mask;

	struct cpu_opts opts = {
		.frequency = arg_frequency,
		.pids = arg_pids,
		.npids = arg_npids,
	};

	err = cpuprof__init(&cp, sym, arg_frequency);
	if (err)
		return fail("cannot create profile: %s", strerror(-err));
	if (arg_npids)
		frames__main_mapping(cp.p, sym, arg_pids[0]);
	col = cpu_collector__new(&opts);
	if (!col) {
		err = -errno;
		fail("cannot load the CPU sampler BPF program: %s", probe_explain(err));
		goto cleanup;
	}

	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	sfd = signalfd(-1, &mask, SFD_CLOEXEC);
	tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
	if (sfd < 0 || tfd < 0 || timerfd_settime(tfd, 0, &tick, NULL)) {
		fail("cannot set up signal/timer fds: %s", strerror(errno));
		goto cleanup;
	}
	pfds[0] = (struct pollfd){ .fd = sfd, .events = POLLIN };
	pfds[1] = (struct pollfd){ .fd = tfd, .events = POLLIN };
	npfds = 2;
	for (size_t i = 0; i < arg_npids; i++) {
		int pfd = syscall(SYS_pidfd_open, arg_pids[i], 0);

		/* A target that is already gone keeps its place with fd -1. */
		pfds[npfds++] = (struct pollfd){ .fd = pfd, .events = POLLIN };
	}

	err = cpu_collector__start(col);
	if (err) {
		fail("cannot attach to cpu-clock perf events: %s", probe_explain(err));
		goto cleanup;
	}
	clock_gettime(CLOCK_MONOTONIC, &mono_start);
	if (arg_npids)
		log_info("profiling %zu process(es) at %lu Hz for %.3gs, writing %s", arg_npids,
			 (unsigned long)arg_frequency, arg_duration_ns / 1e9, arg_output);
	else
		log_info("profiling every process at %lu Hz for %.3gs, writing %s",
			 (unsigned long)arg_frequency, arg_duration_ns / 1e9, arg_output);

	for (;;) {
		int64_t left;

		clock_gettime(CLOCK_MONOTONIC, &now);
		left = (int64_t)arg_duration_ns - elapsed_ns(&mono_start, &now);
		if (left <= 0)
			break;
		if (poll(pfds, npfds, left / 1000000 + 1) < 0 && errno != EINTR) {
			fail("poll: %s", strerror(errno));
			goto cleanup;
		}
		if (pfds[0].revents & POLLIN) {
			struct signalfd_siginfo si;

			if (read(sfd, &si, sizeof(si)) == sizeof(si))
				log_info("%s: stopping early", strsignal(si.ssi_signo));
			stop_reason = "signal";
			break;
		}
		if (pfds[1].revents & POLLIN) {
			uint64_t ticks;

			if (read(tfd, &ticks, sizeof(ticks)) < 0 && errno != EAGAIN)
				log_warn("timerfd read: %s", strerror(errno));
			cpu_collector__drain(col, cpuprof__add, &cp);
		}
		alive = 0;
		for (int i = 2; i < npfds; i++) {
			if (pfds[i].fd >= 0 && (pfds[i].revents & POLLIN)) {
				close(pfds[i].fd);
				pfds[i].fd = -1;
			}
			alive += pfds[i].fd >= 0;
		}
		if (arg_npids && !alive) {
			stop_reason = "every target process exited";
			log_info("every target process exited: stopping");
			break;
		}
	}
	cpu_collector__stop(col);
	clock_gettime(CLOCK_MONOTONIC, &now);
	cpu_collector__drain(col, cpuprof__add, &cp);

	pprof__set_time(cp.p, (int64_t)wall_start->tv_sec * 1000000000LL + wall_start->tv_nsec,
			elapsed_ns(&mono_start, &now));
	err = pprof__write_file(cp.p, arg_output);
	if (err) {
		fail("cannot write profile '%s': %s", arg_output, strerror(-err));
		goto cleanup;
	}

	cpu_collector__stats(col, &st);
	log_info("wrote %s: %llu samples in %.1fs (%s)", arg_output,
		 (unsigned long long)cp.samples, elapsed_ns(&mono_start, &now) / 1e9, stop_reason);
	log_info("lost samples: %llu user stacks, %llu kernel stacks, %llu stack-map collisions, "
		 "%llu map-full drops, %llu stacks gone before read, %llu not encoded; "
		 "%llu idle samples not attributed",
		 (unsigned long long)st.metrics[PROFD_METRIC_USTACK_LOST],
		 (unsigned long long)st.metrics[PROFD_METRIC_KSTACK_LOST],
		 (unsigned long long)st.metrics[PROFD_METRIC_STACK_COLLISION],
		 (unsigned long long)st.metrics[PROFD_METRIC_COUNTS_FULL],
		 (unsigned long long)st.stack_lookup_lost, (unsigned long long)cp.errors,
		 (unsigned long long)st.metrics[PROFD_METRIC_IDLE]);
	if (cp.fst.frames)
		log_debug("%llu frames, %llu without a symbol", (unsigned long long)cp.fst.frames,
			  (unsigned long long)cp.fst.unsymbolized);
	ret = EXIT_SUCCESS;
cleanup:
	for (int i = 2; i < npfds; i++)
		if (pfds[i].fd >= 0)
			close(pfds[i].fd);
	if (sfd >= 0)
		close(sfd);
	if (tfd >= 0)
		close(tfd);
	cpu_collector__free(col);
	cpuprof__done(&cp);
	return ret;
}

int main(int argc, char **argv)
{
	struct symbolizer *sym = NULL;
	struct timespec wall_start;
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
	clock_gettime(CLOCK_REALTIME, &wall_start);
	if (!arg_output[0])
		default_output(&wall_start);
	if (check_output(arg_output))
		return EXIT_FAILURE;
	if (probe_environment(msg, sizeof(msg)))
		return fail("%s", msg);
	libbpf_set_print(libbpf_print);

	sym = symbolizer__new();
	if (!sym)
		return fail("cannot create symbolizer: %s", strerror(errno));
	/* Read the targets' mappings now, while they surely run. */
	for (size_t i = 0; i < arg_npids; i++)
		if (symbolizer__add_pid(sym, arg_pids[i]))
			log_warn("cannot read the mappings of pid %d yet, retrying on first sample",
				 arg_pids[i]);

	ret = run_cpu(sym, &wall_start);
	symbolizer__free(sym);
	return ret;
}
