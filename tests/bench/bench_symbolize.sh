#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Symbolization cost (issue 6): time and peak RSS to symbolize a CPU profile
# that touches a large C++ binary with full debug info, first with a new
# symbolizer (cold: symbols parsed, DWARF found, mapped and indexed), then
# cached, then for a second process running a copy of the binary (shared by
# build id), then without the result cache (every frame through the index).
#
# The binary is built once into $BENCH_DIR (default .output/bench-symbolize):
# two generated translation units (one heavy on the STL, one with
# always-inline chains) compiled with -O2 -g, each copied $COPIES times with
# its global symbols renamed (objcopy --redefine-syms), then linked: many
# compile units, ~10^5 functions and a few hundred MB of DWARF without
# compiling for an hour. Knobs: BENCH_SYM_COPIES, BENCH_SYM_SAMPLES,
# BENCH_SYM_DEPTH. The page cache is left warm (this machine is shared);
# BENCH_DROP_CACHES=1 drops it before the cold run.
#
# Results: the driver checks that every phase gives the same chains, and
# the script compares them, address by address, with those of the sources
# of BENCH_SYM_BASE (default 10fd425, the last revision before issue 17's
# symbolizer work; "" skips), whose driver is built once into
# $BENCH_DIR/base-REV from `git archive`. A difference fails the bench.
# BENCH_SYM_ROUNDS (below) compares the cold phases of the two drivers.
set -eu
: "${PROFD:?}"
OUT=$(cd "$(dirname "$PROFD")" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
COPIES=${BENCH_SYM_COPIES:-32}
SAMPLES=${BENCH_SYM_SAMPLES:-20000}
DEPTH=${BENCH_SYM_DEPTH:-8}
D=${BENCH_DIR:-$OUT/bench-symbolize}
mkdir -p "$D"

gen_heavy() {
	echo '#include <algorithm>'
	echo '#include <map>'
	echo '#include <string>'
	echo '#include <vector>'
	echo 'template <typename T> struct Acc { std::map<std::string, T> m;'
	echo '  __attribute__((always_inline)) inline void add(const std::string &s, T v) { m[s] += v; } };'
	awk 'BEGIN { for (i = 0; i < 150; i++)
		printf "extern \"C\" int heavy_f%d(int x) { Acc<int> a; std::vector<int> v(x %% 7 + 1, x + %d);" \
		       " std::sort(v.begin(), v.end()); a.add(std::to_string(x + %d), v[0]);" \
		       " return (int)a.m.size() + %d; }\n", i, i, i, i }'
}

gen_light() {
	echo '#include <map>'
	echo '#include <string>'
	echo 'static inline __attribute__((always_inline)) unsigned leaf(unsigned x) { return x * 2654435761u ^ (x >> 7); }'
	echo 'static inline __attribute__((always_inline)) unsigned mid(unsigned x) { return leaf(x + 1) + leaf(x ^ 3); }'
	echo 'std::map<std::string, int> light_table;'
	awk 'BEGIN { for (i = 0; i < 400; i++)
		printf "extern \"C\" __attribute__((noinline)) unsigned light_f%d(unsigned x) { unsigned s = %d;" \
		       " for (unsigned i = 0; i < x; i++) s += mid(i + s); light_table[\"k\"] += s; return s; }\n", i, i }'
}

if [ ! -x "$D/big" ] || [ ! -x "$D/big_copy" ]; then
	echo "-- building the test binary in $D (once)"
	t0=$(date +%s)
	gen_heavy >"$D/heavy.cc"
	gen_light >"$D/light.cc"
	printf '%s\n' '#include <cstdio>' \
		'int main() { char b[16]; std::printf("ready\n"); std::fflush(stdout);' \
		'  while (std::fgets(b, sizeof(b), stdin)) {} return 0; }' >"$D/main.cc"
	for u in heavy light main; do g++ -O2 -g -fno-pie -c "$D/$u.cc" -o "$D/$u.o"; done
	objs=()
	for u in heavy light; do
		for i in $(seq 1 "$COPIES"); do
			nm --defined-only -g "$D/$u.o" | awk -v s="_c$i" '$2 == "T" || $2 == "B" || $2 == "D" { print $3, $3 s }' >"$D/$u.map"
			objcopy --redefine-syms="$D/$u.map" "$D/$u.o" "$D/${u}_$i.o"
			objs+=("$D/${u}_$i.o")
		done
	done
	g++ -no-pie "$D/main.o" "${objs[@]}" -o "$D/big"
	rm -f "${objs[@]}"
	cp "$D/big" "$D/big_copy"
	echo "   built in $(($(date +%s) - t0)) s"
fi
size -A -d "$D/big" | awk '$1 ~ /^\.debug_/ { s += $2 } $1 == ".text" { t = $2 }
	END { printf "-- binary: .text %.1f MiB, DWARF %.1f MiB, ", t / 1048576, s / 1048576 }'
readelf --debug-dump=info "$D/big" 2>/dev/null | grep -c "DW_TAG_compile_unit" | awk '{ printf "%d compile units\n", $1 }'

# The driver goes through the objects `make` built for profd.
# Objects of the sources that exist now (not every .o under obj/: a file
# moved to another folder leaves its old object behind).
objs=$(cd "$root" && find daemon/binary daemon/symbolize daemon/pprof daemon/util daemon/python -name '*.c' |
	sed "s|^\(.*\)\.c\$|$OUT/obj/\1.o|")
