#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The agent's own cost in continuous mode (issue 17): profd profiles the
# whole host at 99 Hz (types = cpu) with ~100 extra processes spawned here
# (long-lived shells, python3 and perl waking up a few times a second, so
# that most of them are sampled and symbolized, and sleeps), and perf record -a -g at
# 99 Hz runs over the same time. Printed per interval: each one's CPU time
# (the process CPU clock in ns, from the end of one /metrics scrape to the
# next; the scrape's own cost apart), the unwinder's share of it (scans of
# /proc/PID/maps, table builds and uploads, event handling: /metrics
# profd_unwind_cpu_seconds_total) and its scans, profd's RSS and symbol
# cache at its end, and the symbolizer's lookups of file-backed code, those
# not answered from its cached results, and DWARF files (re)opened (from
# /metrics); the first interval (start-up included) against the steady
# ones, and the steady state in % of one core. Knobs: BENCH_AGENT_PROCS
# (100), BENCH_AGENT_INTERVAL (seconds, 10), BENCH_AGENT_INTERVALS (5; more
# for a longer steady window), BENCH_AGENT_CACHE (a [symbolize]
# cache_max_memory value, default: profd's), BENCH_AGENT_PERF=FILE (perf
# record of the last agent over the steady intervals). With PROFD_BEFORE
# (another build), both builds run at once on
# the same processes, so that the host's load weighs on both alike, and
# every figure is printed for each (rows "before" and "after"). Asserts
# nothing.
set -eu
: "${PROFD:?}" "${WORKLOADS:?}"
NPROCS=${BENCH_AGENT_PROCS:-100}
IV=${BENCH_AGENT_INTERVAL:-10}
N=${BENCH_AGENT_INTERVALS:-5}
T=$(mktemp -d /tmp/profd-bench-agent.XXXXXX)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$T"
}
trap cleanup EXIT

# ~100 long-lived processes (no fork per loop: the host does not churn),
# most of them busy a few ms a few times a second, so that they are sampled.
spawn() {
	local i=0
	mkfifo "$T/never" && exec 9<>"$T/never"
	while [ "$i" -lt "$NPROCS" ]; do
		case $((i % 5)) in
		0) bash -c 'while :; do for j in {1..300}; do :; done; read -rt 0.3 -u 9 || :; done' & ;;
		1) python3 -c 'import json, time
while True:
    json.dumps([{"k": i} for i in range(300)]); time.sleep(0.3)' & ;;
		2) perl -e 'while (1) { my %h; $h{$_} = $_ * 2 for 1 .. 2000; select(undef, undef, undef, 0.3) }' & ;;
		3) python3 -c 'import time, zlib
while True:
    zlib.compress(bytes(range(256)) * 64); time.sleep(0.3)' & ;;
		4) sleep 100000 & ;;
		esac
		pids+=($!)
		i=$((i + 1))
	done
}

# CPU time in ns of every given process (all its threads, the exited ones
# included): its process CPU clock, the kernel's sum_exec_runtime, read from
# outside (reading /metrics would cost the agent an HTTP request, and
# /proc/PID/stat's ticks are 10 ms, this benchmark's whole budget per
# interval at 0.1% of a core). 0 for a process gone.
cpu_ns() {
	python3 - "$@" <<'PY'
import sys, time
out = []
for p in sys.argv[1:]:
    try:
        out.append(str(time.clock_gettime_ns(((~int(p)) << 3) | 2)))
    except OSError:
        out.append("0")
print(" ".join(out))
PY
}
rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0; }
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# The agents: "after" runs $PROFD; "before" $PROFD_BEFORE when set.
names=()
declare -A bin port ag tready cready aprev acpu uprev ucpu sprev hprev mprev dprev
if [ -n "${PROFD_BEFORE:-}" ]; then names+=(before) && bin[before]=$PROFD_BEFORE; fi
names+=(after) && bin[after]=$PROFD
for b in "${names[@]}"; do
	port[$b]=$(free_port)
	cat >"$T/$b.ini" <<EOF
[profd]
interval = ${IV}s
types = cpu
output_dir = $T/out-$b
[cpu]
frequency = 99
[http]
listen = 127.0.0.1:${port[$b]}
EOF
	if [ -n "${BENCH_AGENT_CACHE:-}" ]; then
		printf '[symbolize]\ncache_max_memory = %s\n' "$BENCH_AGENT_CACHE" >>"$T/$b.ini"
	fi
