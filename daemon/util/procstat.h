/* SPDX-License-Identifier: Apache-2.0 */
/* procstat: the start time of a process from /proc/PID/stat, the one
 * reader of it for every module that tells pid reuse (the unwind loader,
 * the symbolizer, python, the agent's process names), and the clock it is
 * counted in. The parser takes the file's text so that garbage and
 * truncation can be tested without /proc. No logging; -errno returns. */
#ifndef PROFD_UTIL_PROCSTAT_H
#define PROFD_UTIL_PROCSTAT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Field 22 (starttime, clock ticks since boot) of a /proc/PID/stat text
 * (len bytes, not necessarily NUL-terminated; the comm in parentheses may
 * hold any byte, ')' and spaces included: fields resume after the last
 * ')'). 0, or -EINVAL for anything else (a truncated line, a number cut
 * by the end of the text, an overflow). */
int procstat__parse_starttime(const char *text, size_t len, unsigned long long *ticks);

/* The start time of pid in clock ticks since boot. 0, -ESRCH (gone, or a
 * task whose stat answers ESRCH), -EINVAL (unparsable) or -errno. */
int procstat__starttime(pid_t pid, unsigned long long *ticks);

/* Clock ticks per second (sysconf(_SC_CLK_TCK), 100 if it fails). */
uint64_t procstat__hz(void);

/* CLOCK_BOOTTIME now, in clock ticks: comparable with a start time. */
uint64_t procstat__boot_ticks(void);

#endif
