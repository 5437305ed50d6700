#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The agent's own cost in continuous mode (issue 17): profd profiles the
# whole host at 99 Hz (types = cpu) with ~100 extra processes spawned here
# (long-lived shells, python3 and perl waking up a few times a second, so
# that most of them are sampled and symbolized, and sleeps), and perf record -a -g at
# 99 Hz runs over the same time. Printed per interval: each one's CPU time,
# the unwinder's share of it (scans of /proc/PID/maps, table builds and
# uploads, event handling: /metrics profd_unwind_cpu_seconds_total) and its
# scans, and profd's RSS and symbol cache at its end (from /metrics); the
# first interval (start-up included) against the steady ones, and the steady
# state in % of one core. Knobs: BENCH_AGENT_PROCS (100),
# BENCH_AGENT_INTERVAL (seconds, 10), BENCH_AGENT_INTERVALS (5),
# BENCH_AGENT_CACHE (a [symbolize] cache_max_memory value, default:
# profd's). With PROFD_BEFORE (another build), both builds run at once on
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

cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0; }
rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0; }
hz=$(getconf CLK_TCK)
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# The agents: "after" runs $PROFD; "before" $PROFD_BEFORE when set.
names=()
declare -A bin port ag tready cready aprev acpu uprev ucpu sprev
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
# written).
for _ in $(seq 600); do
	all=1
	for b in "${names[@]}"; do
		if [ -z "${tready[$b]:-}" ] && grep -q "profiling continuously" "$T/$b.log"; then
			tready[$b]=$(date +%s.%N) cready[$b]=$(cpu_ticks "${ag[$b]}")
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
printf '%-10s %-6s %9s %9s %6s %8s %10s %9s %6s %6s %9s\n' "" "" "profd CPU" "unwinder" "scans" "RSS MiB" "cache MiB" "DWARF MiB" "files" "pids" "perf CPU"
for b in "${names[@]}"; do
	awk -v t="$(echo "${tready[$b]} - $t0" | bc)" -v c="${cready[$b]}" -v hz="$hz" \
		-v r="$(rss_kib "${ag[$b]}")" -v b="$b" \
		'BEGIN { printf "%-10s %-6s %8.3fs %26.1f   (first interval began %.2f s after start)\n", "start-up", b, c / hz, r / 1024, t }'
	aprev[$b]=0 uprev[$b]=0 sprev[$b]=0
done
f_prev=0
declare -a fcpu
m() { awk -v k="$1" '$1 == k { print $2 }' "$T/metrics"; }
for k in $(seq "$N"); do
	target=$(echo "$tr + $k * $IV + 1.5" | bc)
	now=$(date +%s.%N)
	sleep "$(echo "if ($target > $now) $target - $now else 0" | bc)"
	f=$(cpu_ticks "$pf")
	fcpu[$k]=$((f - f_prev)) f_prev=$f
	for b in "${names[@]}"; do
		a=$(cpu_ticks "${ag[$b]}")
		acpu[$b,$k]=$((a - aprev[$b])) aprev[$b]=$a
		curl -s "http://127.0.0.1:${port[$b]}/metrics" >"$T/metrics"
		# The unwinder's own CPU (scans, table builds, events) and scans.
		u=$(m profd_unwind_cpu_seconds_total) sc=$(m profd_unwind_scans_total)
		ucpu[$b,$k]=$(echo "${u:-0} - ${uprev[$b]}" | bc) uprev[$b]=${u:-0}
		scn=$((${sc:-0} - sprev[$b])) sprev[$b]=${sc:-0}
		awk -v a="${acpu[$b,$k]}" -v f="${fcpu[$k]}" -v hz="$hz" -v r="$(rss_kib "${ag[$b]}")" \
			-v u="${ucpu[$b,$k]}" -v sc="$scn" \
			-v cb="$(m profd_symbol_cache_bytes)" -v cd="$(m profd_symbol_cache_dwarf_bytes)" \
			-v cf="$(m profd_symbol_cache_files)" -v cp="$(m profd_symbol_cache_processes)" \
			-v k="$k" -v b="$b" \
			'BEGIN { printf "%-10s %-6s %8.3fs %8.3fs %6d %8.1f %10.1f %9.1f %6d %6d %8.3fs\n", "interval " k, b, a / hz, u, sc, r / 1024, cb / 1048576, cd / 1048576, cf, cp, f / hz }'
	done
done
for b in "${names[@]}"; do kill -INT "${ag[$b]}" 2>/dev/null || true; done
kill -INT "$pf" 2>/dev/null || true
for b in "${names[@]}"; do wait "${ag[$b]}" 2>/dev/null || true; done
wait "$pf" 2>/dev/null || true
echo "-- load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"

# Steady: the intervals after the second (the first holds start-up, the
# second still fills the caches with processes first sampled late).
for b in "${names[@]}"; do
	a=() u=()
	for k in $(seq "$N"); do a+=("${acpu[$b,$k]}") u+=("${ucpu[$b,$k]}"); done
	awk -v n="$N" -v iv="$IV" -v hz="$hz" -v a="${a[*]}" -v u="${u[*]}" -v f="${fcpu[*]}" -v su="${cready[$b]}" -v b="$b" 'BEGIN {
		split(a, A, " "); split(u, U, " "); split(f, F, " ")
		for (k = 3; k <= n; k++) { sa += A[k]; su2 += U[k]; sf += F[k]; m++ }
		if (!m) { print "steady state: needs BENCH_AGENT_INTERVALS >= 3"; exit }
		printf "%-6s first interval: profd %.3f s CPU (%.3f s of it start-up, unwinder %.3f s), perf %.3f s\n", b, A[1] / hz, su / hz, U[1], F[1] / hz
		printf "%-6s steady state at 99 Hz (intervals 3-%d): profd %.3f%% of one core (unwinder %.3f%%), perf record -a -g %.3f%%\n",
			b, n, 100 * sa / hz / (m * iv), 100 * su2 / (m * iv), 100 * sf / hz / (m * iv)
	}'
	grep -o "unwind tables: .*" "$T/$b.log" | sed "s/^/$b   /" || true
	grep -E "error|warning" "$T/$b.log" | head -5 || true
done
