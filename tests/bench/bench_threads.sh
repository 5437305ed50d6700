#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# threads snapshot (issue 14) of a 1,000-thread process (threads_mix: 1000
# sleepers and a spinner), medians of ROUNDS runs:
#  1. one-shot `profd --type threads` (cold: a fresh agent builds its unwind
#     tables and symbol caches): BPF walk time, user-stack time, wall time
#     and profd's peak RSS; and the spinner's CPU time during each run, to
#     show the target kept running (nothing stops it);
#  2. warm snapshots, as continuous mode takes them every interval (types =
#     threads, interval 1s): walk and user-stack times from /metrics, the
#     iterator program's BPF run time per thread (kernel.bpf_stats_enabled),
#     and the agent's peak RSS.
# Target: a 1,000-thread snapshot under 50 ms (walk + user stacks, warm).
set -eu
: "${PROFD:?}" "${WORKLOADS:?}"
ROUNDS=${BENCH_ROUNDS:-5}
NTHREADS=${BENCH_THREADS:-1000}
T=$(mktemp -d /tmp/profd-bench.XXXXXX)
STATS0=$(sysctl -n kernel.bpf_stats_enabled 2>/dev/null || echo 0)
trap 'kill $(jobs -p) 2>/dev/null || true; sysctl -qw kernel.bpf_stats_enabled="$STATS0" 2>/dev/null || true; rm -rf "$T"' EXIT

median() { sort -g | awk '{ a[NR] = $1 } END { if (NR) print a[int((NR + 1) / 2)]; else print "?" }'; }

"$WORKLOADS/threads_mix" "$NTHREADS" 0 0 0 1 >"$T/ready" &
WL=$!
for i in $(seq 200); do grep -q ready "$T/ready" 2>/dev/null && break; sleep 0.05; done
grep -q ready "$T/ready" || { echo "threads_mix did not start" >&2; exit 1; }
SPIN=$(for d in /proc/$WL/task/*; do [ "$(cat "$d/comm")" = spinner ] && echo "${d##*/}"; done)
NT=$(ls /proc/$WL/task | wc -l)
HZ=$(getconf CLK_TCK)

for r in $(seq "$ROUNDS"); do
	u0=$(awk '{ print $14 }' "/proc/$WL/task/$SPIN/stat")
	t0=$(date +%s%N)
	/usr/bin/time -f "rss %M" "$PROFD" --pid "$WL" --type threads --output "$T/t.pb.gz" 2>"$T/err"
	t1=$(date +%s%N)
	u1=$(awk '{ print $14 }' "/proc/$WL/task/$SPIN/stat")
	sed -n 's/.*walk \([0-9.]*\) ms + user stacks \([0-9.]*\) ms.*/\1 \2/p' "$T/err" >>"$T/cold"
	sed -n 's/^rss \([0-9]*\)/\1/p' "$T/err" >>"$T/rss"
	echo "$(((t1 - t0) / 1000000)) $(((u1 - u0) * 1000 / HZ))" >>"$T/wall"
done
echo "one-shot, cold ($NT threads, $ROUNDS runs, medians):"
echo "  BPF walk            $(awk '{ print $1 }' "$T/cold" | median) ms"
echo "  user stacks         $(awk '{ print $2 }' "$T/cold" | median) ms  (first use: unwind tables, symbols)"
echo "  profd wall          $(awk '{ print $1 }' "$T/wall" | median) ms (load, snapshot, symbolize, write)"
echo "  profd peak RSS      $(($(median <"$T/rss") / 1024)) MiB"
echo "  spinner CPU during  $(awk '{ print $2 }' "$T/wall" | median) ms  (the target kept running)"

cat >"$T/profd.ini" <<EOF2
[profd]
interval = 1s
types = threads
output_dir = $T/out
[http]
listen = 127.0.0.1:0
EOF2
sysctl -qw kernel.bpf_stats_enabled=1 2>/dev/null || true
"$PROFD" --config "$T/profd.ini" --pid "$WL" 2>"$T/agent.err" &
AG=$!
for i in $(seq 100); do grep -qs "serving /debug/pprof/" "$T/agent.err" && break; sleep 0.1; done
PORT=$(sed -n 's|.*serving /debug/pprof/ and /metrics on http://[^ ]*:\([0-9][0-9]*\)/.*|\1|p' "$T/agent.err" | tail -1)
last=0
: >"$T/warm"
for i in $(seq $((ROUNDS * 20 + 40))); do
	m=$(curl -sf "http://127.0.0.1:$PORT/metrics" || true)
	n=$(sed -n 's/^profd_threads_snapshots_total \([0-9]*\)/\1/p' <<<"$m")
	if [ -n "$n" ] && [ "$n" != "$last" ] && [ "$n" -gt 1 ]; then # the first one is cold
		w=$(sed -n 's/^profd_threads_last_snapshot_walk_microseconds //p' <<<"$m")
		s=$(sed -n 's/^profd_threads_last_snapshot_stacks_microseconds //p' <<<"$m")
		echo "$w $s" >>"$T/warm"
	fi
	last=${n:-0}
	[ "$(wc -l <"$T/warm" 2>/dev/null || echo 0)" -ge "$ROUNDS" ] && break
	sleep 0.25
done
prog=$(bpftool prog show name threads_iter 2>/dev/null | head -1 || true)
rt=$(sed -n 's/.*run_time_ns \([0-9]*\) run_cnt \([0-9]*\).*/\1 \2/p' <<<"$prog")
hwm=$(awk '/^VmHWM/ { print int($2 / 1024) }' "/proc/$AG/status")
kill -TERM "$AG"; wait "$AG" || true
echo "continuous, warm ($NT threads, $(wc -l <"$T/warm") snapshots, medians):"
echo "  BPF walk            $(awk '{ printf "%.3f\n", $1 / 1000 }' "$T/warm" | median) ms"
echo "  user stacks         $(awk '{ printf "%.3f\n", $2 / 1000 }' "$T/warm" | median) ms"
echo "  snapshot            $(awk '{ printf "%.3f\n", ($1 + $2) / 1000 }' "$T/warm" | median) ms  (target: < 50 ms)"
if [ -n "$rt" ]; then
	awk -v t="${rt% *}" -v c="${rt#* }" 'BEGIN { if (c > 0) printf "  iterator BPF time   %.2f us per thread visited (%d visits)\n", t / c / 1000, c }'
fi
echo "  agent peak RSS      $hwm MiB"
kill "$WL"
