#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# `make demo`: profile a bundled workload (70% of its CPU in burn_main, 30%
# in lib_burn from a shared library) for 5 seconds and show it the way a Go
# user would: go tool pprof -top.
set -eu
out=${OUTPUT:-.output}
"$out/workloads/cpu_split" 8 70 >/dev/null &
wl=$!
trap 'kill $wl 2>/dev/null || true' EXIT
sleep 0.5
"$out/profd" --pid "$wl" --duration 5s --output "$out/demo-cpu.pb.gz"
echo
echo "\$ go tool pprof -top $out/demo-cpu.pb.gz"
HOME=${HOME:-/tmp} go tool pprof -top "$out/demo-cpu.pb.gz" 2>/dev/null
