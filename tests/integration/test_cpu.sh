# SPDX-License-Identifier: Apache-2.0
# CPU profiles (issue 2): real BPF on workloads with known ground truth, read
# back with `go tool pprof`.

# 70% of the CPU in burn_main (executable), 30% in lib_burn (libburn.so),
# by thread CPU time: flat shares must be within ±5 points.
test_cpu_split_exe_and_library() {
	require_root
	start_workload cpu_split 12 70
	"$PROFD" --pid "$WL_PID" --type cpu --duration 6s --frequency 499 --output "$T/cpu.pb.gz" \
		2>"$T/profd.err" || { cat "$T/profd.err" >&2; fail "profd failed"; }
	top=$(pprof -top -nodecount=30 "$T/cpu.pb.gz")
	echo "$top" | head -14 | sed 's/^/    | /' >&2
	assert_contains "$top" "Type: cpu" "profile type"
	assert_near "$(flat_pct burn_main <<<"$top")" 70 5 "burn_main flat%"
	assert_near "$(flat_pct lib_burn <<<"$top")" 30 5 "lib_burn flat%"
	# Callers survive: main is on every stack (cum ≈ 100%).
	assert_ge "$(cum_pct main <<<"$top")" 95 "main cum%"
	# The library mapping is named and carries its build id.
	raw=$(pprof -raw "$T/cpu.pb.gz")
	bid=$(readelf -n "$WORKLOADS/libburn.so" | awk '/Build ID/ { print $3 }')
	assert_contains "$raw" "libburn.so" "libburn mapping"
	assert_contains "$raw" "$bid" "libburn build id"
	# Header: period 1e9/499 ns, a duration near 6s, samples and cpu values.
	assert_contains "$raw" "PeriodType: cpu nanoseconds" "period type"
	assert_contains "$raw" "Period: 2004008" "period"
	assert_contains "$raw" "samples/count cpu/nanoseconds" "sample types"
	grep -q "Stopping profiling" "$T/profd.err" && fail "unexpected message"
	# Labels: pid, tid, comm, thread.
	tags=$(pprof -tags "$T/cpu.pb.gz")
	assert_contains "$tags" "cpu_split" "comm label"
	assert_contains "$tags" "$WL_PID" "pid label"
	# The stderr summary reports losses, even when there are none.
	assert_contains "$(cat "$T/profd.err")" "lost: .* user stacks" "loss summary"
	ls -a "$T" | grep -q '\.tmp\|profd-probe' && fail "temporary file left behind"
	true
}

# A workload living in the kernel: kernel frames are named (at the end of
# the run: kallsyms is not read while the workload runs), and their mapping
# has the kernel text's range and says its functions are known.
test_cpu_kernel_frames() {
	require_root
	start_workload syscalls 8
	"$PROFD" --verbose --pid "$WL_PID" --duration 4s --frequency 299 --output "$T/k.pb.gz" \
		2>"$T/profd.err" || { cat "$T/profd.err" >&2; fail "profd failed"; }
	local last read
	last=$(grep -n "cpu: last drain done" "$T/profd.err" | cut -d: -f1)
	read=$(grep -n "kallsyms read: " "$T/profd.err" | cut -d: -f1)
	[ -n "$last" ] && [ -n "$read" ] && [ "$read" -gt "$last" ] ||
		fail "kallsyms read at line ${read:-none} of profd's log, its last drain at ${last:-none}"
	top=$(pprof -top -cum -nodecount=40 "$T/k.pb.gz")
	echo "$top" | head -16 | sed 's/^/    | /' >&2
	assert_contains "$top" "vfs_read" "kernel function vfs_read"
	assert_contains "$top" "ksys_read\|__x64_sys_read" "kernel syscall entry"
	assert_ge "$(cum_pct read_zeros <<<"$top")" 80 "read_zeros (user caller of the syscall) cum%"
	raw=$(pprof -raw "$T/k.pb.gz")
	assert_contains "$raw" "0xffffffff[0-9a-f]*/0xffffffff[0-9a-f]*/0x0 \[kernel.kallsyms\].*\[FN\]" \
		"kernel mapping with its range and functions"
}

# Without --pid every process is profiled; the workload is found by its pid
# label, and -tagfocus selects it.
test_cpu_host_wide() {
	require_root
	start_workload cpu_split 12 50
	"$PROFD" --duration 6s --frequency 499 --output "$T/host.pb.gz" 2>"$T/profd.err" ||
		{ cat "$T/profd.err" >&2; fail "profd failed"; }
	tags=$(pprof -tags "$T/host.pb.gz")
	assert_contains "$tags" "pid:" "pid label key"
	assert_contains "$tags" " $WL_PID\$" "workload pid among labels"
	top=$(pprof -top -tagfocus="pid=$WL_PID" -nodecount=20 "$T/host.pb.gz")
	echo "$top" | sed -n '/flat%/,+4p' | sed 's/^/    | /' >&2
	assert_near "$(flat_ratio burn_main lib_burn <<<"$top")" 50 5 "burn_main/(burn_main+lib_burn) within the workload"
	# Only the workload's samples pass the pid filter: one pid, its name.
	ftags=$(pprof -tags -tagfocus="pid=$WL_PID" "$T/host.pb.gz")
	n=$(awk '/^ *pid:/ { on = 1; next } /^ *[a-z]+:/ { on = 0 } on && NF' <<<"$ftags" | wc -l)
	[ "$n" = 1 ] || { echo "$ftags" >&2; fail "-tagfocus=pid=$WL_PID kept $n pids"; }
	assert_contains "$ftags" "(  100%): cpu_split" "process name of the focused pid"
	# Another process is present too (profd itself at least, or the shell).
	n=$(pprof -tags "$T/host.pb.gz" | awk '/^ *comm:/ { on = 1; next } /^ *[a-z]+:/ { on = 0 } on && NF' | wc -l)
	assert_ge "$n" 2 "distinct process names"
	# Idle time is attributed to no process: no swapper samples.
	assert_not_contains "$tags" "swapper" "idle task"
}

