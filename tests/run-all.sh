#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# `make test`: unit tests (ASan+UBSan) then integration tests (root, real
# BPF), with one closing line counting both.
set -u
: "${UNIT:?}" "${PROFD:?}" "${WORKLOADS:?}"
here=$(cd "$(dirname "$0")" && pwd)
if [ "$(id -u)" != 0 ]; then
	echo "make test loads BPF programs: run it as root (sudo make test)." >&2
	echo "0 passed, 1 failed"
	exit 1
fi
out=$(mktemp)
"$UNIT" | tee "$out"
bash "$here/integration/run.sh" | tee -a "$out"
read -r up uf < <(sed -n 's/^unit: \([0-9]*\) passed, \([0-9]*\) failed$/\1 \2/p' "$out")
read -r ip if_ is < <(sed -n 's/^integration: \([0-9]*\) passed, \([0-9]*\) failed, \([0-9]*\) skipped$/\1 \2 \3/p' "$out")
rm -f "$out"
# A suite that printed no closing line crashed: count it as a failure.
p=$(( ${up:-0} + ${ip:-0} ))
f=$(( ${uf:-1} + ${if_:-1} ))
echo
echo "$p passed, $f failed, ${is:-0} skipped"
[ "$f" = 0 ]
