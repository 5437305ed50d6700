# SPDX-License-Identifier: Apache-2.0
# Kernel-matrix tests that the integration suite has in a size too big for
# an emulated guest. The rest of the matrix (tests/kernels/matrix) runs the
# integration tests themselves. Sourced after tests/integration/lib.sh.

# heap live bytes at the default-rate test's accuracy (±15%), sized for
# TCG, where every uprobe hit costs tens of microseconds: 64 MiB live in
# 4 KiB blocks and 256 MiB churned in 8 KiB blocks (48k calls), sampled
# every 64 KiB (~1000 live samples, as the integration test has).
test_km_heap_live_bytes() {
	require_root
	start_gated_workload heap_mix 64 256 1
	run_profd_bg --pid "$WL_PID" --type heap --heap-sample-rate 65536 --duration 120s -o "$T/heap.pb.gz"
	release_workload
	wait "$PROFD_PID" || { cat "$T/profd.err" >&2; fail "profd exited non-zero"; }
	top=$(pprof -top -unit=B "$T/heap.pb.gz")
	echo "$top" | head -9 | sed 's/^/    | /' >&2
	assert_contains "$top" "Type: inuse_space" "heap default sample type"
	live=$(to_bytes "$(flat_value keep_live <<<"$top")")
	assert_near "$live" 67108864 10066330 "keep_live inuse_space (bytes, truth 64 MiB ±15%)"
	atop=$(pprof -top -unit=B -sample_index=alloc_space "$T/heap.pb.gz")
	churn=$(to_bytes "$(flat_value churn <<<"$atop")")
	assert_near "$churn" 268435456 40265318 "churn alloc_space (bytes, truth 256 MiB ±15%)"
	assert_contains "$(cat "$T/profd.err")" "lost: 0 live-map full" "no live-map losses"
}

# The CPU split of test_cpu_split_exe_and_library (70/30 within ±5 points),
# as the share of burn_main in burn_main + lib_burn: in an emulated guest
# the timer interrupts that take the samples cost several percent of the
# CPU in kernel frames, which the integration test (on real hardware)
# counts against burn_main's flat%.
test_km_cpu_split() {
	require_root
	start_workload cpu_split 120 70 # outlives profd's start-up; stopped at the end
	"$PROFD" --pid "$WL_PID" --type cpu --duration 6s --frequency 499 --output "$T/cpu.pb.gz" \
		2>"$T/profd.err" || { cat "$T/profd.err" >&2; fail "profd failed"; }
	top=$(pprof -top -nodecount=30 "$T/cpu.pb.gz")
	echo "$top" | sed -n '/flat%/,+5p' | sed 's/^/    | /' >&2
	assert_contains "$top" "Type: cpu" "profile type"
	assert_near "$(flat_ratio burn_main lib_burn <<<"$top")" 70 5 "burn_main/(burn_main+lib_burn) flat"
	assert_ge "$(cum_pct main <<<"$top")" 95 "main cum%"
	raw=$(pprof -raw "$T/cpu.pb.gz")
	bid=$(readelf -n "$WORKLOADS/libburn.so" | awk '/Build ID/ { print $3 }')
	assert_contains "$raw" "$bid" "libburn build id"
	assert_contains "$(cat "$T/profd.err")" "lost: .* user stacks" "loss summary"
}

# test_cpu_host_wide with a workload that outlives profd's start-up, which
# takes seconds under an emulated CPU (the walker's tables of every process):
# a workload gone before profd reads its mappings has no symbols.
test_km_cpu_host_wide() {
	require_root
	start_workload cpu_split 120 50
	"$PROFD" --duration 6s --frequency 499 --output "$T/host.pb.gz" 2>"$T/profd.err" ||
		{ cat "$T/profd.err" >&2; fail "profd failed"; }
	tags=$(pprof -tags "$T/host.pb.gz")
	assert_contains "$tags" " $WL_PID\$" "workload pid among labels"
	top=$(pprof -top -tagfocus="pid=$WL_PID" -nodecount=20 "$T/host.pb.gz")
	echo "$top" | sed -n '/flat%/,+4p' | sed 's/^/    | /' >&2
	assert_near "$(flat_ratio burn_main lib_burn <<<"$top")" 50 5 "burn_main/(burn_main+lib_burn) within the workload"
	n=$(awk '/^ *comm:/ { on = 1; next } /^ *[a-z]+:/ { on = 0 } on && NF' <<<"$tags" | wc -l)
	assert_ge "$n" 2 "distinct process names"
	assert_not_contains "$tags" "swapper" "idle task"
}