# The target exits mid-run: what was collected is written, exit 0, early.
test_cpu_target_exits() {
	require_root
	start_workload cpu_split 2 70
	start=$(date +%s)
	"$PROFD" --pid "$WL_PID" --duration 20s -F 299 -o "$T/exit.pb.gz" 2>"$T/profd.err" ||
		{ cat "$T/profd.err" >&2; fail "profd exited non-zero"; }
	took=$(($(date +%s) - start))
	[ "$took" -lt 10 ] || fail "profd did not stop when the target exited (${took}s)"
	top=$(pprof -top "$T/exit.pb.gz")
	assert_ge "$(flat_pct burn_main <<<"$top")" 50 "burn_main share after target exit"
	assert_contains "$(cat "$T/profd.err")" "exited" "exit noticed"
}

# SIGINT (Ctrl-C) and SIGTERM stop early and still write the profile.
test_cpu_signal_stops_early() {
	require_root
	start_workload cpu_split 20 70
	for sig in INT TERM; do
		run_profd_bg --pid "$WL_PID" --duration 60s -o "$T/sig.pb.gz"
		sleep 2
		kill -s $sig "$PROFD_PID"
		wait "$PROFD_PID" || fail "profd exited non-zero after SIG$sig"
		top=$(pprof -top "$T/sig.pb.gz")
		assert_contains "$top" "burn_main" "profile written after SIG$sig"
		rm -f "$T/sig.pb.gz"
	done
}

# Without --output, a sensible name in the current directory.
test_cpu_default_output_name() {
	require_root
	start_workload cpu_split 5 70
	(cd "$T" && "$PROFD" -p "$WL_PID" -d 1s 2>"$T/profd.err") || fail "profd failed"
	f=$(ls "$T" | grep "^cpu-$WL_PID-[0-9]\{8\}-[0-9]\{6\}\.pb\.gz$") || fail "no default-named profile"
	pprof -top "$T/$f" >/dev/null
}

# expect_error CMD-ARGS... -- PATTERN: profd exits non-zero and says PATTERN.
expect_error() {
	local args=() pat
	while [ "$1" != -- ]; do args+=("$1"); shift; done
	pat=$2
	if "$PROFD" "${args[@]}" >"$T/out" 2>"$T/err"; then
		fail "profd ${args[*]} exited 0"
	fi
	grep -q -- "$pat" "$T/err" || { cat "$T/err" >&2; fail "profd ${args[*]}: no '$pat' in its error"; }
	note "profd ${args[*]}: $(head -1 "$T/err")"
}

test_cpu_bad_input() {
	require_root
	# A pid that does not exist (pid_max is at most 2^22).
	expect_error --pid 99999999 -d 1s -o "$T/x.pb.gz" -- "no process with pid 99999999"
	expect_error --pid abc -- "invalid --pid 'abc'"
	expect_error --type bogus -- "valid types are: cpu"
	expect_error --duration 10x -- "invalid --duration '10x'"
	expect_error --duration 0s -- "invalid --duration"
	expect_error --frequency 0 -- "invalid --frequency"
	expect_error --frequency 99hz -- "invalid --frequency"
	expect_error --bogus-flag -- "unrecognized option"
	expect_error extra-arg -- "unexpected argument"
	# Unwritable outputs are refused before profiling starts (fast).
	start=$(date +%s)
	expect_error -d 30s -o /nonexistent-dir/x.pb.gz -- "cannot write output '/nonexistent-dir/x.pb.gz'"
	expect_error -d 30s -o /proc/x.pb.gz -- "cannot write output"
	expect_error -d 30s -o "$T" -- "is a directory"
	[ $(($(date +%s) - start)) -lt 5 ] || fail "bad output paths were not refused up front"
	[ -z "$(ls /nonexistent-dir 2>/dev/null)" ]
}

# Without CAP_BPF/CAP_PERFMON the error names them.
test_cpu_missing_privileges() {
	require_root
	command -v setpriv >/dev/null || fail "setpriv (util-linux) is needed"
	out=$(setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all \
		"$PROFD" -d 1s -o /tmp/nobody.pb.gz 2>&1) && fail "profd ran without privileges"
	assert_contains "$out" "CAP_BPF" "missing capability named"
	assert_contains "$out" "CAP_PERFMON" "missing capability named"
}

test_cpu_help_and_version() {
	out=$("$PROFD" --help) || fail "--help exited non-zero"
	assert_contains "$out" "--pid" "help lists --pid"
	assert_contains "$out" "--frequency" "help lists --frequency"
	out=$("$PROFD" --version) || fail "--version exited non-zero"
	assert_contains "$out" "profd [0-9]" "version"
}
