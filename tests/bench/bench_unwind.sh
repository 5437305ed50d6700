#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# .eh_frame unwinding (issue 7), with every core busy in glibc's qsort
# (deep stacks without frame pointers, tests/workloads/unwind.c):
#  1. profd's CPU time profiling the whole host at 99 Hz, --unwind=dwarf vs fp;
#  2. BPF run time per sample and per frame of the walker and of the
#     kernel's frame-pointer walk on the same stack (a 16-frame chain of
#     distinct functions built with frame pointers, tests/workloads/fpdeep.c,
#     and the walker again on the same program without frame pointers,
#     fpdeep_nofp.c), side by side: one agent per sampler running at once on
#     the same samples (kernel.bpf_stats_enabled run_time_ns / run_cnt of
#     each agent's own program, minus its runs that filtered the sample out,
#     priced by an agent that filters everything), at depths 11 and 1 (the
#     difference gives the cost per frame); with PROFD_BEFORE=another build,
#     that build's walker too. UNWIND_BENCH=sbs runs this part only; at
#     UNWIND_HZ (997), UNWIND_SECS per run, medians of UNWIND_ROUNDS
#     interleaved rounds (UNWIND_VERBOSE=1 prints every round);
#  3. build time, rows and kernel memory of the tables of libc, of the
#     largest shared library on the machine, and of libLLVM-14 (~100 MB).
set -eu
: "${PROFD:?}" "${WORKLOADS:?}"
SECS=${BENCH_SECS:-15}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
T=$(mktemp -d /tmp/profd-bench.XXXXXX)
old_stats=$(sysctl -n kernel.bpf_stats_enabled)
trap 'kill $(jobs -p) 2>/dev/null || true; sysctl -qw kernel.bpf_stats_enabled="$old_stats"; rm -rf "$T"' EXIT
ncpu=$(nproc)

busy() { for _ in $(seq "$ncpu"); do "$WORKLOADS/unwind" qsort >/dev/null & done; }

# cpu_ticks PID: utime + stime of a process, in clock ticks
cpu_ticks() { awk '{ sub(/.*\) /, ""); print $12 + $13 }' "/proc/$1/stat"; }

