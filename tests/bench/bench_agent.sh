#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The agent's own cost in continuous mode (issue 17): profd profiles the
# whole host at 99 Hz (types = cpu) with ~100 extra processes spawned here
# (long-lived shells, python3 and perl waking up a few times a second, so
# that most of them are sampled and symbolized, and sleeps), and perf record -a -g at
# 99 Hz runs over the same time. Printed per interval: each one's CPU time
# and profd's RSS and symbol cache at its end (from /metrics), the first
# interval (start-up included) against the steady ones, and the steady state
# in % of one core. Knobs: BENCH_AGENT_PROCS (100), BENCH_AGENT_INTERVAL
# (seconds, 10), BENCH_AGENT_INTERVALS (5), BENCH_AGENT_CACHE (a
# [symbolize] cache_max_memory value, default: profd's). Asserts nothing.
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
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
metric() { curl -s "http://127.0.0.1:$port/metrics" | awk -v k="$1" '$1 == k { print $2 }'; }

cat >"$T/profd.ini" <<EOF
[profd]
interval = ${IV}s
types = cpu
output_dir = $T/out
[cpu]
frequency = 99
[http]
listen = 127.0.0.1:$port
EOF
if [ -n "${BENCH_AGENT_CACHE:-}" ]; then
	printf '[symbolize]\ncache_max_memory = %s\n' "$BENCH_AGENT_CACHE" >>"$T/profd.ini"
fi

spawn
sleep 2
echo "-- $(ls /proc | grep -c '^[0-9]') processes on the host ($NPROCS spawned), $(nproc) cores, load $(cut -d' ' -f1 /proc/loadavg)"
echo "-- profd continuous, types = cpu at 99 Hz, interval ${IV}s, $N intervals; perf record -a -g -F 99 alongside"
t0=$(date +%s.%N)
"$PROFD" --config "$T/profd.ini" 2>"$T/profd.log" &
ag=$!
perf record -q -e cpu-clock -F 99 -a -g -o "$T/perf.data" 2>/dev/null &
pf=$!
pids+=("$ag" "$pf")

# Wait for the first interval to begin (profilers attached: the log says
# so), then sample at each interval's end plus 1.5 s (profiles written).
for _ in $(seq 600); do
	grep -q "profiling continuously" "$T/profd.log" && break
	if ! kill -0 "$ag" 2>/dev/null; then
		echo "profd exited:" >&2
		cat "$T/profd.log" >&2
		exit 1
	fi
	sleep 0.05
done
tr=$(date +%s.%N)
a_ready=$(cpu_ticks "$ag")
printf '%-10s %9s %8s %10s %9s %6s %6s %9s\n' "" "profd CPU" "RSS MiB" "cache MiB" "DWARF MiB" "files" "pids" "perf CPU"
awk -v t="$(echo "$tr - $t0" | bc)" -v c="$a_ready" -v hz="$hz" -v r="$(rss_kib "$ag")" \
	'BEGIN { printf "%-10s %8.3fs %8.1f   (first interval began %.2f s after start)\n", "start-up", c / hz, r / 1024, t }'
a_prev=0 f_prev=0
declare -a acpu fcpu
for k in $(seq "$N"); do
	target=$(echo "$tr + $k * $IV + 1.5" | bc)
	now=$(date +%s.%N)
	sleep "$(echo "if ($target > $now) $target - $now else 0" | bc)"
	a=$(cpu_ticks "$ag") f=$(cpu_ticks "$pf")
	acpu[$k]=$((a - a_prev)) fcpu[$k]=$((f - f_prev))
	curl -s "http://127.0.0.1:$port/metrics" >"$T/metrics"
	m() { awk -v k="$1" '$1 == k { print $2 }' "$T/metrics"; }
	awk -v a="${acpu[$k]}" -v f="${fcpu[$k]}" -v hz="$hz" -v r="$(rss_kib "$ag")" \
		-v cb="$(m profd_symbol_cache_bytes)" -v cd="$(m profd_symbol_cache_dwarf_bytes)" \
		-v cf="$(m profd_symbol_cache_files)" -v cp="$(m profd_symbol_cache_processes)" -v k="$k" \
		'BEGIN { printf "%-10s %8.3fs %8.1f %10.1f %9.1f %6d %6d %8.3fs\n", "interval " k, a / hz, r / 1024, cb / 1048576, cd / 1048576, cf, cp, f / hz }'
	a_prev=$a f_prev=$f
done
kill -INT "$ag" "$pf" 2>/dev/null || true
wait "$ag" 2>/dev/null || true
wait "$pf" 2>/dev/null || true

# Steady: the intervals after the second (the first holds start-up, the
# second still fills the caches with processes first sampled late).
awk -v n="$N" -v iv="$IV" -v hz="$hz" -v a="${acpu[*]}" -v f="${fcpu[*]}" -v su="$a_ready" 'BEGIN {
	split(a, A, " "); split(f, F, " ")
	for (k = 3; k <= n; k++) { sa += A[k]; sf += F[k]; m++ }
	if (!m) { print "steady state: needs BENCH_AGENT_INTERVALS >= 3"; exit }
	printf "first interval: profd %.3f s CPU (%.3f s of it start-up), perf %.3f s\n", A[1] / hz, su / hz, F[1] / hz
	printf "steady state at 99 Hz (intervals 3-%d): profd %.3f%% of one core, perf record -a -g %.3f%%\n",
		n, 100 * sa / hz / (m * iv), 100 * sf / hz / (m * iv)
}'
grep -E "error|warning" "$T/profd.log" | head -5 || true
