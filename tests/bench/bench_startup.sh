#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Start-up cost (issue 17, point 1): where `profd --pid PID --type T` spends
# its time before it samples, per phase (its `-v` "start-up:" lines: wall
# and CPU ms of each phase, medians over the rounds), for cpu, mutex, block
# and heap side by side, and the wall time from exec to "profiling" (every
# program attached: the next event is sampled) next to the time
# `perf record -F 99 -g -p PID` takes to start sampling (its wall time for
# `-- sleep 0.1`, minus the 0.1 s). The target is a busy shell loop (it has
# libc's allocator for heap's uprobes). Prints figures; asserts nothing.
set -eu
: "${PROFD:?}"
ROUNDS=${BENCH_ROUNDS:-3}
TYPES=${BENCH_STARTUP_TYPES:-cpu mutex block heap}
T=$(mktemp -d /tmp/profd-bench.XXXXXX)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$T"' EXIT

bash -c 'while :; do :; done' &
target=$!

now_ms() { echo $(($(date +%s%N) / 1000000)); }

# one TYPE ROUND: the phase lines to $T/TYPE.ROUND, the exec-to-profiling
# wall ms appended to $T/TYPE.ready.
one() {
	local type=$1 r=$2 t0 pid i
	rm -f "$T/err"
	t0=$(date +%s%N)
	"$PROFD" -v --pid "$target" --type "$type" --duration 1s -o "$T/p.pb.gz" 2>"$T/err" &
	pid=$!
	for i in $(seq 2000); do
		grep -q "profiling $type" "$T/err" 2>/dev/null && break
		sleep 0.005
	done
	echo $((($(date +%s%N) - t0) / 1000000)) >>"$T/$type.ready"
	wait "$pid" || { cat "$T/err" >&2; exit 1; }
	sed -n 's/.*start-up: \([a-z]*: \)\{0,1\}\(.*[^ ]\) \+\([0-9.]\+\) ms wall \+\([0-9.]\+\) ms cpu.*/\2|\3|\4/p' \
		"$T/err" >"$T/$type.$r"
}

for r in $(seq "$ROUNDS"); do
	for type in $TYPES; do
		one "$type" "$r"
	done
	t0=$(date +%s%N)
	perf record -q -F 99 -g -p "$target" -o "$T/perf.data" -- sleep 0.1 >/dev/null 2>&1
	echo $((($(date +%s%N) - t0) / 1000000 - 100)) >>"$T/perf.ready"
done

median() { sort -n | awk '{ v[NR] = $1 } END { print (NR ? v[int((NR + 1) / 2)] : "-") }'; }

# The table: one row per phase (in the order of the first type that has
# it), "wall/cpu" ms medians per type.
{
	for type in $TYPES; do cat "$T/$type".[0-9]*; done | cut -d'|' -f1 | awk '!seen[$0]++'
} >"$T/phases"
printf "%-34s" "phase (median ms wall/cpu)"
for type in $TYPES; do printf " %15s" "$type"; done
echo
while IFS= read -r ph; do
	printf "%-34s" "$ph"
	for type in $TYPES; do
		w=$(cat "$T/$type".[0-9]* | awk -F'|' -v p="$ph" '$1 == p { print $2 }' | median)
		c=$(cat "$T/$type".[0-9]* | awk -F'|' -v p="$ph" '$1 == p { print $3 }' | median)
		[ "$w" = - ] && printf " %15s" - || printf " %15s" "$w/$c"
	done
	echo
done <"$T/phases"
printf "%-34s" "exec to profiling (wall ms)"
for type in $TYPES; do printf " %15s" "$(median <"$T/$type.ready")"; done
echo
printf "%-34s %15s\n" "perf record -F 99 -g -p: start" "$(median <"$T/perf.ready")"
