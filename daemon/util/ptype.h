/* SPDX-License-Identifier: Apache-2.0 */
/* ptype: the profile types profd knows, with the names used in the
 * configuration ("types = cpu,heap"), in file names and in /debug/pprof/. */
#ifndef PROFD_PTYPE_H
#define PROFD_PTYPE_H

enum profd_ptype {
	PROFD_PT_CPU = 0,
	PROFD_PT_HEAP,          /* in-use memory at the end of the interval */
	PROFD_PT_ALLOCS,        /* allocations made during the interval */
	PROFD_PT_MUTEX,         /* lock contention, seen from the holder */
	PROFD_PT_BLOCK,         /* time blocked on synchronization */
	PROFD_PT_THREADCREATE,  /* thread creation sites */
	PROFD_PT_THREADS,       /* threads: every thread's stack at the interval's end */
	PROFD_PT_MAX,
};

/* "cpu", "heap", ...; NULL for an out-of-range value. */
const char *ptype__name(enum profd_ptype t);
/* Inverse of ptype__name(); -1 for an unknown name. */
int ptype__parse(const char *name);

#endif
