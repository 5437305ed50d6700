// SPDX-License-Identifier: Apache-2.0
/* uprobe_multi: uprobe-multi and uprobe-session links by the bpf(2) syscall. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <linux/bpf.h>

#include "collect/probe.h"
#include "collect/uprobe_multi.h"

/* The kernel's values (include/uapi/linux/bpf.h); Debian 12's headers
 * are older than both. */
#define ATTACH_UPROBE_MULTI 48
#define ATTACH_UPROBE_SESSION 57
#define F_UPROBE_MULTI_RETURN 1u

/* BPF_LINK_CREATE's attributes for a uprobe-multi link (the layout of
 * union bpf_attr's link_create with its uprobe_multi member). */
struct link_create_uprobe_multi {
	uint32_t prog_fd;
	uint32_t target_fd;
	uint32_t attach_type;
	uint32_t flags;
	uint64_t path;
	uint64_t offsets;
	uint64_t ref_ctr_offsets;
	uint64_t cookies;
	uint32_t cnt;
	uint32_t um_flags;
	uint32_t pid;
};

union link_attr {
	struct link_create_uprobe_multi lc;
	char size[sizeof(union bpf_attr) > 64 ? sizeof(union bpf_attr) : 64];
};

int uprobe_multi__attach_type(enum uprobe_multi_kind kind)
{
	return kind == UPROBE_MULTI_SESSION ? ATTACH_UPROBE_SESSION
	       : kind == UPROBE_MULTI_PLAIN ? ATTACH_UPROBE_MULTI
					    : 0;
}

const char *uprobe_multi__name(enum uprobe_multi_kind kind)
{
	return kind == UPROBE_MULTI_SESSION ? "uprobe session (entry decides the return)"
	       : kind == UPROBE_MULTI_PLAIN ? "uprobe-multi links (every return probed)"
					    : "one uprobe per function (every return probed)";
}

int uprobe_multi__attach(int prog_fd, enum uprobe_multi_kind kind, int retprobe, const char *path,
			 const uint64_t *offsets, const uint64_t *cookies, uint32_t cnt, pid_t pid)
{
	union link_attr a;
	long fd;

	if (kind == UPROBE_MULTI_NONE || !cnt || (retprobe && kind != UPROBE_MULTI_PLAIN))
		return -EINVAL;
	memset(&a, 0, sizeof(a));
	a.lc.prog_fd = (uint32_t)prog_fd;
	a.lc.attach_type = (uint32_t)uprobe_multi__attach_type(kind);
	a.lc.path = (uint64_t)(uintptr_t)path;
	a.lc.offsets = (uint64_t)(uintptr_t)offsets;
	a.lc.cookies = (uint64_t)(uintptr_t)cookies;
	a.lc.cnt = cnt;
	a.lc.um_flags = retprobe ? F_UPROBE_MULTI_RETURN : 0;
	a.lc.pid = (uint32_t)pid;
	fd = syscall(__NR_bpf, BPF_LINK_CREATE, &a, sizeof(a));
	return fd < 0 ? -errno : (int)fd;
}

/* The kernel checks the attach type (unknown before 6.6 for uprobe-multi,
 * before 6.13 for sessions: -EINVAL) before it looks the file up: a link
 * on a file that does not exist fails with -ENOENT exactly where the link
 * kind is known, and no uprobe is registered (which would cost ~15 ms, and
 * as much again to unregister). */
#define PROBE_PATH "/nonexistent/profd-uprobe-multi-probe"

int uprobe_multi__probe(enum uprobe_multi_kind kind, char *why, size_t whylen)
{
	/* r0 = 1 (a session: no return half); exit */
	const struct bpf_insn insns[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = 1 },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	LIBBPF_OPTS(bpf_prog_load_opts, opts,
		    .expected_attach_type = (enum bpf_attach_type)uprobe_multi__attach_type(kind));
	uint64_t off = 0, cookie = 0;
	int prog, link;

	prog = bpf_prog_load(BPF_PROG_TYPE_KPROBE, "profd_um_probe", "GPL", insns,
			     sizeof(insns) / sizeof(insns[0]), &opts);
	if (prog < 0) {
		link = -errno;
		snprintf(why, whylen, "a program of that attach type does not load: %s",
			 probe_explain(link));
		return link;
	}
	link = uprobe_multi__attach(prog, kind, 0, PROBE_PATH, &off, &cookie, 1, 0);
	close(prog);
	if (link >= 0) { /* cannot happen: no such file */
		close(link);
		return 0;
	}
	if (link == -ENOENT)
		return 0;
	snprintf(why, whylen, "the kernel refuses the link: %s", probe_explain(link));
	return link;
}
