#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Python frames (issue 15): BPF run time per CPU sample of the .eh_frame
# walker (on_cpu_sample_dwarf, kernel.bpf_stats_enabled) when samples hold
# Python frames (Debian's python3.11 in pywork.py's "deep" mode: ~55 Python
# frames above ~12 native ones) against native-only samples of about the
# same depth (tests/workloads/unwind recurse: 60 C frames), every core busy
# with the workload, profiled host-wide at 99 Hz; plus the agent's CPU.
set -eu
: "${PROFD:?}" "${WORKLOADS:?}"
SECS=${BENCH_SECS:-15}
PYDEPTH=${BENCH_PYDEPTH:-52}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
T=$(mktemp -d /tmp/profd-bench.XXXXXX)
old_stats=$(sysctl -n kernel.bpf_stats_enabled)
trap 'kill $(jobs -p) 2>/dev/null || true; sysctl -qw kernel.bpf_stats_enabled="$old_stats"; rm -rf "$T"' EXIT
ncpu=$(nproc)
[ -x /usr/bin/python3.11 ] || { echo "no /usr/bin/python3.11: nothing to measure" >&2; exit 1; }

cpu_ticks() { awk '{ sub(/.*\) /, ""); print $12 + $13 }' "/proc/$1/stat"; }

# prog_ids NAME: ids of the loaded BPF programs of that name (other profd
# instances may run on this machine: the bench's own is the one that appears)
prog_ids() {
	bpftool prog show -j | python3 -c '
import json, sys
print(" ".join(str(p["id"]) for p in json.load(sys.stdin)
               if p.get("name") in (sys.argv[1], sys.argv[1][:15])))' "$1"
}

# run_stats ID: "run_time_ns run_cnt" of program ID
run_stats() {
	bpftool prog show id "$1" -j | python3 -c '
import json, sys
p = json.load(sys.stdin)
print(p.get("run_time_ns", 0), p.get("run_cnt", 0))'
}

sysctl -qw kernel.bpf_stats_enabled=1
hz=$(getconf CLK_TCK)
for mode in python native; do
	for _ in $(seq "$ncpu"); do
		if [ $mode = python ]; then
			/usr/bin/python3.11 "$root/tests/workloads/pywork.py" deep $((SECS + 10)) "$PYDEPTH" >/dev/null &
		else
			"$WORKLOADS/unwind" recurse >/dev/null &
		fi
	done
	sleep 1
	before=" $(prog_ids on_cpu_sample_dwarf) "
	"$PROFD" --duration "${SECS}s" --frequency 99 --unwind=dwarf --output "$T/$mode.pb.gz" \
		2>"$T/$mode.err" &
	ag=$!
	sleep 3
	id=
	for i in $(prog_ids on_cpu_sample_dwarf); do
		[[ $before == *" $i "* ]] || id=$i
	done
	[ -n "$id" ] || { echo "profd's on_cpu_sample_dwarf not found" >&2; exit 1; }
	c0=$(cpu_ticks $ag)
	read -r ns0 cnt0 < <(run_stats $id)
	sleep $((SECS - 5))
	c1=$(cpu_ticks $ag)
	read -r ns1 cnt1 < <(run_stats $id)
	wait $ag
	kill $(jobs -p) 2>/dev/null || true
	wait 2>/dev/null || true
	# frames per sample of the workload's stacks (kernel and user, weighted
	# by time; samples from before profd found the process count too), and
	# how many of them are Python frames
	comm=unwind
	[ $mode = python ] && comm=python3.11
	depth=$(go tool pprof -traces "$T/$mode.pb.gz" 2>/dev/null | awk -v c="$comm" '
		function flush() { if (in_wl && n_fr) { s += w; fr += w * n_fr; py += w * n_py } }
		/^-+\+/ { flush(); in_wl = 0; n_fr = 0; n_py = 0; next }
		$1 == "comm:" && $2 == c { in_wl = 1; next }
		/^ *[a-z]+: / { next }
		NF >= 2 && $1 ~ /^[0-9.]+(ns|us|ms|s)$/ {   # first frame: the weight
			w = $1 + 0; if ($1 ~ /us$/) w /= 1000; else if ($1 ~ /ns$/) w /= 1e6
			else if ($1 ~ /[^m]s$/) w *= 1000 }
		NF { n_fr++; if ($NF ~ /^pywork\./) n_py++ }
		END { flush(); printf "%.1f %.1f", s ? fr / s : 0, s ? py / s : 0 }')
	awk -v m=$mode -v hz="$hz" -v c0="$c0" -v c1="$c1" -v w=$((SECS - 5)) -v ns=$((ns1 - ns0)) \
		-v cnt=$((cnt1 - cnt0)) -v d="$depth" 'BEGIN {
		split(d, a, " ")
		printf "%-7s BPF %.0f ns per sample (%d samples), %s frames per sample (%s Python), %.0f ns per frame; agent CPU %.3f%% of one core (steady)\n",
			m, cnt ? ns / cnt : 0, cnt, a[1], a[2], (cnt && a[1] > 0) ? ns / cnt / a[1] : 0, 100 * (c1 - c0) / hz / w
	}' | tee -a "$T/summary"
done
awk '{ for (i = 1; i <= NF; i++) if ($i == "BPF") v[$1] = $(i + 1) }
	END { if (v["native"] > 0) printf "BPF time per sample, Python / native of about the same depth: %.2fx\n", v["python"] / v["native"] }' "$T/summary"
