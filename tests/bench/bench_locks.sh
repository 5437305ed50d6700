#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# mutex and block profiling overhead (issue 4), runs interleaved, medians:
#  1. an uncontended pthread_mutex lock/unlock loop with and without
#     `profd --type mutex` on it (goal: ratio <= 1.5: nothing traps on the
#     fast path, only futex waits are seen);
#  2. what the mutex type's syscall tracepoints add to every syscall of the
#     host (a getppid() loop), for the record;
#  3. two threads ping-ponging a byte over pipes with and without
#     `profd --type block` on them (every round is two blocking reads);
#  4. the .eh_frame walker against the gap walk (--unwind=fp), side by side
#     in interleaved rounds, on the ping-pong (block) and on a contended-lock
#     loop without frame pointers (mutex, one lock wait per iteration):
#     workload wall and CPU time, and the start program's own BPF run time
#     per event (kernel.bpf_stats_enabled, switched on for that part only).
set -eu
: "${PROFD:?}" "${WORKLOADS:?}"
ROUNDS=${BENCH_ROUNDS:-5}
LOCK_ITERS=${BENCH_LOCK_ITERS:-40000000}
SYSCALL_ITERS=${BENCH_SYSCALL_ITERS:-2000000}
PINGPONG=${BENCH_PINGPONG:-200000}
CONTEND=${BENCH_CONTEND:-5000}
BPF_ROUNDS=${BENCH_BPF_ROUNDS:-3}
T=$(mktemp -d /tmp/profd-bench.XXXXXX)
STATS0=$(sysctl -n kernel.bpf_stats_enabled 2>/dev/null || echo 0)
trap 'kill $(jobs -p) 2>/dev/null || true; sysctl -qw kernel.bpf_stats_enabled="$STATS0" 2>/dev/null || true; rm -rf "$T"' EXIT
PROFD_ARGS=()

# wait_for FILE PATTERN: until FILE has a line matching PATTERN (10 s).
wait_for() {
	local i
	for i in $(seq 200); do
		grep -q "$2" "$1" 2>/dev/null && return 0
		sleep 0.05
	done
	echo "timed out waiting for '$2' in $1" >&2
	cat "$1" >&2
	exit 1
}

# run_once TYPE|none WORKLOAD ARGS...: the workload's own wall seconds for
# its timed part, profiled by profd of TYPE from before it starts.
run_once() {
	local type=$1 name=$2 wl ag=""
	shift 2
	rm -f "$T/result" "$T/ready" "$T/profd.err"
	"$WORKLOADS/$name" "$T/result" "$@" >"$T/ready" &
	wl=$!
	wait_for "$T/ready" ready
	if [ "$type" != none ]; then
		"$PROFD" --pid "$wl" --type "$type" --duration 600s -o "$T/p.pb.gz" ${PROFD_ARGS[@]+"${PROFD_ARGS[@]}"} \
			2>"$T/profd.err" &
		ag=$!
		wait_for "$T/profd.err" profiling
	fi
	kill -USR1 "$wl"
	wait "$wl"
	[ -n "$ag" ] && { wait "$ag" || { cat "$T/profd.err" >&2; exit 1; }; }
	cat "$T/result"
}

median() { tr ' ' '\n' | grep . | sort -n | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }

# compare LABEL TYPE WORKLOAD ARGS...: ROUNDS interleaved pairs; medians of
# wall time and of the process's CPU time (the CPU figure is less disturbed
# by other load on the machine; BPF programs run on the workload's CPUs).
compare() {
	local label=$1 type=$2 r w c woff="" won="" coff="" con=""
	shift 2
	for r in $(seq "$ROUNDS"); do
		read -r w c <<<"$(run_once none "$@")"
		woff+="$w " coff+="$c "
		read -r w c <<<"$(run_once "$type" "$@")"
		won+="$w " con+="$c "
	done
	WALL_OFF=$(median <<<"$woff") WALL_ON=$(median <<<"$won")
	CPU_OFF=$(median <<<"$coff") CPU_ON=$(median <<<"$con")
	echo "wall (s): without: $woff| with --type $type: $won"
	echo "cpu  (s): without: $coff| with --type $type: $con"
	awk -v a="$WALL_OFF" -v b="$WALL_ON" -v c="$CPU_OFF" -v d="$CPU_ON" -v l="$label" -v t="$type" 'BEGIN {
		printf "%s: --type %s ratio %.3f by wall time (median %.3fs -> %.3fs), %.3f by CPU time (%.3fs -> %.3fs)\n",
			l, t, b / a, a, b, d / c, c, d
	}'
}

echo "-- uncontended lock/unlock, $LOCK_ITERS iterations, $ROUNDS interleaved rounds"
compare "uncontended lock/unlock loop" mutex lock_loop "$LOCK_ITERS" lock
awk -v a="$CPU_OFF" -v b="$CPU_ON" -v n="$LOCK_ITERS" 'BEGIN {
	printf "CPU per lock+unlock: %.1f ns without, %.1f ns with\n", 1e9 * a / n, 1e9 * b / n }'

echo "-- getppid() loop, $SYSCALL_ITERS calls: the cost of the mutex type's sys_enter/sys_exit tracepoints"
compare "getppid loop" mutex lock_loop "$SYSCALL_ITERS" syscall
awk -v a="$CPU_OFF" -v b="$CPU_ON" -v n="$SYSCALL_ITERS" 'BEGIN {
	printf "CPU per syscall: %.0f ns without, %.0f ns with (+%.0f ns)\n", 1e9 * a / n, 1e9 * b / n, 1e9 * (b - a) / n }'

