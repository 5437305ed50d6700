#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# CPU profiling overhead (issues 2 and 17), with both cores busy:
#  1. profd's own CPU time profiling the whole host at 99 Hz, as % of one
#     core, next to `perf record -e cpu-clock -F 99 -a -g`'s, and its
#     steady state (a 20 s run minus a 2 s run);
#  2. slowdown of a fixed CPU-bound workload under each, runs interleaved:
#     profd is started 1 s before the workload, as a user would start it,
#     so what its first seconds cost (new processes, tables, symbols) falls
#     in the measured window.
# With PROFD_BEFORE (another build, e.g. main's), that build runs beside
# $PROFD in every part, interleaved, and the ratios after/before are printed.
set -eu
: "${PROFD:?}" "${WORKLOADS:?}"
SECS=${BENCH_SECS:-20}
ROUNDS=${BENCH_ROUNDS:-5}
WORK=${BENCH_WORK:-2500}          # spin millions: ~3 s per run here
T=$(mktemp -d /tmp/profd-bench.XXXXXX)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$T"' EXIT
ncpu=$(nproc)
before=${PROFD_BEFORE:-}
[ -n "$before" ] && echo "-- before: $before; after: $PROFD"

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
b_cpu=0 b_short=0
if [ -n "$before" ]; then
	b_cpu=$(cpu_seconds "$before" --duration "${SECS}s" --frequency 99 --output "$T/before.pb.gz")
	b_short=$(cpu_seconds "$before" --duration 2s --frequency 99 --output "$T/short.pb.gz")
fi
f_cpu=$(cpu_seconds perf record -e cpu-clock -F 99 -a -g -o "$T/perf.data" -- sleep "$SECS")
unbusy
samples=$(go tool pprof -raw "$T/host.pb.gz" 2>/dev/null | awk '/^Samples:/ { on = 1; next } /^Locations/ { on = 0 } on && $1 ~ /^[0-9]+$/ { s += $1 } END { print s + 0 }')
awk -v p="$p_cpu" -v ps="$p_short" -v b="$b_cpu" -v bs="$b_short" -v f="$f_cpu" -v s="$SECS" \
	-v n="$samples" -v hb="${before:+1}" 'BEGIN {
	printf "profd: %.3f s CPU = %.3f%% of one core over %ds (%d samples written)\n", p, 100 * p / s, s, n
	printf "profd steady state (run of %ds minus run of 2s): %.3f%% of one core\n", s, 100 * (p - ps) / (s - 2)
	if (hb) {
		printf "before: %.3f s CPU = %.3f%% of one core; steady state %.3f%%\n", b, 100 * b / s, 100 * (b - bs) / (s - 2)
		printf "ratio after/before CPU: %.2f (2 s runs: %.3f s / %.3f s = %.2f)\n", (b > 0 ? p / b : 0), ps, bs, (bs > 0 ? ps / bs : 0)
	}
	printf "perf record -a -g: %.3f s CPU = %.3f%% of one core\n", f, 100 * f / s
	printf "ratio profd/perf CPU: %.2f\n", (f > 0 ? p / f : 0)
}'

modes="none profd perf"
[ -n "$before" ] && modes="none profd before perf"
echo "-- slowdown of spin $WORK on $ncpu cores, $ROUNDS interleaved rounds ($modes)"
run_work() {   # mean wall seconds of $ncpu parallel spin runs
	local i
	for i in $(seq "$ncpu"); do "$WORKLOADS/spin" "$WORK" >"$T/w.$i" & done
	wait $(jobs -p)
	cat "$T"/w.* | awk '{ s += $1 } END { printf "%.4f", s / NR }'
}
# ticks PID: its user+system clock ticks so far (/proc/PID/stat).
ticks() { awk '{ sub(/.*\) /, ""); print $12 + $13 }' "/proc/$1/stat"; }
declare -A times agent
for r in $(seq "$ROUNDS"); do
	for mode in $modes; do
		case $mode in
		none) t=$(run_work) ;;
		profd | before)
			bin=$PROFD
			[ "$mode" = before ] && bin=$before
			"$bin" --duration 600s -F 99 -o "$T/p.pb.gz" 2>/dev/null & ag=$!
			sleep 1; k0=$(ticks $ag); t=$(run_work); k1=$(ticks $ag)
			kill -INT $ag; wait $ag || true
			agent[$mode]+="$((k1 - k0)) " ;;
		perf)
			perf record -q -e cpu-clock -F 99 -a -g -o "$T/perf.data" -- sleep 600 2>/dev/null & ag=$!
			sleep 1; t=$(run_work); kill -INT $ag; wait $ag 2>/dev/null || true ;;
		esac
		times[$mode]+="$t "
	done
done
median() { tr ' ' '\n' | grep . | sort -n | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
n=$(median <<<"${times[none]}"); p=$(median <<<"${times[profd]}"); f=$(median <<<"${times[perf]}")
b=0
[ -n "$before" ] && b=$(median <<<"${times[before]}")
echo "runs (s): none: ${times[none]}| profd: ${times[profd]}| ${before:+before: ${times[before]}| }perf: ${times[perf]}"
hz=$(getconf CLK_TCK)
echo "profd's CPU while the workload ran (clock ticks of 1/$hz s): ${agent[profd]}${before:+| before: ${agent[before]}}"
pk=$(median <<<"${agent[profd]}"); bk=0
[ -n "$before" ] && bk=$(median <<<"${agent[before]}")
awk -v n="$n" -v p="$p" -v b="$b" -v f="$f" -v pk="$pk" -v bk="$bk" -v hz="$hz" -v hb="${before:+1}" 'BEGIN {
	printf "median wall: none %.3fs, profd %.3fs, %sperf %.3fs\n", n, p, (hb ? sprintf("before %.3fs, ", b) : ""), f
	printf "slowdown ratio with profd: %.4f (%.2f%%)\n", p / n, 100 * (p / n - 1)
	if (hb)
		printf "slowdown ratio with before: %.4f (%.2f%%)\n", b / n, 100 * (b / n - 1)
	printf "slowdown ratio with perf record: %.4f (%.2f%%)\n", f / n, 100 * (f / n - 1)
	printf "profd slowdown minus perf'"'"'s: %.2f points (goal: <= 1)\n", 100 * (p - f) / n
	printf "profd CPU while the workload ran (median): %.0f ms%s\n", 1000 * pk / hz, (hb ? sprintf("; before: %.0f ms; ratio after/before %.2f", 1000 * bk / hz, (bk > 0 ? pk / bk : 0)) : "")
}'
