/* SPDX-License-Identifier: Apache-2.0 */
/* http/peer: who made a request. For a TCP connection from this host's
 * loopback, the kernel knows the client socket's owner: sock_diag looks the
 * client's end up by the connection's 4-tuple. The checks that decide what
 * that user may see are here too (see README, "Who may use the endpoint"). */
#ifndef PROFD_HTTP_PEER_H
#define PROFD_HTTP_PEER_H

#include <stdbool.h>
#include <sys/types.h>

/* The uid owning the client end of the accepted TCP socket fd. Sets
 * *loopback when the client's address is a loopback one (127/8, ::1,
 * ::ffff:127/104); a uid is only looked up for those. Returns 0, -ENOENT when
 * the client socket is gone (or not on this host), or -errno. */
int peer__uid(int fd, bool *loopback, uid_t *uid);
/* The same from the given sources only (tests): sock_diag, whose inet_diag
 * and tcp_diag modules the kernel loads on first use, and the scan of
 * /proc/net/tcp{,6} that peer__uid() falls back to where they cannot load. */
enum { PEER_SOCK_DIAG = 1 << 0, PEER_PROC_NET = 1 << 1 };
int peer__uid_from(int fd, unsigned sources, bool *loopback, uid_t *uid);

/* What ptrace's read check (PTRACE_MODE_READ) would let an unprivileged
 * process of uid do to pid: the target's real, effective and saved uids are
 * all uid, and the target is dumpable (/proc/PID/status belongs to uid: the
 * kernel gives a non-dumpable task's /proc files to root). Group ids are
 * not compared (the socket does not say the client's), but a set-group-id
 * exec makes a task non-dumpable, so it fails the second test. Capabilities are not
 * considered: callers give root and the allowed group everything. */
bool peer__may_read(uid_t uid, pid_t pid);

/* uid's account has gid as its primary group or among its supplementary
 * groups (the group database, as login would set them). */
bool peer__in_group(uid_t uid, gid_t gid);

#endif
