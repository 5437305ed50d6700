#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# pymalloc probes (issue 15, heap): CPU ns per Python allocation+free
# (tests/workloads/pyheap.py churn: one object made and the previous one
# freed per iteration, the interpreter's loop included) without profd and
# with profd --type heap at the default rate, --python-allocator calls and
# arenas side by side, runs interleaved, on
#  - Debian's python3.11 (calls: the exported PyObject_*/PyMem_*, whose
#    inlined fast paths, str concatenation among them, cost nothing and are
#    unseen; arenas, its default: mmap@plt/munmap@plt);
#  - pyenv's 3.12 shared build when present (calls, its default: the
#    _PyObject_Malloc family, every request; arenas).
# KIND bytes: bytes(100), PyObject_Calloc(1, 133) + free; str: a 146-byte
# str concatenation, PyObject_Malloc(146) + free. The difference between the
# columns is what the probes add per pair.
set -eu
: "${PROFD:?}"
ROUNDS=${BENCH_ROUNDS:-3}
SECS=${BENCH_SECS:-2}
here=$(cd "$(dirname "$0")" && pwd)
PYHEAP=$here/../workloads/pyheap.py
T=$(mktemp -d /tmp/profd-bench.XXXXXX)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$T"' EXIT
[ -x /usr/bin/python3.11 ] || { echo "no /usr/bin/python3.11: nothing to measure" >&2; exit 1; }
pys=/usr/bin/python3.11
root=$(pyenv root 2>/dev/null || echo /root/.pyenv)
for v in "$root"/versions/3.12.*/bin/python3.12; do [ -x "$v" ] && pys+=" $v" && break; done

# run PYTHON KIND none|calls|arenas: ns per iteration.
run() {
	local py=$1 kind=$2 mode=$3 fifo=$T/gate out=$T/out pid ag=
	rm -f "$fifo"
	mkfifo "$fifo"
	"$py" "$PYHEAP" churn "$SECS" "$kind" gate <"$fifo" >"$out" &
	pid=$!
	exec 9>"$fifo"
	for _ in $(seq 50); do grep -q ready "$out" && break; sleep 0.1; done
	if [ "$mode" != none ]; then
		rm -f "$T/profd.err"
		"$PROFD" --pid "$pid" --type heap --python-allocator "$mode" --duration 120s \
			-o "$T/h.pb.gz" 2>"$T/profd.err" 9>&- &
		ag=$!
		for _ in $(seq 100); do grep -q profiling "$T/profd.err" && break; sleep 0.1; done
		grep -q "pymalloc probed" "$T/profd.err" || { cat "$T/profd.err" >&2; echo "pymalloc not probed" >&2; exit 1; }
	fi
	echo go >&9
	exec 9>&-
	wait "$pid"
	if [ -n "$ag" ]; then
		wait "$ag" || true
		grep -o "[0-9]* allocator calls" "$T/profd.err" >"$T/calls.$(basename "$py").$kind.$mode"
	fi
	sed -n 's/.*ns_per_object //p' "$out"
}

declare -A t
for _ in $(seq "$ROUNDS"); do
	for py in $pys; do
		for kind in bytes str; do
			for mode in none calls arenas; do
				t[$py:$kind:$mode]+="$(run "$py" "$kind" "$mode") "
			done
		done
	done
done
median() { tr ' ' '\n' | grep . | sort -g | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
echo "CPU ns per Python allocation+free (pyheap.py churn, ${SECS}s a run, $ROUNDS interleaved rounds; profd: --type heap, default rate, --python-allocator calls / arenas):"
printf '  %-44s %-6s %8s %8s %8s %8s %8s  %s\n' python kind none calls added arenas added "runs (none | calls | arenas)"
for py in $pys; do
	for kind in bytes str; do
		n=$(median <<<"${t[$py:$kind:none]}")
		c=$(median <<<"${t[$py:$kind:calls]}")
		a=$(median <<<"${t[$py:$kind:arenas]}")
		printf '  %-44s %-6s %8s %8s %8s %8s %8s  %s| %s| %s\n' "$py" "$kind" "$n" "$c" \
			"$(awk -v n="$n" -v p="$c" 'BEGIN { printf "%.1f", p - n }')" "$a" \
			"$(awk -v n="$n" -v p="$a" 'BEGIN { printf "%.1f", p - n }')" "${t[$py:$kind:none]}" \
			"${t[$py:$kind:calls]}" "${t[$py:$kind:arenas]}"
	done
done
echo "allocator calls profd counted in the last profd run of each (a call that costs nothing was not seen):"
for f in "$T"/calls.*; do echo "  ${f#"$T"/calls.}: $(cat "$f")"; done
