#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Heap profiling overhead (issues 3 and 7): ns per malloc(64)+free pair,
# runs interleaved, under
#  - nothing;
#  - profd --type heap at the default rate (512 KiB) and at rate 1 (every
#    call sampled, so every call's stack taken), each with the .eh_frame
#    walker (--unwind=dwarf, the default here) and with frame pointers
#    (--unwind=fp);
#  - the allocator probes forced to each kind this kernel has
#    (PROFD_HEAP_PROBES=session|multi|classic, default rate, walker): a
#    uprobe session (6.13+) probes a call's return only when the call is
#    sampled; uprobe-multi links (6.6+) and one uprobe per function probe
#    every return;
#  - the naive floor of uprobe tracking: empty BPF programs on malloc entry,
#    malloc return and free entry, attached at the symbols the obvious way
#    (tests/bench/heapprobe/probe_cost).
# Two stacks: "shallow", mallocbench calling malloc from main (frame
# pointers, 4 frames to _start), and "deep", unwind_heap bench calling it
# $DEPTH frames further down in code without frame pointers (the walker
# walks them all; frame pointers stop at once).
set -eu
: "${PROFD:?}" "${WORKLOADS:?}"
ROUNDS=${BENCH_ROUNDS:-3}
ITERS=${BENCH_ITERS:-300000}   # pairs per run at the default rate
ITERS1=${BENCH_ITERS1:-100000} # pairs per run at rate 1 (each ~4 us)
DEPTH=${BENCH_DEPTH:-30}
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

naive() {
	"$OUT/probe_cost" -o "$OUT/probe_cost.bpf.o" -m both -p "$LIBC:malloc" -m entry -p "$LIBC:free" \
		-- "$B" "$ITERS" 64 2>/dev/null | sed -n 's/.*ns_per_pair=//p'
}

# run STACK RATE UNWIND [PROBES]: ns per pair of the STACK workload
# (shallow|deep) under profd --heap-sample-rate RATE (default: the default
# rate; none: no profd) --unwind=UNWIND, with PROFD_HEAP_PROBES=PROBES
# (default: auto). The workload waits until profd's probes are in.
run() {
	local stack=$1 rate=$2 unwind=$3 probes=${4:-auto} fifo=$T/gate out=$T/out pid ag= iters=$ITERS
	local args=(--pid)

	[ "$rate" = 1 ] && iters=$ITERS1
	rm -f "$fifo"
	mkfifo "$fifo"
	if [ "$stack" = shallow ]; then
		"$B" "$iters" 64 gate <"$fifo" >"$out" &
	else
		"$WORKLOADS/unwind_heap" bench "$iters" "$DEPTH" <"$fifo" >"$out" &
	fi
	pid=$!
	exec 9>"$fifo"
	sleep 0.2
	if [ "$rate" != none ]; then
		args+=("$pid" --type heap --unwind="$unwind" --duration 120s -o "$T/h.pb.gz")
		[ "$rate" = default ] || args+=(--heap-sample-rate "$rate")
		rm -f "$T/profd.err"
		PROFD_HEAP_PROBES=$probes "$PROFD" "${args[@]}" 2>"$T/profd.err" &
		ag=$!
		for _ in $(seq 100); do grep -q profiling "$T/profd.err" && break; sleep 0.1; done
		grep -q "profiling" "$T/profd.err" || { cat "$T/profd.err" >&2; exit 1; }
	fi
	echo go >&9
	exec 9>&-
	wait "$pid"
	if [ -n "$ag" ]; then
		wait "$ag" || true
		# the walker ran where asked, and only there
		if [ "$unwind" = dwarf ]; then
			grep -q "unwinding: [1-9]" "$T/profd.err" || { cat "$T/profd.err" >&2; echo "no walks" >&2; exit 1; }
			grep "unwinding:" "$T/profd.err" >"$T/walk.$stack.$rate"
		fi
	fi
	sed -n 's/ns_per_pair=//p' "$out"
}

modes="shallow:none:- shallow:naive:- shallow:default:fp shallow:default:dwarf shallow:1:fp shallow:1:dwarf
	deep:none:- deep:default:fp deep:default:dwarf deep:1:fp deep:1:dwarf"
