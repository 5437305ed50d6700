/* SPDX-License-Identifier: Apache-2.0 */
/* procinfo: what the continuous agent reads about a process from /proc: its
 * name and the systemd unit it runs in (for service names). The parsers take
 * the file's text so garbage and truncation can be tested without /proc.
 * No logging; -errno returns. */
#ifndef PROFD_PROCINFO_H
#define PROFD_PROCINFO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define PROCINFO_COMM_LEN 16    /* TASK_COMM_LEN, NUL included */
#define PROCINFO_UNIT_LEN 256   /* systemd's unit name limit (UNIT_NAME_MAX) */

/* The process name of pid (/proc/PID/comm without the newline) into buf
 * (size >= PROCINFO_COMM_LEN keeps it whole). 0, -ESRCH (gone) or -errno. */
int procinfo__comm(pid_t pid, char *buf, size_t size);

/* Whether pid is a kernel thread (PF_KTHREAD in field 9 of /proc/PID/stat);
 * false when it cannot be read. */
bool procinfo__is_kthread(pid_t pid);

/* When pid started, in CLOCK_BOOTTIME nanoseconds (field 22 of
 * /proc/PID/stat, read by util/procstat.h). 0, -ESRCH (gone), -EINVAL
 * (unparsable) or -errno. */
int procinfo__start_boottime(pid_t pid, int64_t *ns);

/* The systemd service unit pid runs in ("nginx.service"), from
 * /proc/PID/cgroup. 0, -ENOENT (no .service unit: session scope, container,
 * kernel thread), -ESRCH (gone) or -errno. */
int procinfo__unit(pid_t pid, char *buf, size_t size);

/* The unit in the text of a /proc/PID/cgroup file (len bytes, not
 * necessarily NUL-terminated): the deepest path component ending in
 * ".service" of the unified ("0::") line, else of the v1 "name=systemd"
 * line. Components with bytes outside printable ASCII, or longer than
 * size - 1, are not units. 0 or -ENOENT. */
int procinfo__parse_cgroup_unit(const char *text, size_t len, char *buf, size_t size);

/* The service name without rules: the unit without ".service"
 * ("nginx.service" → "nginx", "getty@tty1.service" → "getty@tty1"), else
 * comm, else "unknown". Returns buf. */
const char *procinfo__default_service(const char *unit, const char *comm, char *buf,
				      size_t size);

#endif
