#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# .eh_frame unwinding (issue 7), with every core busy in glibc's qsort
# (deep stacks without frame pointers, tests/workloads/unwind.c):
#  1. profd's CPU time profiling the whole host at 99 Hz, --unwind=dwarf vs fp;
#  2. BPF run time per sample of each sampler (kernel.bpf_stats_enabled);
#  3. build time, rows and kernel memory of the tables of libc, of the
#     largest shared library on the machine, and of libLLVM-14 (~100 MB).
set -eu
: "${PROFD:?}" "${WORKLOADS:?}"
SECS=${BENCH_SECS:-15}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
T=$(mktemp -d /tmp/profd-bench.XXXXXX)
old_stats=$(sysctl -n kernel.bpf_stats_enabled)
trap 'kill $(jobs -p) 2>/dev/null; sysctl -qw kernel.bpf_stats_enabled="$old_stats"; rm -rf "$T"' EXIT
ncpu=$(nproc)

busy() { for _ in $(seq "$ncpu"); do "$WORKLOADS/unwind" qsort >/dev/null & done; }

# cpu_ticks PID: utime + stime of a process, in clock ticks
cpu_ticks() { awk '{ sub(/.*\) /, ""); print $12 + $13 }' "/proc/$1/stat"; }

# run_stats PROG-NAME: "run_time_ns run_cnt" of the loaded program
run_stats() {
	bpftool prog show -j | python3 -c '
import json, sys
for p in json.load(sys.stdin):
    if p.get("name") in (sys.argv[1], sys.argv[1][:15]):
        print(p.get("run_time_ns", 0), p.get("run_cnt", 0))
        break
else:
    print(0, 0)' "$1"
}

echo "-- profd at 99 Hz on every CPU for ${SECS}s, $ncpu cores busy in qsort (no frame pointers)"
busy
sleep 1
sysctl -qw kernel.bpf_stats_enabled=1
hz=$(getconf CLK_TCK)
for mode in dwarf fp; do
	name=on_cpu_sample
	[ $mode = dwarf ] && name=on_cpu_sample_dwarf
	"$PROFD" --duration "${SECS}s" --frequency 99 --unwind=$mode --output "$T/$mode.pb.gz" \
		2>"$T/$mode.err" &
	ag=$!
	# startup (BPF verification, first tables) apart from the steady state
	sleep 3
	c0=$(cpu_ticks $ag)
	read -r ns0 cnt0 < <(run_stats $name)
	sleep $((SECS - 5))
	c1=$(cpu_ticks $ag)
	read -r ns1 cnt1 < <(run_stats $name)
	wait $ag
	# share of the workload's samples whose stack reaches _start
	full=$(go tool pprof -traces "$T/$mode.pb.gz" 2>/dev/null | awk '
		/^-+\+/ { if (in_wl) { n++; if (last == "_start") ok++ } in_wl = 0; next }
		/comm:  unwind$/ { in_wl = 1 } NF { last = $NF }
		END { printf "%.1f", n ? 100 * ok / n : 0 }')
	awk -v m=$mode -v hz="$hz" -v c0="$c0" -v c1="$c1" -v w=$((SECS - 5)) -v ns=$((ns1 - ns0)) \
		-v cnt=$((cnt1 - cnt0)) -v f="$full" 'BEGIN {
		printf "%-5s agent CPU %.3f%% of one core (steady), %.2f s in the first 3 s; BPF %.0f ns per sample (%d samples); %s%% of the workload'\''s stacks reach _start\n",
			m, 100 * (c1 - c0) / hz / w, c0 / hz, cnt ? ns / cnt : 0, cnt, f
	}' | tee -a "$T/summary"
	grep "unwind tables:" "$T/$mode.err" | sed 's/^profd: /      /' || true
done
kill $(jobs -p) 2>/dev/null || true
wait 2>/dev/null || true
awk '{ for (i = 1; i <= NF; i++) if ($i == "BPF") v[$1] = $(i + 1) }
	END { if (v["fp"] > 0) printf "BPF time per sample, dwarf / fp: %.2fx\n", v["dwarf"] / v["fp"] }' "$T/summary"

echo "-- unwind tables: build time and kernel memory"
cc -D_GNU_SOURCE -O2 -I"$root/include" -I"$root/daemon" "$here/unwind_tables.c" \
	"$root"/.output/obj/daemon/unwind/{cfi,elf,table}.o -lbpf -lelf -lz -o "$T/unwind_tables"
libc=$(ldd "$WORKLOADS/unwind" | awk '/libc.so/ { print $3 }')
largest=$(find /usr/lib /usr/lib64 /lib -xdev -type f -name '*.so*' -printf '%s %p\n' 2>/dev/null |
	sort -rn | head -1 | cut -d' ' -f2)
llvm=$(ls /usr/lib/x86_64-linux-gnu/libLLVM-14.so.1 /usr/lib/llvm-14/lib/libLLVM-14.so.1 2>/dev/null | head -1 || true)
for f in "$libc" "$largest" ${llvm:+"$llvm"}; do
	echo "$(du -h --apparent-size "$(readlink -f "$f")" | cut -f1) $("$T/unwind_tables" "$f")"
done | awk '!seen[$0]++'
