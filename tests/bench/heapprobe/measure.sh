#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# measure.sh: price uprobes per hit on this kernel (root). Builds heapbench,
# probe_cost and its BPF object into $OUT, copies libc there so the probes
# touch only the benchmark (uprobes are per inode: probing the system libc
# would slow every process on the machine), then prints one row per
# configuration: median ns per op bare and probed, and the difference.
#   OUT=dir RUNS=5 ITERS=200000 bash tests/bench/heapprobe/measure.sh [section...]
# Sections: stubs ret libc alloc preload (default: all). preload runs the
# naive and the designed probe sets against each of jemalloc, tcmalloc and
# mimalloc that is installed, LD_PRELOAD'ed into heapbench.
set -euo pipefail
cd "$(dirname "$0")/../../.."
OUT=${OUT:-.output/bench/heapprobe}
RUNS=${RUNS:-5}
ITERS=${ITERS:-200000}
SRC=tests/bench/heapprobe
mkdir -p "$OUT/lib"

cc -O2 -Wall -Wextra -o "$OUT/heapbench" $SRC/heapbench.c -ldl
clang -g -O2 -target bpf -D__TARGET_ARCH_x86 -Wall -Ibpf/vmlinux/x86 \
	-c $SRC/probe_cost.bpf.c -o "$OUT/probe_cost.bpf.o"
cc -O2 -Wall -Wextra -Idaemon -o "$OUT/probe_cost" $SRC/probe_cost.c \
	daemon/collect/attach_point.c $(pkg-config --libs libbpf libelf)
LIBC=$(ldd "$OUT/heapbench" | awk '/libc.so.6/ {print $3}')
cp -f "$LIBC" "$OUT/lib/libc.so.6"
STDCXX=$(ldconfig -p | awk '/libstdc\+\+.so.6 .*x86-64/ {print $NF; exit}')
[ -n "$STDCXX" ] && cp -f "$STDCXX" "$OUT/lib/libstdc++.so.6"
export LD_LIBRARY_PATH=$(realpath "$OUT/lib")
B=$(realpath "$OUT/heapbench")
L=$LD_LIBRARY_PATH/libc.so.6
X=$LD_LIBRARY_PATH/libstdc++.so.6

# "median min" of the numbers on stdin: the machine is shared, so the
# minimum is the better estimate of the intrinsic cost, the median of what
# a busy machine sees.
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)], a[1]}'; }

# bare ITERS-independent ns per op of "heapbench ARGS"
bare() {
	for _ in $(seq "$RUNS"); do "$B" "$@" | sed -n 's/.*ns_per_op=//p'; done | median
}

# row LABEL "probe_cost args" heapbench-args...
row() {
	local label=$1 pargs=$2 b p pmin hits
	shift 2
	b=$(bare "$@" | cut -d' ' -f2)
	read -r p pmin < <(for _ in $(seq "$RUNS"); do
		"$OUT/probe_cost" -o "$OUT/probe_cost.bpf.o" $pargs -- "$B" "$@" 2>/dev/null |
			sed -n 's/.*ns_per_op=//p'
	done | median)
	hits=$("$OUT/probe_cost" -o "$OUT/probe_cost.bpf.o" $pargs -- "$B" "$@" 2>&1 |
		sed -n 's/^probe_cost: //p' | tr '\n' ' ')
	printf '%-44s bare %6.1f  probed median %8.1f min %8.1f  delta(min) %8.1f ns/op  %s\n' \
		"$label" "$b" "$p" "$pmin" "$(awk -v a="$pmin" -v b="$b" 'BEGIN {print a - b}')" "$hits"
}

