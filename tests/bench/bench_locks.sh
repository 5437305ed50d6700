#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# mutex and block profiling overhead (issue 4), runs interleaved, medians:
#  1. an uncontended pthread_mutex lock/unlock loop with and without
#     `profd --type mutex` on it (goal: ratio <= 1.5: nothing traps on the
#     fast path, only futex waits are seen);
#  2. what the mutex type's syscall tracepoints add to every syscall of the
#     host (a getppid() loop), for the record;
#  3. two threads ping-ponging a byte over pipes with and without
#     `profd --type block` on them (every round is two blocking reads).
set -eu
: "${PROFD:?}" "${WORKLOADS:?}"
ROUNDS=${BENCH_ROUNDS:-5}
LOCK_ITERS=${BENCH_LOCK_ITERS:-40000000}
SYSCALL_ITERS=${BENCH_SYSCALL_ITERS:-2000000}
PINGPONG=${BENCH_PINGPONG:-200000}
T=$(mktemp -d /tmp/profd-bench.XXXXXX)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$T"' EXIT

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
		"$PROFD" --pid "$wl" --type "$type" --duration 600s -o "$T/p.pb.gz" 2>"$T/profd.err" &
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