done

spawn
sleep 2
echo "-- $(ls /proc | grep -c '^[0-9]') processes on the host ($NPROCS spawned), $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "-- profd continuous (${names[*]}${PROFD_BEFORE:+, at once}), types = cpu at 99 Hz, interval ${IV}s, $N intervals; perf record -a -g -F 99 alongside"
if [ -n "${PROFD_BEFORE:-}" ]; then echo "-- before: $PROFD_BEFORE; after: $PROFD"; fi
t0=$(date +%s.%N)
for b in "${names[@]}"; do
	"${bin[$b]}" --config "$T/$b.ini" 2>"$T/$b.log" &
	ag[$b]=$!
	pids+=("${ag[$b]}")
done
perf record -q -e cpu-clock -F 99 -a -g -o "$T/perf.data" 2>/dev/null &
pf=$!
pids+=("$pf")

# Wait for every agent's first interval to begin (profilers attached: the
# log says so), then sample at each interval's end plus 1.5 s (profiles
# written; midway between two of the agent's 1 s ticks).
for _ in $(seq 600); do
	all=1
	for b in "${names[@]}"; do
		if [ -z "${tready[$b]:-}" ] && grep -q "profiling continuously" "$T/$b.log"; then
			tready[$b]=$(date +%s.%N) cready[$b]=$(cpu_ns "${ag[$b]}")
		fi
		[ -n "${tready[$b]:-}" ] || all=0
		if ! kill -0 "${ag[$b]}" 2>/dev/null; then
			echo "profd ($b) exited:" >&2
			cat "$T/$b.log" >&2
			exit 1
		fi
	done
	[ "$all" = 1 ] && break
	sleep 0.05
done
tr=$(date +%s.%N)
printf '%-10s %-6s %9s %9s %6s %8s %10s %9s %6s %6s %9s %8s %8s %7s %6s\n' "" "" "profd CPU" "unwinder" "scans" "RSS MiB" "cache MiB" "DWARF MiB" "files" "pids" "perf CPU" "scrape" "lookups" "misses" "DWARF opens"
for b in "${names[@]}"; do
	awk -v t="$(echo "${tready[$b]} - $t0" | bc)" -v c="${cready[$b]}" \
		-v r="$(rss_kib "${ag[$b]}")" -v b="$b" \
		'BEGIN { printf "%-10s %-6s %7.1fms %26.1f   (first interval began %.2f s after start)\n", "start-up", b, c / 1e6, r / 1024, t }'
	aprev[$b]=0 uprev[$b]=0 sprev[$b]=0 hprev[$b]=0 mprev[$b]=0 dprev[$b]=0
