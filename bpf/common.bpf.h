/* SPDX-License-Identifier: Apache-2.0 */
/* common.bpf.h: helpers shared by profd's BPF programs. No map definitions
 * here: each object defines its own `metrics` map and includes this after. */
#ifndef PROFD_COMMON_BPF_H
#define PROFD_COMMON_BPF_H

/* errno values used by helpers' return codes (vmlinux.h has no macros). */
#define EFAULT 14
#define EEXIST 17

/* Bump a per-CPU counter; `metrics` is a PERCPU_ARRAY of PROFD_METRIC_MAX u64. */
#define metric_inc(idx)                                                  \
	do {                                                             \
		__u32 __k = (idx);                                       \
		__u64 *__v = bpf_map_lookup_elem(&metrics, &__k);        \
		if (__v) /* verifier: never NULL for idx < MAX */        \
			*__v += 1;                                       \
	} while (0)

#endif
