/* SPDX-License-Identifier: Apache-2.0 */
/* sdnotify: the sd_notify(3) protocol spoken directly over $NOTIFY_SOCKET
 * (no libsystemd): "READY=1", "STOPPING=1", "WATCHDOG=1", "STATUS=...". */
#ifndef PROFD_SDNOTIFY_H
#define PROFD_SDNOTIFY_H

#include <stdint.h>

/* Send state (newline-separated KEY=VALUE lines) as one datagram. Returns 0
 * when sent or when $NOTIFY_SOCKET is unset or empty (not under systemd),
 * -EINVAL for an address that is neither a path nor '@abstract', -errno when
 * sending fails. */
int sdnotify__send(const char *state);

/* printf-style sdnotify__send(), e.g. ("STATUS=%zu processes", n). */
int sdnotify__sendf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* The watchdog timeout systemd expects pings within: 1 and *usec set when
 * $WATCHDOG_USEC is set and $WATCHDOG_PID is unset or is this process; 0
 * when there is no watchdog for us; -EINVAL for malformed values. Ping with
 * "WATCHDOG=1" every *usec / 2. */
int sdnotify__watchdog_usec(uint64_t *usec);

#endif
