// SPDX-License-Identifier: Apache-2.0
/* http/peer: the local user behind a loopback TCP connection, from the
 * kernel's socket table (NETLINK_SOCK_DIAG, an exact lookup by 4-tuple), and
 * the ptrace-like check of what that user may profile. */
#include <arpa/inet.h>
#include <errno.h>
#include <grp.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <pwd.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "http/peer.h"
#include "util/fileio.h"

static bool v4_loopback(const struct in_addr *a)
{
	return (ntohl(a->s_addr) >> 24) == 127;
}

/* A v4-mapped v6 address becomes the v4 one (a dual-stack listener sees v4
 * clients so; their sockets are AF_INET). */
static void unmap(struct sockaddr_storage *ss)
{
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
	struct sockaddr_in s4 = { .sin_family = AF_INET };

	if (ss->ss_family != AF_INET6 || !IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr))
		return;
	s4.sin_port = s6->sin6_port;
	memcpy(&s4.sin_addr, &s6->sin6_addr.s6_addr[12], 4);
	memset(ss, 0, sizeof(*ss));
	memcpy(ss, &s4, sizeof(s4));
}

static void fill_end(const struct sockaddr_storage *ss, __be16 *port, __be32 addr[4])
{
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *s = (const struct sockaddr_in *)ss;

		*port = s->sin_port;
		memcpy(addr, &s->sin_addr, 4);
	} else {
		const struct sockaddr_in6 *s = (const struct sockaddr_in6 *)ss;

		*port = s->sin6_port;
		memcpy(addr, &s->sin6_addr, 16);
	}
}

/* The client end's line in /proc/net/tcp{,6}: "sl local rem st ... uid",
 * addresses as the kernel prints them (the 32-bit words in memory order as
 * %08X, the port in host order). */
#define PROC_NET_TCP_MAX (64u << 20)

static void proc_net_addr(const struct sockaddr_storage *ss, char *out, size_t len)
{
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *s = (const struct sockaddr_in *)ss;

		snprintf(out, len, "%08X:%04X", (unsigned)s->sin_addr.s_addr,
			 (unsigned)ntohs(s->sin_port));
	} else {
		const struct sockaddr_in6 *s = (const struct sockaddr_in6 *)ss;
		uint32_t w[4];

		memcpy(w, &s->sin6_addr, sizeof(w));
		snprintf(out, len, "%08X%08X%08X%08X:%04X", (unsigned)w[0], (unsigned)w[1],
			 (unsigned)w[2], (unsigned)w[3], (unsigned)ntohs(s->sin6_port));
	}
}

static int uid_from_proc_net(const struct sockaddr_storage *remote,
			     const struct sockaddr_storage *local, uid_t *uid)
{
	char want_l[64], want_r[64], l[64], r[64], *buf = NULL, *line, *save = NULL;
	size_t len;
	unsigned long u;
	int err;

	proc_net_addr(remote, want_l, sizeof(want_l)); /* the client's local end */
	proc_net_addr(local, want_r, sizeof(want_r));
	err = read_file_all(remote->ss_family == AF_INET ? "/proc/net/tcp" : "/proc/net/tcp6",
			    PROC_NET_TCP_MAX, &buf, &len);
	if (err)
		return err;
	err = -ENOENT;
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (sscanf(line, " %*u: %63s %63s %*x %*s %*s %*s %lu", l, r, &u) != 3)
			continue;
		if (!strcasecmp(l, want_l) && !strcasecmp(r, want_r)) {
			*uid = (uid_t)u;
			err = 0;
			break;
		}
	}
	free(buf);
	return err;
}

static int uid_from_sock_diag(const struct sockaddr_storage *remote,
			      const struct sockaddr_storage *local, uid_t *uid);

int peer__uid(int fd, bool *loopback, uid_t *uid)
{
	return peer__uid_from(fd, PEER_SOCK_DIAG | PEER_PROC_NET, loopback, uid);
}

int peer__uid_from(int fd, unsigned sources, bool *loopback, uid_t *uid)
{
	struct sockaddr_storage local = { 0 }, remote = { 0 };
	socklen_t ll = sizeof(local), rl = sizeof(remote);
	int ret = -ENOENT;

	*loopback = false;
	if (getsockname(fd, (struct sockaddr *)&local, &ll) ||
	    getpeername(fd, (struct sockaddr *)&remote, &rl))
		return -errno;
	unmap(&local);
	unmap(&remote);
	if (remote.ss_family == AF_INET)
		*loopback = v4_loopback(&((struct sockaddr_in *)&remote)->sin_addr);
	else if (remote.ss_family == AF_INET6)
		*loopback = IN6_IS_ADDR_LOOPBACK(&((struct sockaddr_in6 *)&remote)->sin6_addr);
	if (!*loopback)
		return -ENOENT;
	if (sources & PEER_SOCK_DIAG)
		ret = uid_from_sock_diag(&remote, &local, uid);
	/* Where inet_diag cannot be loaded (a kernel without the module at
	 * hand, a container): the same answer from /proc/net, slower. */
	if (ret && (sources & PEER_PROC_NET))
		ret = uid_from_proc_net(&remote, &local, uid);
	return ret;
}

