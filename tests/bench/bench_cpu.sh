#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# CPU profiling overhead (issue 2), with both cores busy:
#  1. profd's own CPU time profiling the whole host at 99 Hz, as % of one
#     core, next to `perf record -e cpu-clock -F 99 -a -g`'s;
#  2. slowdown of a fixed CPU-bound workload under each, runs interleaved.
set -eu
: "${PROFD:?}" "${WORKLOADS:?}"
SECS=${BENCH_SECS:-20}
ROUNDS=${BENCH_ROUNDS:-5}
WORK=${BENCH_WORK:-2500}          # spin millions: ~3.5 s per run here
T=$(mktemp -d /tmp/profd-bench.XXXXXX)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$T"' EXIT
ncpu=$(nproc)

busy() { for _ in $(seq "$ncpu"); do "$WORKLOADS/spin" 1000000 >/dev/null & done; }
unbusy() { kill $(jobs -p) 2>/dev/null || true; wait 2>/dev/null || true; }

# cpu_seconds CMD...: user+system CPU seconds the command used.
cpu_seconds() {
	local TIMEFORMAT='%U %S' t
	t=$( { time "$@" >/dev/null 2>&1; } 2>&1 | tail -1)
	awk '{ printf "%.3f", $1 + $2 }' <<<"$t"
}

echo "-- agent CPU while profiling every process at 99 Hz for ${SECS}s, $ncpu cores busy"
busy
p_cpu=$(cpu_seconds "$PROFD" --duration "${SECS}s" --frequency 99 --output "$T/host.pb.gz")
# The same for 2 s: start-up (BPF load, kallsyms, first symbolization) and
# exit, so the steady-state cost is the difference over the extra time.
p_short=$(cpu_seconds "$PROFD" --duration 2s --frequency 99 --output "$T/short.pb.gz")
f_cpu=$(cpu_seconds perf record -e cpu-clock -F 99 -a -g -o "$T/perf.data" -- sleep "$SECS")
unbusy
samples=$(go tool pprof -raw "$T/host.pb.gz" 2>/dev/null | awk '/^Samples:/ { on = 1; next } /^Locations/ { on = 0 } on && $1 ~ /^[0-9]+$/ { s += $1 } END { print s + 0 }')
awk -v p="$p_cpu" -v ps="$p_short" -v f="$f_cpu" -v s="$SECS" -v n="$samples" 'BEGIN {
	printf "profd: %.3f s CPU = %.3f%% of one core over %ds (%d samples written)\n", p, 100 * p / s, s, n
	printf "profd steady state (run of %ds minus run of 2s): %.3f%% of one core\n", s, 100 * (p - ps) / (s - 2)
	printf "perf record -a -g: %.3f s CPU = %.3f%% of one core\n", f, 100 * f / s
	printf "ratio profd/perf CPU: %.2f\n", (f > 0 ? p / f : 0)
}'

echo "-- slowdown of spin $WORK on $ncpu cores, $ROUNDS interleaved rounds"
run_work() {   # mean wall seconds of $ncpu parallel spin runs
	local i
	for i in $(seq "$ncpu"); do "$WORKLOADS/spin" "$WORK" >"$T/w.$i" & done
	wait $(jobs -p)
	cat "$T"/w.* | awk '{ s += $1 } END { printf "%.4f", s / NR }'
}
declare -A times
for r in $(seq "$ROUNDS"); do
	for mode in none profd perf; do
		case $mode in
		none) t=$(run_work) ;;
		profd)
			"$PROFD" --duration 600s -F 99 -o "$T/p.pb.gz" 2>/dev/null & ag=$!
			sleep 1; t=$(run_work); kill -INT $ag; wait $ag || true ;;
		perf)
			perf record -q -e cpu-clock -F 99 -a -g -o "$T/perf.data" -- sleep 600 2>/dev/null & ag=$!
			sleep 1; t=$(run_work); kill -INT $ag; wait $ag 2>/dev/null || true ;;
		esac
		times[$mode]+="$t "
	done
done
median() { tr ' ' '\n' | grep . | sort -n | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
n=$(median <<<"${times[none]}"); p=$(median <<<"${times[profd]}"); f=$(median <<<"${times[perf]}")
echo "runs (s): none: ${times[none]}| profd: ${times[profd]}| perf: ${times[perf]}"
awk -v n="$n" -v p="$p" -v f="$f" 'BEGIN {
	printf "median wall: none %.3fs, profd %.3fs, perf %.3fs\n", n, p, f
	printf "slowdown ratio with profd: %.4f (%.2f%%)\n", p / n, 100 * (p / n - 1)
	printf "slowdown ratio with perf record: %.4f (%.2f%%)\n", f / n, 100 * (f / n - 1)
}'
