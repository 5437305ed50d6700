// SPDX-License-Identifier: Apache-2.0
/* probe: kernel BTF and capability checks with messages a user can act on. */
#include <errno.h>
#include <linux/capability.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "collect/probe.h"

#ifndef CAP_PERFMON
#define CAP_PERFMON 38
#endif
#ifndef CAP_BPF
#define CAP_BPF 39
#endif

static int has_cap(const struct __user_cap_data_struct *d, int cap)
{
	return !!(d[cap / 32].effective & (1u << (cap % 32)));
}

int probe_environment(char *msg, size_t len)
{
	return probe_environment_at("/sys/kernel/btf/vmlinux", msg, len);
}

int probe_environment_at(const char *btf_path, char *msg, size_t len)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[2] = {};

	if (access(btf_path, R_OK)) {
		snprintf(msg, len,
			 "kernel BTF is missing (%s: %s): profd needs a kernel "
			 "built with CONFIG_DEBUG_INFO_BTF=y (Debian 11+, kernel >= 5.8)",
			 btf_path, strerror(errno));
		return -ENOENT;
	}
	if (syscall(SYS_capget, &hdr, data)) {
		snprintf(msg, len, "cannot read own capabilities: %s", strerror(errno));
		return -errno;
	}
	if (!has_cap(data, CAP_SYS_ADMIN) && !(has_cap(data, CAP_BPF) && has_cap(data, CAP_PERFMON))) {
		snprintf(msg, len,
			 "missing privileges: profd needs CAP_BPF and CAP_PERFMON (or CAP_SYS_ADMIN); "
			 "run it as root (sudo) or grant them to the binary/service");
		return -EPERM;
	}
	return 0;
}

const char *probe_explain(int err)
{
	switch (-err) {
	case EPERM:
	case EACCES:
		return "permission denied: needs CAP_BPF and CAP_PERFMON (or root), and "
		       "kernel.perf_event_paranoid/kernel.unprivileged_bpf_disabled allowing it";
	case ENOENT:
	case EOPNOTSUPP:
	case ENODEV:
		return "the kernel does not support the software cpu-clock perf event";
	case EINVAL:
		return "the kernel rejected the request (BPF program or perf event attributes)";
	case ENOMEM:
		return "out of memory (BPF maps are charged to memcg, or to RLIMIT_MEMLOCK before 5.11)";
	default:
		return strerror(-err);
	}
}
