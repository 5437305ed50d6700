// SPDX-License-Identifier: Apache-2.0
/* probe_cost: the smallest useful uprobe programs, so that heapbench's ns per
 * call measures the kernel's uprobe machinery and not our BPF code. The
 * session program models profd's heap sampler: the entry half asks for the
 * return half only on 1 call in `sample_every`. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

/* Load-time knob: 0 = never run the return half, N = on one entry in N. */
const volatile __u64 sample_every = 0;

extern bool bpf_session_is_return(void) __ksym __weak;

/* Hit counters: key 0 = entries, 1 = returns. Per-CPU so that counting
 * costs no cache-line bouncing between the 2 CPUs. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u64);
} hits SEC(".maps");

static __always_inline __u64 bump(__u32 key)
{
	__u64 *v = bpf_map_lookup_elem(&hits, &key);

	if (!v) /* verifier: never NULL for an array */
		return 0;
	return ++*v;
}

SEC("uprobe")
int on_entry(struct pt_regs *ctx)
{
	bump(0);
	return 0;
}

/* The same as on_entry, loaded as BPF_TRACE_UPROBE_MULTI. */
SEC("uprobe")
int on_multi(struct pt_regs *ctx)
{
	bump(0);
	return 0;
}

SEC("uretprobe")
int on_return(struct pt_regs *ctx)
{
	bump(1);
	return 0;
}

/* Attached through a BPF_TRACE_UPROBE_SESSION link: returning non-zero
 * from the entry half tells the kernel not to hijack the return address. */
SEC("uprobe")
int on_session(struct pt_regs *ctx)
{
	__u64 n;

	if (bpf_session_is_return()) {
		bump(1);
		return 0;
	}
	n = bump(0);
	return !(sample_every && n % sample_every == 0);
}
