#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# `make test`: the unit tests (ASan+UBSan, $UNIT), then every suite with a
# tests/SUITE/run.sh (integration, kernels, ...; not bench), each ending with
# its closing line "SUITE: N passed, N failed, N skipped". Ends with one
# plain closing line over all of them: "N passed, N failed, N skipped".
# A suite that printed no closing line, or exited non-zero with no failure
# counted, counts one failure. Under CI=true a skip is a failure.
set -u
: "${UNIT:?}" "${PROFD:?}" "${WORKLOADS:?}"
here=$(cd "$(dirname "$0")" && pwd)
ci=${CI:-}
if [ "$(id -u)" != 0 ]; then
	echo "make test loads BPF programs: run it as root (sudo make test)." >&2
	echo "0 passed, 1 failed, 0 skipped"
	exit 1
fi
out=$(mktemp /tmp/profd-suite.XXXXXX)
trap 'rm -f "$out"' EXIT
P=0 F=0 S=0 bad=()

# suite NAME COMMAND...: run one suite and add up its closing line.
suite() {
	local name=$1 rc line p f s
	shift
	"$@" | tee "$out"
	rc=${PIPESTATUS[0]}
	line=$(grep -E "^$name: [0-9]+ passed, [0-9]+ failed, [0-9]+ skipped\$" "$out" | tail -1)
	if [ -z "$line" ]; then
		echo "$name: no closing line (exit status $rc): counted as 1 failure"
		F=$((F + 1)) bad+=("$name")
		return
	fi
	read -r p f s < <(sed -E 's/^[^:]*: ([0-9]+) passed, ([0-9]+) failed, ([0-9]+) skipped$/\1 \2 \3/' <<<"$line")
	if [ "$rc" != 0 ] && [ "$f" = 0 ]; then
		echo "$name: exit status $rc with no failure counted: counted as 1 failure"
		f=1
	fi
	if [ "$ci" = true ] && [ "$s" != 0 ]; then
		echo "$name: $s skipped under CI=true: counted as failures"
		f=$((f + s)) s=0
	fi
	[ "$f" = 0 ] || bad+=("$name")
	P=$((P + p)) F=$((F + f)) S=$((S + s))
}

suite unit "$UNIT"
for run in "$here"/*/run.sh; do
	name=$(basename "$(dirname "$run")")
	[ "$name" = bench ] && continue   # timings, not tests: `make bench`
	if [ "$name" = kernels ]; then
		# Guests run the plain build: ASan under an emulated CPU is too slow.
		PROFD=${KERNEL_PROFD:-$PROFD} suite "$name" bash "$run"
	else
		suite "$name" bash "$run"
	fi
done

echo
[ ${#bad[@]} -gt 0 ] && echo "suites with failures: ${bad[*]}"
echo "$P passed, $F failed, $S skipped"
[ "$F" = 0 ]