cc -O2 -g -D_GNU_SOURCE -I"$root/include" -I"$root/daemon" -I"$OUT" -I"$OUT/pb" -I"$OUT/skel" \
	$(pkg-config --cflags libelf libdw libprotobuf-c) \
	"$here/bench_symbolize.c" "$OUT/obj/daemon/aggregate/frames.o" "$OUT/obj/daemon/agent/procinfo.o" \
	$objs "$OUT/obj/pb/profile.pb-c.o" \
	$(pkg-config --libs libbpf libelf libdw zlib libprotobuf-c) -llzma -lstdc++ -lm -o "$D/bench_symbolize"

# The reference: the same driver over the base revision's sources.
BASE=${BENCH_SYM_BASE-10fd425}
ref=""
if [ -n "$BASE" ] && git -C "$root" rev-parse -q --verify "$BASE^{commit}" >/dev/null; then
	B="$D/base-$BASE"
	if [ ! -x "$B/bench_symbolize" ]; then
		echo "-- building the reference driver from $BASE (once)"
		rm -rf "$B" && mkdir -p "$B/src"
		git -C "$root" archive "$BASE" daemon include | tar -x -C "$B/src"
		srcs=$(cd "$B/src" && find daemon/binary daemon/symbolize daemon/pprof daemon/util daemon/python -name '*.c' | sed "s|^|$B/src/|")
		# python/ calls agent/procinfo.c's parser since 7e598fe
		[ -f "$B/src/daemon/agent/procinfo.c" ] && srcs="$srcs $B/src/daemon/agent/procinfo.c"
		cc -O2 -g -D_GNU_SOURCE -I"$B/src/include" -I"$B/src/daemon" -I"$OUT" -I"$OUT/pb" -I"$OUT/skel" \
			$(pkg-config --cflags libelf libdw libprotobuf-c) \
			"$here/bench_symbolize.c" "$B/src/daemon/aggregate/frames.c" $srcs "$OUT/pb/profile.pb-c.c" \
			$(pkg-config --libs libbpf libelf libdw zlib libprotobuf-c) -llzma -lstdc++ -lm -o "$B/bench_symbolize.tmp" &&
			mv "$B/bench_symbolize.tmp" "$B/bench_symbolize"
	fi
	ref="$D/results-$BASE.txt"
	if [ ! -s "$ref" ]; then
		BENCH_SYM_DUMP="$ref.tmp" BENCH_SYM_DUMP_ONLY=1 "$B/bench_symbolize" "$D/big" "$D/big_copy" "$SAMPLES" "$DEPTH" >/dev/null &&
			mv "$ref.tmp" "$ref"
	fi
elif [ -n "$BASE" ]; then
	echo "-- no revision $BASE in this repository: results not compared with it"
fi

if [ "${BENCH_DROP_CACHES:-0}" = 1 ]; then
	sync
	echo 3 >/proc/sys/vm/drop_caches
	echo "-- page cache dropped"
fi
echo "-- symbolizing $SAMPLES samples x $DEPTH frames (us/frame = CPU time / all frames)"
# BENCH_SYM_ROUNDS=N (N > 1): the cold phase N times, before and now
# alternating, and the medians of CPU time and peak RSS (a shared machine
# varies from one run to the next; the load average is printed).
ROUNDS=${BENCH_SYM_ROUNDS:-1}
if [ -n "$ref" ] && [ "$ROUNDS" -gt 1 ]; then
	echo "-- cold phase, $ROUNDS rounds alternating, load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
	: >"$D/rounds-before.txt"
	: >"$D/rounds-now.txt"
	for _ in $(seq "$ROUNDS"); do
		BENCH_SYM_COLD_ONLY=1 "$D/base-$BASE/bench_symbolize" "$D/big" "$D/big_copy" "$SAMPLES" "$DEPTH" |
			awk '$1 == "cold" { print $5, $12 }' >>"$D/rounds-before.txt"
		BENCH_SYM_COLD_ONLY=1 "$D/bench_symbolize" "$D/big" "$D/big_copy" "$SAMPLES" "$DEPTH" |
			awk '$1 == "cold" { print $5, $12 }' >>"$D/rounds-now.txt"
	done
	for w in before now; do
		sort -n -k1,1 "$D/rounds-$w.txt" | awk -v w="$w" '{ c[NR] = $1 } END {
			printf "%-6s CPU median %.3f s (min %.3f, max %.3f)", w, (NR % 2 ? c[(NR + 1) / 2] : (c[NR / 2] + c[NR / 2 + 1]) / 2), c[1], c[NR] }'
		sort -n -k2,2 "$D/rounds-$w.txt" | awk '{ r[NR] = $2 } END {
			printf ", peak RSS median %.1f MiB (min %.1f, max %.1f)\n", (NR % 2 ? r[(NR + 1) / 2] : (r[NR / 2] + r[NR / 2 + 1]) / 2), r[1], r[NR] }'
	done
	echo "-- load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
fi
if [ -n "$ref" ]; then
	echo "-- before ($BASE's sources), cold phase only:"
	BENCH_SYM_COLD_ONLY=1 "$D/base-$BASE/bench_symbolize" "$D/big" "$D/big_copy" "$SAMPLES" "$DEPTH" | grep '^cold'
	echo "-- now:"
fi
BENCH_SYM_DUMP="$D/results-now.txt" "$D/bench_symbolize" "$D/big" "$D/big_copy" "$SAMPLES" "$DEPTH"
if [ -n "$ref" ]; then
	if cmp -s "$ref" "$D/results-now.txt"; then
		echo "results: identical to $BASE's, address by address ($(wc -l <"$ref") addresses)"
	else
		echo "results: DIFFER from $BASE's at $(diff "$ref" "$D/results-now.txt" | grep -c '^<') of $(wc -l <"$ref") addresses, e.g.:"
		diff "$ref" "$D/results-now.txt" | head -4
		exit 1
	fi
fi