echo "-- pipe ping-pong between two threads, $PINGPONG rounds"
compare "pipe ping-pong" block pingpong "$PINGPONG"
awk -v a="$WALL_OFF" -v b="$WALL_ON" -v c="$CPU_OFF" -v d="$CPU_ON" -v n="$PINGPONG" 'BEGIN {
	printf "per round (2 blocking reads): %.2f us wall without, %.2f us with; +%.2f us CPU per blocking read\n",
		1e6 * a / n, 1e6 * b / n, 1e6 * (d - c) / (2 * n) }'

# walks LABEL TYPE WORKLOAD ARGS...: ROUNDS interleaved triples (without
# profd, walker, gap walk); medians and the walker/gap-walk ratios.
walks() {
	local label=$1 type=$2 r w c mode
	local -A wall cpu
	shift 2
	for r in $(seq "$ROUNDS"); do
		for mode in none walker gap; do
			PROFD_ARGS=()
			[ "$mode" = gap ] && PROFD_ARGS=(--unwind=fp)
			read -r w c <<<"$(run_once "$([ "$mode" = none ] && echo none || echo "$type")" "$@")"
			wall[$mode]+="$w " cpu[$mode]+="$c "
		done
	done
	PROFD_ARGS=()
	for mode in none walker gap; do
		echo "$mode: wall (s) ${wall[$mode]}| cpu (s) ${cpu[$mode]}"
	done
	awk -v l="$label" -v t="$type" \
		-v wn="$(median <<<"${wall[none]}")" -v ww="$(median <<<"${wall[walker]}")" -v wg="$(median <<<"${wall[gap]}")" \
		-v cn="$(median <<<"${cpu[none]}")" -v cw="$(median <<<"${cpu[walker]}")" -v cg="$(median <<<"${cpu[gap]}")" 'BEGIN {
		printf "%s, --type %s: median wall %.3fs without, %.3fs walker, %.3fs gap walk; CPU %.3fs, %.3fs, %.3fs\n", l, t, wn, ww, wg, cn, cw, cg
		printf "%s: walker/gap-walk ratio %.3f by wall time, %.3f by CPU time (vs none: walker %.3f/%.3f, gap walk %.3f/%.3f)\n", l, ww / wg, cw / cg, ww / wn, cw / cn, wg / wn, cg / cn
	}'
}

# bpf_run_ns PROG: run_time_ns of the newest loaded BPF program named PROG.
bpf_run_ns() {
	bpftool -j prog show 2>/dev/null | python3 -c '
import json, sys
p = [x for x in json.load(sys.stdin) if x.get("name") == sys.argv[1]]
print(max(p, key=lambda x: x["id"]).get("run_time_ns", 0) if p else -1)' "$1"
}

# bpf_cost LABEL TYPE PROG WORKLOAD ARGS...: the start program's BPF time
# per counted event with the walker (PROG_dwarf) and the gap walk (PROG),
# over ~1.5 s of the workload, alternating BPF_ROUNDS times; medians.
bpf_cost() {
	local label=$1 type=$2 prog=$3 r mode wl ag ns ev
	local -A per
	shift 3
	for r in $(seq "$BPF_ROUNDS"); do
		for mode in walker gap; do
			rm -f "$T/ready" "$T/profd.err"
			"$WORKLOADS/$1" "$T/result" "${@:2}" >"$T/ready" &
			wl=$!
			wait_for "$T/ready" ready
			"$PROFD" --pid "$wl" --type "$type" --duration 600s -o "$T/p.pb.gz" \
				$([ "$mode" = gap ] && echo --unwind=fp) 2>"$T/profd.err" &
			ag=$!
			wait_for "$T/profd.err" profiling
			kill -USR1 "$wl"
			sleep 1.5
			ns=$(bpf_run_ns "$prog$([ "$mode" = walker ] && echo _dwarf)")
			kill -INT "$ag"
			wait "$ag" || { cat "$T/profd.err" >&2; exit 1; }
			kill "$wl" 2>/dev/null || true
			wait "$wl" 2>/dev/null || true
			ev=$(sed -n 's/.* \([0-9]*\) events written.*/\1/p' "$T/profd.err")
			per[$mode]+="$(awk -v n="$ns" -v e="${ev:-0}" 'BEGIN { printf "%.0f", (e > 0 && n >= 0) ? n / e : -1 }') "
		done
	done
	echo "$label: $prog BPF ns per event: walker ${per[walker]}| gap walk ${per[gap]}"
	awk -v l="$label" -v w="$(median <<<"${per[walker]}")" -v g="$(median <<<"${per[gap]}")" 'BEGIN {
		printf "%s: start program BPF time per event, median: walker %.0f ns, gap walk %.0f ns, ratio %.2f\n", l, w, g, (g > 0 ? w / g : 0)
	}'
}

echo "-- .eh_frame walker vs gap walk (--unwind=fp), $ROUNDS interleaved rounds"
walks "pipe ping-pong ($PINGPONG rounds)" block pingpong "$PINGPONG"
walks "contended lock ($CONTEND waits)" mutex unwind_wait_contend "$CONTEND"
if sysctl -qw kernel.bpf_stats_enabled=1 2>/dev/null; then
	# Host-wide programs: their time includes filtering out every other
	# task's switches and syscalls, the same for both walks.
	bpf_cost "pipe ping-pong" block sched_switch pingpong 100000000
	bpf_cost "contended lock" mutex sys_enter unwind_wait_contend 100000000
	sysctl -qw kernel.bpf_stats_enabled="$STATS0"
else
	echo "kernel.bpf_stats_enabled cannot be set: no BPF run times"
fi
