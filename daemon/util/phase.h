/* SPDX-License-Identifier: Apache-2.0 */
/* phase: start-up timing. Each mark logs (at debug level, -v) the wall and
 * CPU time spent since the previous mark and the wall time since
 * phase_begin(), so `profd -v` shows where start-up goes. */
#ifndef PROFD_PHASE_H
#define PROFD_PHASE_H

void phase_begin(void);
void phase_mark(const char *what);
/* One phase in two lines: part (part_ms of it, measured by someone else,
 * e.g. the kernel's verification time) and rest (the remainder). */
void phase_mark_split(const char *rest, const char *part, double part_ms);

#endif
