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
# for a longer steady window), BENCH_AGENT_CHURN (20: short processes
# started during one more interval, "churn", and the agent's CPU beyond the
# steady median per process; 0: none), BENCH_AGENT_CACHE (a [symbolize]
# cache_max_memory value, default: profd's), BENCH_AGENT_PERF=FILE (perf
# record of the last agent over the steady intervals). With PROFD_BEFORE
# (another build), both builds run at once on
# the same processes, so that the host's load weighs on both alike, and
# every figure is printed for each (rows "before" and "after"). Asserts
# nothing. The intervals are measured by agent_meter.py, one python3
# started before the first interval ends, so that the measuring starts no
# process the agents would have to scan and symbolize.
set -eu
: "${PROFD:?}" "${WORKLOADS:?}"
NPROCS=${BENCH_AGENT_PROCS:-100}
IV=${BENCH_AGENT_INTERVAL:-10}
N=${BENCH_AGENT_INTERVALS:-5}
CHURN=${BENCH_AGENT_CHURN:-20}
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
declare -A bin port ag tready cready
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
for b in "${names[@]}"; do
	awk -v t="$(echo "${tready[$b]} - $t0" | bc)" -v c="${cready[$b]}" \
		-v r="$(rss_kib "${ag[$b]}")" -v b="$b" \
		'BEGIN { printf "%-10s %-6s %7.1fms of CPU, RSS %.1f MiB (first interval began %.2f s after start)\n", "start-up", b, c / 1e6, r / 1024, t }'
done
# The intervals are measured from one long-lived python3 (agent_meter.py),
# which starts no process while the agents run their steady intervals.
agents=()
for b in "${names[@]}"; do agents+=("$b:${ag[$b]}:${port[$b]}"); done
python3 "$(dirname "$0")/agent_meter.py" iv="$IV" n="$N" t0="$tr" perf="$pf" \
	agents="$(IFS=,; echo "${agents[*]}")" perf_file="${BENCH_AGENT_PERF:-}" \
	perf_hz="${BENCH_AGENT_PERF_HZ:-499}" churn="$CHURN" workloads="$WORKLOADS"
for b in "${names[@]}"; do kill -INT "${ag[$b]}" 2>/dev/null || true; done
kill -INT "$pf" 2>/dev/null || true
for b in "${names[@]}"; do wait "${ag[$b]}" 2>/dev/null || true; done
wait "$pf" 2>/dev/null || true
echo "-- load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
for b in "${names[@]}"; do
	grep -o "unwind tables: .*" "$T/$b.log" | sed "s/^/$b   /" || true
	grep -E "error|warning" "$T/$b.log" | head -5 || true
done
