#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Start-up cost (issue 17, point 1): where `profd --pid PID --type T` spends
# its time before it samples, per phase (its `-v` "start-up:" lines: wall
# and CPU ms of each phase, medians over the rounds), for cpu, mutex, block
# and heap side by side, and the wall time from exec to "profiling" (every
# program attached: the next event is sampled) next to the time
# `perf record -F 99 -g -p PID` takes to start sampling (its wall time for
# `-- sleep 0.1`, minus the 0.1 s). The target is a busy shell loop (it has
# libc's allocator for heap's uprobes). With PROFD_BEFORE (another build
# of profd, e.g. of an older commit), its columns ("TYPE<") stand next to
# this build's, rounds interleaved. Prints figures; asserts nothing.
set -eu
: "${PROFD:?}"
ROUNDS=${BENCH_ROUNDS:-3}
TYPES=${BENCH_STARTUP_TYPES:-cpu mutex block threadcreate heap}
COLS=
for type in $TYPES; do
	[ -n "${PROFD_BEFORE:-}" ] && COLS="$COLS $type<"
	COLS="$COLS $type"
done
T=$(mktemp -d /tmp/profd-bench.XXXXXX)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$T"' EXIT

bash -c 'while :; do :; done' &
target=$!

now_ms() { echo $(($(date +%s%N) / 1000000)); }

# one COL ROUND: the phase lines to $T/COL.ROUND, the exec-to-profiling
# wall ms appended to $T/COL.ready; a COL "TYPE<" runs $PROFD_BEFORE.
one() {
	local col=$1 r=$2 type=${1%<} bin=$PROFD t0 pid i
	[ "$type" != "$col" ] && bin=$PROFD_BEFORE
	rm -f "$T/err"
	t0=$(date +%s%N)
	"$bin" -v --pid "$target" --type "$type" --duration 1s -o "$T/p.pb.gz" 2>"$T/err" &
	pid=$!
	for i in $(seq 2000); do
		grep -q "profiling $type" "$T/err" 2>/dev/null && break
		sleep 0.005
	done
	echo $((($(date +%s%N) - t0) / 1000000)) >>"$T/$col.ready"
	wait "$pid" || { cat "$T/err" >&2; exit 1; }
	sed -n 's/.*start-up: \([a-z]*: \)\{0,1\}\(.*[^ ]\) \+\([0-9.]\+\) ms wall \+\([0-9.]\+\) ms cpu.*/\2|\3|\4/p' \
		"$T/err" >"$T/$col.$r"
	# The verifier's work per program, for the record (last round's).
	sed -n 's/.*start-up: \+program \([a-z_0-9]*\) .*walked \([0-9]*\).*/\1 \2/p' "$T/err" >"$T/$col.progs"
}

for r in $(seq "$ROUNDS"); do
	for col in $COLS; do
		one "$col" "$r"
	done
	t0=$(date +%s%N)
	perf record -q -F 99 -g -p "$target" -o "$T/perf.data" -- sleep 0.1 >/dev/null 2>&1
	echo $((($(date +%s%N) - t0) / 1000000 - 100)) >>"$T/perf.ready"
done

median() { sort -n | awk '{ v[NR] = $1 } END { print (NR ? v[int((NR + 1) / 2)] : "-") }'; }

# The table: one row per phase (in the order of the first type that has
# it), "wall/cpu" ms medians per type.
{
	for col in $COLS; do cat "$T/$col".[0-9]*; done | cut -d'|' -f1 | awk '!seen[$0]++'
} >"$T/phases"
[ -n "${PROFD_BEFORE:-}" ] && echo "TYPE< columns: $PROFD_BEFORE; TYPE: $PROFD"
printf "%-34s" "phase (median ms wall/cpu)"
for col in $COLS; do printf " %13s" "$col"; done
echo
while IFS= read -r ph; do
	printf "%-34s" "$ph"
	for col in $COLS; do
		w=$(cat "$T/$col".[0-9]* | awk -F'|' -v p="$ph" '$1 == p { print $2 }' | median)
		c=$(cat "$T/$col".[0-9]* | awk -F'|' -v p="$ph" '$1 == p { print $3 }' | median)
		[ "$w" = - ] && printf " %13s" - || printf " %13s" "$w/$c"
	done
	echo
done <"$T/phases"
# Start-up CPU: every phase's CPU summed per round, the median over rounds.
printf "%-34s" "start-up CPU, all phases (ms)"
for col in $COLS; do
	printf " %13s" "$(for f in "$T/$col".[0-9]*; do awk -F'|' '{ s += $3 } END { printf "%.1f\n", s }' "$f"; done | median)"
done
echo
printf "%-34s" "exec to profiling (wall ms)"
for col in $COLS; do printf " %13s" "$(median <"$T/$col.ready")"; done
echo
printf "%-34s" "verifier insns walked (all progs)"
for col in $COLS; do printf " %13s" "$(awk '{ s += $2 } END { print s + 0 }' "$T/$col.progs")"; done
echo
printf "%-34s %15s\n" "perf record -F 99 -g -p: start" "$(median <"$T/perf.ready")"
