#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Runs inside the guest, chrooted into the host's root (tests/kernels/init.sh):
# the matrix cells listed in $RES/cells, each test in its own bash like
# tests/integration/run.sh does, with the host's build of profd. Writes
# "CELL ok|FAIL SECONDS" lines to $RES/results and each cell's output to
# $RES/logs/. Environment (from job.sh): RES, SRC (the repository),
# PROFD, WORKLOADS, TEST_TIMEOUT.
set -u
: "${RES:?}" "${SRC:?}" "${PROFD:?}" "${WORKLOADS:?}"
mkdir -p "$RES/logs" /tmp/km
# Emulated CPUs: longer cpu_split slices (see tests/workloads/cpu_split.c).
export CPU_SPLIT_SLICE_SCALE=10
echo "kernel $(uname -r)" >"$RES/guest-info"

# profd with --unwind=MODE added: the NAME@MODE tests of the matrix.
for mode in dwarf fp; do
	printf '#!/bin/sh\nexec %q --unwind=%s "$@"\n' "$PROFD" "$mode" >/tmp/km/profd-$mode
	chmod +x /tmp/km/profd-$mode
done

# file_of FUNC: the test file that defines FUNC.
file_of() {
	grep -l "^$1() {" "$SRC"/tests/integration/test_*.sh "$SRC"/tests/kernels/tests.sh | head -1
}

run_one() {
	local spec=$1 fn mode prof file
	fn=${spec%@*}
	mode=
	[ "$fn" != "$spec" ] && mode=${spec#*@}
	prof=$PROFD
	[ -n "$mode" ] && prof=/tmp/km/profd-$mode
	file=$(file_of "$fn")
	[ -n "$file" ] || { echo "    FAIL: no test function $fn"; return 1; }
	echo "--- $spec"
	PROFD=$prof WORKLOADS=$WORKLOADS timeout -k 5 "$TEST_TIMEOUT" bash -c '
		set -e
		source "$1/tests/integration/lib.sh"
		source "$2"
		trap "stop_workloads; rm -rf \"\$T\"" EXIT
		"$3"' _ "$SRC" "$file" "$fn"
	local rc=$?
	[ $rc = 124 ] && echo "    FAIL: $spec timed out after ${TEST_TIMEOUT}s"
	return $rc
}

while read -r cell tests; do
	start=$(date +%s)
	log=$RES/logs/${cell//\//_}.log
	status=ok retried=
	for t in $tests; do
		run_one "$t" >>"$log" 2>&1 && continue
		# An emulated CPU stalls for whole seconds at times: a failed test
		# runs once more, and its first failure stays in the log, printed
		# with the cell's result either way.
		echo "    RETRY: $t failed once; running it again" >>"$log"
		retried=" retried"
		run_one "$t" >>"$log" 2>&1 || status=FAIL
	done
	echo "$cell $status $(($(date +%s) - start))$retried" >>"$RES/results"
	sync
done <"$RES/cells"