# prog_ids AGENT-PID: ids of the CPU samplers that agent loaded (other
# profd instances on the host have programs of the same name)
prog_ids() {
	local id
	for id in $(grep -h '^prog_id:' /proc/"$1"/fdinfo/* 2>/dev/null | awk '{ print $2 }' | sort -u); do
		bpftool prog show id "$id" 2>/dev/null | grep -q ' name on_cpu_sample' && echo "$id"
	done
	return 0
}

# run_stats PROG-ID...: "run_time_ns run_cnt" summed over those programs
# (one at a time: a listing of every program fails when one of them goes
# away meanwhile; fast, so that agents read one after the other see the
# same samples)
run_stats() {
	local id
	for id in "$@"; do bpftool prog show id "$id" 2>/dev/null | head -1; done | awk '
		{ for (i = 1; i < NF; i++) { if ($i == "run_time_ns") ns += $(i + 1); if ($i == "run_cnt") cnt += $(i + 1) } }
		END { printf "%d %d\n", ns, cnt }'
}

# raw_stats PROFILE: "samples mean-frames" of a profile's samples
raw_stats() {
	go tool pprof -raw "$1" 2>/dev/null | awk '
		/^Samples:/ { on = 1; next } /^Locations/ { on = 0 }
		on && $2 ~ /:$/ { n += $1; f += $1 * (NF - 2) }
		END { printf "%d %.2f\n", n, n ? f / n : 0 }'
}

# bench_map PROG-ID NAME: id of the map NAME the program uses
bench_map() {
	local m
	for m in $(bpftool prog show id "$1" -j 2>/dev/null | python3 -c '
import json, sys
print(" ".join(str(m) for m in json.load(sys.stdin).get("map_ids", [])))'); do
		bpftool map show id "$m" 2>/dev/null | grep -q " name $2 " && { echo "$m"; return 0; }
	done
	return 0
}

# bench_time MAP-ID: "ns count" summed over CPUs (bpf/cpu.bpf.c bench_time)
bench_time() {
	bpftool map dump id "$1" -j 2>/dev/null | python3 -c '
import json, sys
ns = cnt = 0
for e in json.load(sys.stdin):
    for v in e.get("formatted", e).get("values", []):
        ns += v["value"]["ns"]; cnt += v["value"]["cnt"]
print(ns, cnt)' 2>/dev/null || echo 0 0
}

# side_by_side WORKLOAD DEPTH SUFFIX COL...: every core busy in WORKLOAD
# DEPTH; one agent per column at once, on the same samples: dwarf and fp
# (this build's walker and the kernel's frame-pointer walk), "dwarf<" (the
# walker of PROFD_BEFORE), and the walker of each build in
# PROFD_VARIANTS="column=path ..." (experiments, e.g. builds with
# -DUNW_X_*). Each program times its kept samples itself once bench_on is
# set (cpu.bpf.c; bpf_ktime_get_ns at entry and exit: the filter, comm,
# walk, interning and counting). Prints "COL+SUFFIX ns-per-sample
# mean-frames samples" lines.
side_by_side() {
	local wlname=$1 depth=$2 sfx=$3 pids="" col bin mode wl=() ags=() i id on
	shift 3
	local cols=("$@")
	for _ in $(seq "$ncpu"); do
		nice -n -19 "$WORKLOADS/$wlname" "$depth" >/dev/null &
		wl+=($!)
	done
	for p in "${wl[@]}"; do pids="$pids --pid $p"; done
	declare -A bins=()
	if [ -n "${PROFD_BEFORE:-}" ]; then cols+=("dwarf<") && bins["dwarf<"]=$PROFD_BEFORE; fi
	for v in ${PROFD_VARIANTS:-}; do cols+=("${v%%=*}") && bins["${v%%=*}"]=${v#*=}; done
	for col in "${cols[@]}"; do
		bin=${bins[$col]:-$PROFD} mode=dwarf
		[ "$col" = fp ] && mode=fp
		# above the workloads' priority: a start-up (verification, tables)
		# starved by them would take long
		# shellcheck disable=SC2086
		nice -n -20 "$bin" $pids --duration 10m --unwind="$mode" --frequency "$SBS_HZ" \
			--output "$T/sbs-$col.pb.gz" 2>"$T/sbs-$col.err" &
		ags+=($!)
	done
	for col in "${cols[@]}"; do
		for _ in $(seq 300); do
			grep -q '^profd: profiling' "$T/sbs-$col.err" 2>/dev/null && break
			sleep 0.1
		done
		grep -q '^profd: profiling' "$T/sbs-$col.err" ||
			{ echo "agent $col did not start:" >&2; cat "$T/sbs-$col.err" >&2; exit 1; }
	done
	local tms=()
	for i in "${!cols[@]}"; do
		id=$(prog_ids "${ags[$i]}")
		on=$(bench_map "$id" bench_on)
		[ -n "$on" ] || { echo "${cols[$i]}: no bench_on map (a build older than this benchmark)" >&2; exit 1; }
		tms+=("$(bench_map "$id" bench_time)")
	done
	# timing starts on every agent at (nearly) the same moment
	for i in "${!cols[@]}"; do
		bpftool map update id "$(bench_map "$(prog_ids "${ags[$i]}")" bench_on)" key 0 0 0 0 value 1 0 0 0
	done
	sleep "$SBS_SECS"
	for i in "${!cols[@]}"; do echo "${cols[$i]} $(bench_time "${tms[$i]}")"; done >"$T/sbs-stats"
	kill -INT "${ags[@]}"
	wait "${ags[@]}" 2>/dev/null || true
	kill "${wl[@]}" 2>/dev/null || true
	wait "${wl[@]}" 2>/dev/null || true
	for col in "${cols[@]}"; do
		read -r _ ns cnt < <(grep "^$col " "$T/sbs-stats")
		read -r _ frames < <(raw_stats "$T/sbs-$col.pb.gz")
		awk -v c="$col$sfx" -v ns="$ns" -v cnt="$cnt" -v f="$frames" \
			'BEGIN { printf "%s %.0f %s %d\n", c, cnt ? ns / cnt : 0, f, cnt }'
	done
}

sysctl -qw kernel.bpf_stats_enabled=1
# UNWIND_BENCH=sbs: only the side-by-side BPF cost (part 2)
if [ "${UNWIND_BENCH:-}" != sbs ]; then
echo "-- profd at 99 Hz on every CPU for ${SECS}s, $ncpu cores busy in qsort (no frame pointers)"
busy
sleep 1
hz=$(getconf CLK_TCK)
for mode in dwarf fp; do
	"$PROFD" --duration "${SECS}s" --frequency 99 --unwind=$mode --output "$T/$mode.pb.gz" \
		2>"$T/$mode.err" &
	ag=$!
	# startup (BPF verification, first tables) apart from the steady state
	sleep 3
	c0=$(cpu_ticks $ag)
	ids=$(prog_ids $ag)
	# shellcheck disable=SC2086
	read -r ns0 cnt0 < <(run_stats $ids)
	sleep $((SECS - 5))
	c1=$(cpu_ticks $ag)
	# shellcheck disable=SC2086
	read -r ns1 cnt1 < <(run_stats $ids)
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
fi

# Part 2 runs at UNWIND_HZ (997 by default: at 99 Hz each sample finds
# cold caches and a run takes few samples, and two runs differed by 2x) for
# UNWIND_SECS each, UNWIND_ROUNDS rounds of the four runs interleaved;
# each figure is the median over the rounds (ns per sample, mean frames).
SBS_HZ=${UNWIND_HZ:-997}
SBS_SECS=${UNWIND_SECS:-10}
ROUNDS=${UNWIND_ROUNDS:-3}
echo "-- BPF time per sample: the walker and the frame-pointer walk on the same samples, at ${SBS_HZ} Hz,"
echo "   ${SBS_SECS}s per run, medians of $ROUNDS interleaved rounds, $ncpu cores busy in fpdeep DEPTH (frame pointers;"
echo "   the walker also on fpdeep_nofp, rows -nofp, its own run), DEPTH 11 (deep) and 1 (shallow); load $(cut -d' ' -f1-3 /proc/loadavg)"
for r in $(seq "$ROUNDS"); do
	for depth in 11 1; do
		side_by_side fpdeep $depth "" dwarf fp | sed "s/^/$depth $r /" >>"$T/sbs"
		side_by_side fpdeep_nofp $depth -nofp dwarf | sed "s/^/$depth $r /" >>"$T/sbs"
	done
done
echo "   load after: $(cut -d' ' -f1-3 /proc/loadavg)"
# $T/sbs: "DEPTH ROUND COL ns frames samples"
awk 'function med(a, n,   i, j, t) { for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j - 1] > a[j]; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
		return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2 }
	{ d = $1 == 11 ? "deep" : "shallow"; c = $3; m = ++cnt[d, c]; v[d, c, m] = $4; f[d, c, m] = $5; k[d, c] += $6
	  lo[d, c] = (m == 1 || $4 < lo[d, c]) ? $4 : lo[d, c]; hi[d, c] = (m == 1 || $4 > hi[d, c]) ? $4 : hi[d, c]
	  if (!(c in cols)) { cols[c] = 1; order[++nc] = c } }
	END {
		for (j = 1; j <= nc; j++) for (dd = 0; dd < 2; dd++) {
			d = dd ? "shallow" : "deep"; c = order[j]; n = cnt[d, c]
			delete a; for (i = 1; i <= n; i++) a[i] = v[d, c, i]; ns[d, c] = med(a, n)
			delete a; for (i = 1; i <= n; i++) a[i] = f[d, c, i]; fr[d, c] = med(a, n)
		}
		printf "  %-12s %10s %13s %7s %9s %10s %7s\n", "", "ns/sample", "(range)", "frames", "ns/frame", "shallow", "frames"
		for (j = 1; j <= nc; j++) {
			c0 = order[j]
			pf = (fr["deep", c0] - fr["shallow", c0]) ? (ns["deep", c0] - ns["shallow", c0]) / (fr["deep", c0] - fr["shallow", c0]) : 0
			printf "  %-12s %10.0f %13s %7.1f %9.0f %10.0f %7.1f   (%d and %d samples)\n", c0, ns["deep", c0],
				sprintf("%d-%d", lo["deep", c0], hi["deep", c0]), fr["deep", c0], pf,
				ns["shallow", c0], fr["shallow", c0], k["deep", c0], k["shallow", c0]
		}
		if (ns["deep", "fp"] > 0) {
			printf "  walker / fp walk per sample, deep stack: %.2fx", ns["deep", "dwarf"] / ns["deep", "fp"]
			if (ns["deep", "dwarf<"] > 0) printf " (before: %.2fx)", ns["deep", "dwarf<"] / ns["deep", "fp"]
			if (ns["deep", "dwarf-nofp"] > 0) printf "; on fpdeep_nofp: %.2fx", ns["deep", "dwarf-nofp"] / ns["deep", "fp"]
			if (ns["deep", "dwarf<-nofp"] > 0) printf " (before: %.2fx)", ns["deep", "dwarf<-nofp"] / ns["deep", "fp"]
			print ""
		}
	}' "$T/sbs"
# the per-round figures, for the record
awk '{ printf "   round %s depth %-2s %-12s %6d ns %5.1f frames %6d samples\n", $2, $1, $3, $4, $5, $6 }' "$T/sbs" |
	sort -k2,2n -k4,4nr >"$T/sbs-rounds"
[ -n "${UNWIND_VERBOSE:-}" ] && cat "$T/sbs-rounds"

[ "${UNWIND_BENCH:-}" = sbs ] && exit 0
echo "-- unwind tables: build time and kernel memory"
cc -D_GNU_SOURCE -O2 -I"$root/include" -I"$root/daemon" "$here/unwind_tables.c" \
	"$root"/.output/obj/daemon/unwind/{build,cfi,elf,table}.o \
	"$root"/.output/obj/daemon/binary/{ehframe,elf,file}.o -lbpf -lelf -lz -o "$T/unwind_tables"
libc=$(ldd "$WORKLOADS/unwind" | awk '/libc.so/ { print $3 }')
largest=$(find /usr/lib /usr/lib64 /lib -xdev -type f -name '*.so*' -printf '%s %p\n' 2>/dev/null |
	sort -rn | head -1 | cut -d' ' -f2)
llvm=$(ls /usr/lib/x86_64-linux-gnu/libLLVM-14.so.1 /usr/lib/llvm-14/lib/libLLVM-14.so.1 2>/dev/null | head -1 || true)
for f in "$libc" "$largest" ${llvm:+"$llvm"}; do
	echo "$(du -h --apparent-size "$(readlink -f "$f")" | cut -f1) $("$T/unwind_tables" "$f")"
done | awk '!seen[$0]++'