# BENCH_HEAP_KINDS_ONLY=1: only nothing and the kinds below (a quick run).
[ -n "${BENCH_HEAP_KINDS_ONLY:-}" ] && modes="shallow:none:-"
# The kinds of allocator probes this kernel has (each forced, default rate).
KINDS=
for k in session multi classic; do
	if PROFD_HEAP_PROBES=$k "$PROFD" --pid $$ --type heap --duration 0.1s -o "$T/k.pb.gz" 2>"$T/k.err"; then
		KINDS="$KINDS $k"
		modes="$modes shallow:default:dwarf:$k"
	else
		echo "allocator probes by $k: not on this kernel ($(grep -o 'cannot: .*' "$T/k.err" | head -1))"
	fi
done
declare -A t
for _ in $(seq "$ROUNDS"); do
	for m in $modes; do
		IFS=: read -r stack rate unwind probes <<<"$m"
		if [ "$rate" = naive ]; then
			t[$m]+="$(naive) "
		else
			t[$m]+="$(run "$stack" "$rate" "$unwind" "$probes") "
		fi
	done
done
median() { tr ' ' '\n' | grep . | sort -g | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
declare -A med
for m in $modes; do med[$m]=$(median <<<"${t[$m]}"); done

# frames per walk of a rate-1 walker run: frames / walks of its summary
fpw() { awk '{ for (i = 1; i <= NF; i++) { if ($(i + 1) == "walks,") w = $i; if ($(i + 1) == "frames") f = $i } }
	END { printf "%.1f", w ? f / w : 0 }' "$T/walk.$1.1"; }

echo "ns per malloc(64)+free pair, $ROUNDS interleaved rounds ($ITERS pairs a run, $ITERS1 at rate 1):"
for m in $modes; do printf '  %-22s %s\n' "$m:" "${t[$m]}"; done
if [ -z "${BENCH_HEAP_KINDS_ONLY:-}" ]; then
echo "medians (rate: default = 512 KiB, 1 = every call; fp = frame pointers, dwarf = .eh_frame walker):"
printf '  %-8s %8s %8s %12s %12s %10s %10s\n' stack none naive fp@default dwarf@default fp@1 dwarf@1
for s in shallow deep; do
	printf '  %-8s %8s %8s %12s %12s %10s %10s\n' $s "${med[$s:none:-]}" "${med[$s:naive:-]:--}" \
		"${med[$s:default:fp]}" "${med[$s:default:dwarf]}" "${med[$s:1:fp]}" "${med[$s:1:dwarf]}"
done
for s in shallow deep; do
	awk -v s=$s -v f="$(fpw $s)" -v n="${med[$s:none:-]}" -v df="${med[$s:default:fp]}" \
		-v dd="${med[$s:default:dwarf]}" -v f1="${med[$s:1:fp]}" -v d1="${med[$s:1:dwarf]}" 'BEGIN {
		printf "%s (%s frames a walk): walker/fp per pair %.3f at the default rate, %.3f at rate 1; ", s, f, dd / df, d1 / f1
		printf "a walk adds %.0f ns (%.1f ns a frame)\n", d1 - f1, f ? (d1 - f1) / f : 0
	}'
done
n=${med[shallow:none:-]} p=${med[shallow:default:dwarf]} f=${med[shallow:naive:-]}
awk -v n="$n" -v p="$p" -v f="$f" 'BEGIN {
	printf "shallow, default rate: profd added cost %.1f ns per pair; naive floor added: %.1f ns per pair\n", p - n, f - n
	printf "ratio profd/naive floor (per pair): %.3f\n", p / f
	printf "slowdown with profd: %.1fx; with the naive floor: %.1fx\n", p / n, f / n
}'
grep "probes at emulated" "$T/profd.err" || true
fi
if [ -n "$KINDS" ]; then
	printf 'allocator probes, shallow, default rate, walker (ns per pair, median; added = minus nothing):'
	for k in $KINDS; do
		awk -v k=$k -v v="${med[shallow:default:dwarf:$k]}" -v n="${med[shallow:none:-]}" \
			'BEGIN { printf "  %s %.0f (added %.0f)", k, v, v - n }'
	done
	echo
fi
