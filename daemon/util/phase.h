/* SPDX-License-Identifier: Apache-2.0 */
/* phase: start-up timing. Each mark logs (at debug level, -v) the wall and
 * CPU time spent since the previous mark and the wall time since
 * phase_begin(), so `profd -v` shows where start-up goes. */
#ifndef PROFD_PHASE_H
#define PROFD_PHASE_H

void phase_begin(void);
void phase_mark(const char *what);

#endif