done
f_prev=0 pr=
declare -a fcpu
m() { awk -v k="$1" '$1 == k { print $2 }' "$T/metrics"; }
for k in $(seq "$N"); do
	target=$(echo "$tr + $k * $IV + 1.5" | bc)
	now=$(date +%s.%N)
	sleep "$(echo "if ($target > $now) $target - $now else 0" | bc)"
	# Every agent's and perf's CPU at one instant, before any /metrics
	# request: a scrape's own cost (the HTTP thread) is measured apart,
	# and an interval's CPU runs from the end of the last scrape.
	agl=()
	for b in "${names[@]}"; do agl+=("${ag[$b]}"); done
	read -r -a c <<<"$(cpu_ns "$pf" "${agl[@]}")"
	fcpu[$k]=$((c[0] - f_prev)) f_prev=${c[0]}
	i=1
	for b in "${names[@]}"; do
		acpu[$b,$k]=$((c[i] - aprev[$b]))
		curl -s "http://127.0.0.1:${port[$b]}/metrics" >"$T/metrics"
		aprev[$b]=$(cpu_ns "${ag[$b]}")
		scrape=$((aprev[$b] - c[i]))
		i=$((i + 1))
		# The unwinder's own CPU (scans, table builds, events) and scans.
		u=$(m profd_unwind_cpu_seconds_total) sc=$(m profd_unwind_scans_total)
		ucpu[$b,$k]=$(echo "${u:-0} - ${uprev[$b]}" | bc) uprev[$b]=${u:-0}
		scn=$((${sc:-0} - sprev[$b])) sprev[$b]=${sc:-0}
		# The symbolizer's lookups of file-backed code, those not
		# answered from its cached results, DWARF files (re)opened.
		h=$(m profd_symbol_frame_cache_hits_total) mi=$(m profd_symbol_frame_cache_misses_total)
		dw=$(m profd_symbol_dwarf_opens_total)
		lk=$((${h:-0} + ${mi:-0} - hprev[$b])) hprev[$b]=$((${h:-0} + ${mi:-0}))
		ms=$((${mi:-0} - mprev[$b])) mprev[$b]=${mi:-0}
		dwo=$((${dw:-0} - dprev[$b])) dprev[$b]=${dw:-0}
		awk -v a="${acpu[$b,$k]}" -v f="${fcpu[$k]}" -v r="$(rss_kib "${ag[$b]}")" \
			-v u="${ucpu[$b,$k]}" -v sc="$scn" -v sp="$scrape" -v lk="$lk" -v ms="$ms" -v dw="$dwo" \
			-v cb="$(m profd_symbol_cache_bytes)" -v cd="$(m profd_symbol_cache_dwarf_bytes)" \
			-v cf="$(m profd_symbol_cache_files)" -v cp="$(m profd_symbol_cache_processes)" \
			-v k="$k" -v b="$b" \
			'BEGIN { printf "%-10s %-6s %7.1fms %7.1fms %6d %8.1f %10.1f %9.1f %6d %6d %7.1fms %6.1fms %8d %7d %6d\n", "interval " k, b, a / 1e6, u * 1e3, sc, r / 1024, cb / 1048576, cd / 1048576, cf, cp, f / 1e6, sp / 1e6, lk, ms, dw }'
	done
	# BENCH_AGENT_PERF=FILE: perf record (DWARF call graphs: profd has no
	# frame pointers) of the last agent over the
	# steady intervals (3 to the end), for perf report -i FILE.
	if [ -n "${BENCH_AGENT_PERF:-}" ] && [ "$k" = 2 ] && [ "$N" -gt 2 ]; then
		perf record -q --call-graph dwarf,16384 -F "${BENCH_AGENT_PERF_HZ:-499}" -p "${ag[${names[-1]}]}" -o "$BENCH_AGENT_PERF" 2>/dev/null &
		pr=$!
		pids+=("$pr")
	fi
done
if [ -n "$pr" ]; then kill -INT "$pr" 2>/dev/null || true; wait "$pr" 2>/dev/null || true; fi
for b in "${names[@]}"; do kill -INT "${ag[$b]}" 2>/dev/null || true; done
kill -INT "$pf" 2>/dev/null || true
for b in "${names[@]}"; do wait "${ag[$b]}" 2>/dev/null || true; done
wait "$pf" 2>/dev/null || true
echo "-- load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"

# Steady: the intervals after the second (the first holds start-up, the
# second still fills the caches with processes first sampled late); CPU
# in ns from the process CPU clocks, the /metrics scrapes left out.
for b in "${names[@]}"; do
	a=() u=()
	for k in $(seq "$N"); do a+=("${acpu[$b,$k]}") u+=("${ucpu[$b,$k]}"); done
	awk -v n="$N" -v iv="$IV" -v a="${a[*]}" -v u="${u[*]}" -v f="${fcpu[*]}" -v su="${cready[$b]}" -v b="$b" 'BEGIN {
		split(a, A, " "); split(u, U, " "); split(f, F, " ")
		for (k = 3; k <= n; k++) { sa += A[k]; su2 += U[k]; sf += F[k]; m++ }
		if (!m) { print "steady state: needs BENCH_AGENT_INTERVALS >= 3"; exit }
		printf "%-6s first interval: profd %.3f s CPU (%.3f s of it start-up, unwinder %.3f s), perf %.3f s\n", b, A[1] / 1e9, su / 1e9, U[1], F[1] / 1e9
		printf "%-6s steady state at 99 Hz (intervals 3-%d, %d s): profd %.3f%% of one core (unwinder %.3f%%), perf record -a -g %.3f%%\n",
			b, n, m * iv, 100 * sa / 1e9 / (m * iv), 100 * su2 / (m * iv), 100 * sf / 1e9 / (m * iv)
	}'
	grep -o "unwind tables: .*" "$T/$b.log" | sed "s/^/$b   /" || true
	grep -E "error|warning" "$T/$b.log" | head -5 || true
done