SECTIONS=${*:-stubs ret libc alloc preload}
uname -r
for s in $SECTIONS; do
	case $s in
	stubs)
		echo "## entry uprobe on a function starting with <insn>"
		for st in push push_r12 jcc jmp call nop1 nop3 nop8 nop5 test mov sub riprel endbr ret; do
			row "stub:$st" "-p $B:hb_$st" stub:$st "$ITERS"
		done ;;
	ret)
		echo "## return probes (function starts with push: entry emulated)"
		row "uprobe (perf)" "-p $B:hb_push" stub:push "$ITERS"
		row "uprobe (uprobe_multi link)" "-m multi -p $B:hb_push" stub:push "$ITERS"
		row "uretprobe only" "-m ret -p $B:hb_push" stub:push "$ITERS"
		row "uprobe + uretprobe" "-m both -p $B:hb_push" stub:push "$ITERS"
		row "session, return never" "-n 0 -m session -p $B:hb_push" stub:push "$ITERS"
		row "session, return always" "-n 1 -m session -p $B:hb_push" stub:push "$ITERS"
		row "session, return 1/64" "-n 64 -m session -p $B:hb_push" stub:push "$ITERS" ;;
	libc)
		echo "## glibc malloc(64)+free pairs, probes in $L"
		row "malloc+0 (push %r12)" "-p $L:malloc" pair "$ITERS"
		row "malloc+2 (push %rbp)" "-p $L:malloc+2" pair "$ITERS"
		row "malloc+4 (mov %rdi,%rbx)" "-p $L:malloc+4" pair "$ITERS"
		row "malloc+11 (cmpb \$0,rip)" "-p $L:malloc+11" pair "$ITERS"
		row "malloc+18 (je rel32)" "-p $L:malloc+18" pair "$ITERS"
		row "malloc uretprobe" "-m ret -p $L:malloc" pair "$ITERS"
		row "free+0 (test %rdi,%rdi)" "-p $L:free" pair "$ITERS"
		row "free+3 (je rel32)" "-p $L:free+3" pair "$ITERS"
		row "NAIVE malloc entry+ret, free entry" "-m both -p $L:malloc -m entry -p $L:free" pair "$ITERS"
		row "DESIGN session malloc+auto n=0, free+auto" \
			"-n 0 -m session -p $L:malloc+auto -m multi -p $L:free+auto" pair "$ITERS"
		row "DESIGN session n=8192 (512KiB/64B)" \
			"-n 8192 -m session -p $L:malloc+auto -m multi -p $L:free+auto" pair "$ITERS"
		row "DESIGN session n=1 (every call sampled)" \
			"-n 1 -m session -p $L:malloc+auto -m multi -p $L:free+auto" pair "$ITERS" ;;
	alloc)
		echo "## other entry points"
		row "calloc+0 (push %r13)" "-p $L:calloc" calloc "$ITERS"
		row "realloc+0 (push %r15)" "-p $L:realloc" realloc "$ITERS"
		if [ -n "$STDCXX" ]; then
			row "operator new entry (endbr64)" "-p $X:_Znwm" new "$ITERS"
			row "operator new+auto" "-p $X:_Znwm+auto" new "$ITERS"
			row "operator delete entry (endbr64)" "-p $X:_ZdlPv" new "$ITERS"
			row "operator delete+auto (jmp free@plt)" "-p $X:_ZdlPv+auto" new "$ITERS"
		fi ;;
	preload)
		for lib in libjemalloc.so.2 libtcmalloc_minimal.so.4 libmimalloc.so.2; do
			src=/usr/lib/x86_64-linux-gnu/$lib
			[ -r "$src" ] || { echo "## $lib not installed, skipped"; continue; }
			cp -f "$src" "$OUT/lib/$lib"
			A=$LD_LIBRARY_PATH/$lib
			echo "## $lib malloc(64)+free pairs (LD_PRELOAD)"
			export LD_PRELOAD=$A
			row "$lib malloc+0" "-p $A:malloc" pair "$ITERS"
			row "$lib free+0" "-p $A:free" pair "$ITERS"
			row "$lib malloc+auto" "-p $A:malloc+auto" pair "$ITERS"
			row "$lib free+auto" "-p $A:free+auto" pair "$ITERS"
			row "$lib NAIVE" "-m both -p $A:malloc -m entry -p $A:free" pair "$ITERS"
			row "$lib DESIGN n=8192" \
				"-n 8192 -m session -p $A:malloc+auto -m multi -p $A:free+auto" pair "$ITERS"
			unset LD_PRELOAD
		done ;;
	*) echo "unknown section $s" >&2; exit 2 ;;
	esac
done
