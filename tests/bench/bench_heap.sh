#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Heap profiling overhead (issue 3): ns per malloc(64)+free pair, runs
# interleaved, under
#  - nothing;
#  - profd --type heap at the default rate (512 KiB);
#  - the naive floor of uprobe tracking: empty BPF programs on malloc entry,
#    malloc return and free entry, attached at the symbols the obvious way
#    (tests/bench/heapprobe/probe_cost).
set -eu
: "${PROFD:?}" "${WORKLOADS:?}"
ROUNDS=${BENCH_ROUNDS:-5}
ITERS=${BENCH_ITERS:-300000}
OUT=${OUTPUT:-.output}/bench/heapprobe
T=$(mktemp -d /tmp/profd-bench.XXXXXX)
trap 'rm -rf "$T"' EXIT
B=$WORKLOADS/mallocbench
LIBC=$(ldd "$B" | awk '/libc.so.6/ { print $3 }')

# The naive tracer: built from the probe-pricing tool.
mkdir -p "$OUT"
clang -g -O2 -target bpf -D__TARGET_ARCH_x86 -Wall -Ibpf/vmlinux/x86 \
	-c tests/bench/heapprobe/probe_cost.bpf.c -o "$OUT/probe_cost.bpf.o"
cc -O2 -Wall -Wextra -D_GNU_SOURCE -Idaemon -o "$OUT/probe_cost" tests/bench/heapprobe/probe_cost.c \
	daemon/collect/attach_point.c $(pkg-config --libs libbpf libelf)

none() { "$B" "$ITERS" 64 | sed -n 's/ns_per_pair=//p'; }
naive() {
	"$OUT/probe_cost" -o "$OUT/probe_cost.bpf.o" -m both -p "$LIBC:malloc" -m entry -p "$LIBC:free" \
		-- "$B" "$ITERS" 64 2>/dev/null | sed -n 's/.*ns_per_pair=//p'
}
profd() {
	local fifo=$T/gate out=$T/out pid ag
	rm -f "$fifo"; mkfifo "$fifo"
	"$B" "$ITERS" 64 gate <"$fifo" >"$out" &
	pid=$!
	exec 9>"$fifo"
	sleep 0.2
	rm -f "$T/profd.err"
	"$PROFD" --pid "$pid" --type heap --duration 120s -o "$T/h.pb.gz" 2>"$T/profd.err" &
	ag=$!
	for _ in $(seq 100); do grep -q profiling "$T/profd.err" && break; sleep 0.1; done
	echo go >&9
	exec 9>&-
	wait "$pid"
	wait "$ag" || true
	sed -n 's/ns_per_pair=//p' "$out"
}

declare -A t
for r in $(seq "$ROUNDS"); do
	for m in none profd naive; do t[$m]+="$($m) "; done
done
median() { tr ' ' '\n' | grep . | sort -g | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
n=$(median <<<"${t[none]}"); p=$(median <<<"${t[profd]}"); f=$(median <<<"${t[naive]}")
echo "ns per malloc+free pair, $ROUNDS interleaved rounds of $ITERS pairs:"
echo "  none:  ${t[none]}"
echo "  profd: ${t[profd]}"
echo "  naive: ${t[naive]}"
awk -v n="$n" -v p="$p" -v f="$f" 'BEGIN {
	printf "median: none %.1f ns, profd heap %.1f ns, naive uprobe floor %.1f ns\n", n, p, f
	printf "profd added cost: %.1f ns per pair; naive floor added: %.1f ns per pair\n", p - n, f - n
	printf "ratio profd/naive floor (per pair): %.3f\n", p / f
	printf "slowdown with profd: %.1fx; with the naive floor: %.1fx\n", p / n, f / n
}'
grep "probes at emulated" "$T/profd.err" | sed 's/^profd: /profd: /' || true
