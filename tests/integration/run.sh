#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Runs every test_* function of tests/integration/test_*.sh (or those whose
# name contains $TESTS), each in a subshell, and ends with the closing line
# "integration: N passed, N failed, N skipped". A test skips only through
# lib.sh's `skip REASON`; under CI=true a skip counts as a failure. Needs
# root: tests load BPF programs.
set -u
here=$(cd "$(dirname "$0")" && pwd)
passed=0 failed=0 skipped=0 failures=() skips=()
skip_file=$(mktemp /tmp/profd-skip.XXXXXX)
trap 'rm -f "$skip_file"' EXIT

for file in "$here"/test_*.sh; do
	tests=$(bash -c "source '$file'; declare -F" | awk '$3 ~ /^test_/ { print $3 }')
	for t in $tests; do
		[ -n "${TESTS:-}" ] && [[ $t != *"$TESTS"* ]] && continue
		start=$(date +%s)
		: >"$skip_file"
		(
			set -e
			export SKIP_FILE=$skip_file
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
		elif [ $rc = 77 ] && [ -s "$skip_file" ] && [ "${CI:-}" != true ]; then
			skipped=$((skipped + 1))
			skips+=("$t")
			echo "SKIP integration/$t (${secs}s): $(head -1 "$skip_file")"
		else
			failed=$((failed + 1))
			failures+=("$t")
			if [ $rc = 77 ] && [ -s "$skip_file" ]; then
				echo "FAIL integration/$t (${secs}s): skipped under CI=true: $(head -1 "$skip_file")"
			else
				echo "FAIL integration/$t (${secs}s)"
			fi
		fi
	done
done
[ $failed -gt 0 ] && echo "failed: ${failures[*]}"
[ $skipped -gt 0 ] && echo "skipped: ${skips[*]}"
echo "integration: $passed passed, $failed failed, $skipped skipped"
[ $failed = 0 ]
