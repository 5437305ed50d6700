#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# `make bench`: every tests/bench/bench_*.sh (or those matching $BENCH).
# Benchmarks print measured ratios; they are not tests and assert nothing
# about timing.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
[ "$(id -u)" = 0 ] || { echo "make bench loads BPF programs: run it as root" >&2; exit 1; }
for b in "$here"/bench_*.sh; do
	[ -n "${BENCH:-}" ] && [[ $(basename "$b") != *"$BENCH"* ]] && continue
	echo "== $(basename "$b" .sh)"
	bash "$b"
done
