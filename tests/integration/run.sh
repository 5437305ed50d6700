#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Runs every test_* function of tests/integration/test_*.sh (or those whose
# name contains $TESTS), each in a subshell, and ends with the closing line
# "integration: N passed, N failed". Needs root: tests load BPF programs.
set -u
here=$(cd "$(dirname "$0")" && pwd)
passed=0 failed=0 skipped=0 failures=()

for file in "$here"/test_*.sh; do
	tests=$(bash -c "source '$file'; declare -F" | awk '$3 ~ /^test_/ { print $3 }')
	for t in $tests; do
		[ -n "${TESTS:-}" ] && [[ $t != *"$TESTS"* ]] && continue
		start=$(date +%s)
		(
			set -e
			source "$here/lib.sh"
			source "$file"
			trap 'stop_workloads; rm -rf "$T"' EXIT
			"$t"
		)
		rc=$?
		secs=$(($(date +%s) - start))
		if [ $rc = 0 ]; then
			passed=$((passed + 1))
			echo "ok   integration/$t (${secs}s)"
		elif [ $rc = 77 ]; then
			skipped=$((skipped + 1))
			echo "SKIP integration/$t (${secs}s)"
		else
			failed=$((failed + 1))
			failures+=("$t")
			echo "FAIL integration/$t (${secs}s)"
		fi
	done
done
[ $failed -gt 0 ] && echo "failed: ${failures[*]}"
echo "integration: $passed passed, $failed failed, $skipped skipped"
[ $failed = 0 ]