static int uid_from_sock_diag(const struct sockaddr_storage *rem,
			      const struct sockaddr_storage *loc, uid_t *uid)
{
	struct sockaddr_storage local = *loc, remote = *rem;
	struct {
		struct nlmsghdr nlh;
		struct inet_diag_req_v2 req;
	} msg = { 0 };
	struct sockaddr_nl nl = { .nl_family = AF_NETLINK };
	union {
		struct nlmsghdr nlh;
		char buf[8192];
	} ans;
	ssize_t n;
	int s, ret = -ENOENT;

	/* The client's socket: its source is our peer, its destination us. */
	msg.nlh.nlmsg_len = sizeof(msg);
	msg.nlh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
	msg.nlh.nlmsg_flags = NLM_F_REQUEST;
	msg.req.sdiag_family = remote.ss_family;
	msg.req.sdiag_protocol = IPPROTO_TCP;
	msg.req.idiag_states = ~0u;
	msg.req.id.idiag_cookie[0] = INET_DIAG_NOCOOKIE;
	msg.req.id.idiag_cookie[1] = INET_DIAG_NOCOOKIE;
	fill_end(&remote, &msg.req.id.idiag_sport, msg.req.id.idiag_src);
	fill_end(&local, &msg.req.id.idiag_dport, msg.req.id.idiag_dst);

	s = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
	if (s < 0)
		return -errno;
	if (sendto(s, &msg, sizeof(msg), 0, (struct sockaddr *)&nl, sizeof(nl)) < 0) {
		ret = -errno;
		goto out;
	}
	n = recv(s, &ans, sizeof(ans), 0);
	if (n < 0) {
		ret = -errno;
		goto out;
	}
	for (struct nlmsghdr *h = &ans.nlh; NLMSG_OK(h, (size_t)n); h = NLMSG_NEXT(h, n)) {
		if (h->nlmsg_type == NLMSG_ERROR) {
			const struct nlmsgerr *e = NLMSG_DATA(h);

			if (h->nlmsg_len >= NLMSG_LENGTH(sizeof(*e)) && e->error)
				ret = e->error;
			break;
		}
		if (h->nlmsg_type == SOCK_DIAG_BY_FAMILY &&
		    h->nlmsg_len >= NLMSG_LENGTH(sizeof(struct inet_diag_msg))) {
			const struct inet_diag_msg *d = NLMSG_DATA(h);

			*uid = d->idiag_uid;
			ret = 0;
			break;
		}
	}
out:
	close(s);
	return ret;
}

/* Real, effective and saved uids from /proc/PID/status. */
static int task_uids(pid_t pid, unsigned long u[3])
{
	char path[64], line[256];
	int ret = -ENOENT;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, "Uid:", 4)) {
			if (sscanf(line + 4, "%lu %lu %lu", &u[0], &u[1], &u[2]) == 3)
				ret = 0;
			break;
		}
	fclose(f);
	return ret;
}

bool peer__may_read(uid_t uid, pid_t pid)
{
	char path[64];
	unsigned long u[3];
	struct stat st;

	if (pid <= 0)
		return false;
	/* Dumpable: otherwise the kernel gives the task's /proc files (not its
	 * directory, which always shows the euid) to root: task_dump_owner(). */
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if (stat(path, &st) || st.st_uid != uid)
		return false;
	if (task_uids(pid, u))
		return false;
	/* Again after the read: a setuid exec in between changes the owner. */
	if (u[0] != uid || u[1] != uid || u[2] != uid || stat(path, &st) || st.st_uid != uid)
		return false;
	return true;
}

bool peer__in_group(uid_t uid, gid_t gid)
{
	struct passwd pw, *pwp = NULL;
	char buf[4096];
	gid_t few[64], *groups = few;
	int n = 64;
	bool found = false;

	if (getpwuid_r(uid, &pw, buf, sizeof(buf), &pwp) || !pwp)
		return false;
	if (pw.pw_gid == gid)
		return true;
	if (getgrouplist(pw.pw_name, pw.pw_gid, groups, &n) < 0) {
		/* n now says how many there are. */
		groups = calloc((size_t)n, sizeof(*groups));
		if (!groups || getgrouplist(pw.pw_name, pw.pw_gid, groups, &n) < 0)
			n = 0;
	}
	for (int i = 0; i < n && !found; i++)
		found = groups[i] == gid;
	if (groups != few)
		free(groups);
	return found;
}