# Continuous mode (test_agent.sh's helpers): profiles written per process
# and interval, pushed to the loopback Pyroscope receiver exactly once, a
# profile served at /debug/pprof/profile, /metrics counting them. Sized for
# an emulated CPU: long-lived workloads, generous waits.
test_km_continuous() {
	require_root
	source "$LIB_DIR/test_agent.sh"
	receiver_start 0 "$T/recv"
	cat >"$T/profd.ini" <<EOF
[profd]
interval = 3s
output_dir = $T/out
group_by = process
[upload]
url = http://127.0.0.1:$RECV_PORT
spool_dir = $T/spool
timeout = 10s
[http]
listen = 127.0.0.1:0
EOF
	start_workload cpu_split 300 70
	local w=$WL_PID base top f m
	agent_start "$T/profd.ini"
	wait_for 120 "two profiles of the workload" have_profiles 2 "$T/out" "$w"
	f=$(ls "$T/out/cpu_split/$w/"cpu-*.pb.gz | sed -n 2p)
	top=$(pprof -top -nodecount=10 "$f")
	assert_contains "$top" "Type: cpu" "profile type on disk"
	assert_near "$(flat_ratio burn_main lib_burn <<<"$top")" 70 10 "burn_main share in an interval's profile"
	wait_for 120 "two uploads of the workload" eval '[ "$(requests_of "$T/recv" "$w")" -ge 2 ]'
	base="http://127.0.0.1:$AG_PORT/debug/pprof"
	top=$(pprof -timeout=180 -top -nodecount=10 "$base/profile?pid=$w&seconds=3")
	assert_contains "$top" "Type: cpu" "HTTP profile type"
	assert_near "$(flat_ratio burn_main lib_burn <<<"$top")" 70 10 "burn_main share over HTTP"
	m=$(metrics)
	assert_ge "$(metric profd_profiles_written_total <<<"$m")" 2 "profiles written (/metrics)"
	assert_ge "$(metric 'profd_http_requests_total{outcome="profile"}' <<<"$m")" 1 "HTTP profiles (/metrics)"
	agent_stop
	python3 - "$T/recv/requests.jsonl" "$w" <<'PY' || fail "push contract violated"
import json, sys
reqs = [json.loads(l) for l in open(sys.argv[1])]
bad = [r for r in reqs if r["method"] != "POST" or r["errors"]
       or r.get("labels", {}).get("__name__") != "process_cpu"
       or r.get("sample_types") != [["samples", "count"], ["cpu", "nanoseconds"]]]
mine = [r for r in reqs if r.get("labels", {}).get("pid") == sys.argv[2]]
print(f"    {len(reqs)} push requests, {len(mine)} of the workload, {len(bad)} bad", file=sys.stderr)
sys.exit(1 if bad or not mine else 0)
PY
	exactly_once "$T/recv" "$T/out"
}

# test_unwind_new_process_picked_up with time for an emulated CPU: the
# workload starts once profd profiles host-wide (its start-up loads every
# process's tables, seconds under TCG), and profd runs 20 s after that; at
# least 40% of the workload's samples must be complete, as there.
test_km_new_process_picked_up() {
	require_root
	local pp i
	"$PROFD" --duration 25s --frequency 199 --output "$T/u.pb.gz" 2>"$T/profd.err" &
	pp=$!
	for i in $(seq 300); do
		grep -qs "profiling" "$T/profd.err" && break
		sleep 0.1
	done
	grep -qs "profiling" "$T/profd.err" || { cat "$T/profd.err" >&2; fail "profd did not start"; }
	start_workload unwind qsort
	wait $pp || { cat "$T/profd.err" >&2; fail "profd failed"; }
	pprof -raw "$T/u.pb.gz" >"$T/u.raw"
	unwind_check sort_loop 'cmp_spin|msort_with_tmp|__mem|.*@plt$|_int_free$|free$|mix$' main 40
}
