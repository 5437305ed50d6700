# SPDX-License-Identifier: Apache-2.0
# .eh_frame unwinding (issue 7): workloads built with -fomit-frame-pointer -O2
# (tests/workloads/unwind.c, calling through glibc and a frame-pointer
# library) are profiled, and every user stack of the profile, read back with
# `go tool pprof -raw`, is checked against gdb's backtrace of the same
# process (unwind_oracle.py, unwind_check.py): >= 99% of the samples must
# carry gdb's chain down to the root, and no sample may have a frame gdb
# would not name in that chain.

# unwind_profile MODE SECONDS [PROFD ARGS...]: start the workload, profile
# it into $T/u.pb.gz and its raw dump $T/u.raw.
unwind_profile() {
	local mode=$1 secs=$2
	shift 2
	start_workload unwind "$mode"
	sleep 0.3
	"$PROFD" --pid "$WL_PID" --duration "${secs}s" --frequency 499 --output "$T/u.pb.gz" "$@" \
		2>"$T/profd.err" || { cat "$T/profd.err" >&2; fail "profd failed"; }
	pprof -raw "$T/u.pb.gz" >"$T/u.raw"
}

# A hot comparator under glibc's qsort: the merge recursion, qsort_r, and
# everything down to _start (glibc has no frame pointers). Beside the frames
# of gdb's one backtrace, qsort_r's own calls: its free of the merge buffer
# and glibc's internal PLT stubs (*ABS*+0x...@plt, the memcpy IFUNC).
test_unwind_qsort_comparator() {
	require_root
	unwind_profile qsort 3
	unwind_check sort_loop 'cmp_spin|msort_with_tmp|__mem|.*@plt$|_int_free$|free$|mix$' main
	assert_contains "$(cat "$T/profd.err")" "unwinding: .* walks" "walker summary"
}

# The frame-pointer walk loses the same chain: the check above can fail.
test_unwind_fp_mode_loses_qsort_callers() {
	require_root
	unwind_profile qsort 2 --unwind=fp
	unwind_check_fails sort_loop 'cmp_spin|msort_with_tmp|__mem|mix$' main \
		"frame pointers unwound qsort's callers: the oracle does not discriminate"
	note "frame pointers only: $(grep samples "$T/check.out")"
}

# 60 frames of recursion, hot in the deepest one.
test_unwind_deep_recursion() {
	require_root
	unwind_profile recurse 3
	unwind_check main 'deep_leaf|recurse|mix$' main
	n=$(pprof -traces "$T/u.pb.gz" | awk '/^-+\+/ { if (c > max) max = c; c = 0 } $NF == "recurse" { c++ } END { if (c > max) max = c; print max + 0 }')
	[ "$n" = 60 ] || fail "expected 60 recurse frames in a trace, got $n"
}

# Through a PLT into a shared library built with frame pointers, and back
# into code without them.
test_unwind_shared_library() {
	require_root
	unwind_profile lib 3
	unwind_check lib_loop 'cb_spin|mix$|unw_lib_outer|lib_inner' main
	top=$(pprof -top -cum -nodecount=40 "$T/u.pb.gz")
	assert_ge "$(cum_pct unw_lib_outer <<<"$top")" 95 "unw_lib_outer cum%"
}

# A SIGPROF handler spinning on top of main_spin: across __restore_rt.
test_unwind_signal_handler() {
	require_root
	unwind_profile signal 3
	unwind_check main 'on_signal|main_spin|mix$|__restore_rt' main
	top=$(pprof -top -cum -nodecount=40 "$T/u.pb.gz")
	assert_ge "$(cum_pct on_signal <<<"$top")" 3 "on_signal cum%"
	assert_ge "$(cum_pct main_spin <<<"$top")" 99 "main_spin cum% (under the handler too)"
}

# Threads: the chain ends at the thread start (start_thread, clone3).
test_unwind_threads() {
	require_root
	unwind_profile threads 3
	unwind_check worker 'thread_spin|mix$' other
	top=$(pprof -top -cum -nodecount=40 "$T/u.pb.gz")
	assert_ge "$(cum_pct worker <<<"$top")" 99 "worker cum%"
}

# Host-wide: a process started after profd is picked up by the walker's
# unknown-mapping events. Until the next drain tick (1 s) its samples are
# walked by frame pointers; of 5.5 s, at least 40% must be complete even on
# a loaded machine (typically 80%).
test_unwind_new_process_picked_up() {
	require_root
	run_profd_bg --duration 7s --frequency 199 --output "$T/u.pb.gz"
	sleep 0.5
	start_workload unwind qsort
	wait_profd
	pprof -raw "$T/u.pb.gz" >"$T/u.raw"
	unwind_check sort_loop 'cmp_spin|msort_with_tmp|__mem|.*@plt$|_int_free$|free$|mix$' main 40
}

# The table memory cap is the user's: at 64 KiB libc's table (183 KiB) is
# refused, counted, and its frames fall back to frame-pointer steps, which
# lose qsort's callers again.
test_unwind_memory_cap() {
	require_root
	unwind_profile qsort 2 --unwind-max-memory 64KiB
	refused=$(sed -n 's/.* \([0-9]*\) refused by the memory cap.*/\1/p' "$T/profd.err")
	assert_ge "${refused:-0}" 1 "tables refused by the memory cap"
	unwind_check_fails sort_loop 'cmp_spin|msort_with_tmp|__mem|mix$' main \
		"qsort's callers unwound although libc's table was refused"
	"$PROFD" --unwind-max-memory 1k -d 1s -o "$T/x.pb.gz" 2>"$T/err" && fail "1k cap accepted"
	assert_contains "$(cat "$T/err")" "invalid --unwind-max-memory '1k'" "cap error"
}

# A host-wide run and short-lived processes: five `unwind qsort` processes,
# each killed after 0.8 s, their last samples drained after they are gone.
# The walker's first report of each has its maps read for symbols then
# (within the one-shot loop's 200 ms), so each is symbolized and whole down
# to main from its first fifth of a second on; when the maps waited for
# the drain, a process gone before it had only <unknown> frames.
test_unwind_short_lived_host_wide() {
	require_root
	local w n m
	"$PROFD" --duration 9s --frequency 199 --output "$T/h.pb.gz" 2>"$T/profd.err" &
	local pp=$!
	sleep 1.5
	short_lived_unwinds
	wait "$pp" || { tail -5 "$T/profd.err" >&2; fail "profd failed"; }
	for w in "${SL_PIDS[@]}"; do
		# The pid's samples in all, and those with main.
		n=$(pprof -unit=ms -tagfocus="pid=$w" -top -nodecount=1000 "$T/h.pb.gz" 2>/dev/null |
			sed -n 's/^Showing nodes accounting for \([0-9.]*\)ms.*/\1/p')
		m=$(pprof -unit=ms -tagfocus="pid=$w" -focus='^main$' -top -nodecount=1000 "$T/h.pb.gz" 2>/dev/null |
			sed -n 's/^Showing nodes accounting for \([0-9.]*\)ms.*/\1/p')
		note "unwind ($w): ${m:-0} of ${n:-0} ms symbolized down to main"
		[ -n "$n" ] || pprof -tagfocus="pid=$w" -top -nodecount=5 "$T/h.pb.gz" | head -8 | sed "s/^/    | /" >&2
		[ -n "$n" ] && awk -v n="$n" 'BEGIN { exit !(n >= 100) }' ||
			fail "unwind ($w): ${n:-no} ms of samples for 0.8 s busy at 199 Hz"
		awk -v n="$n" -v m="${m:-0}" 'BEGIN { exit !(m >= n / 2) }' ||
			fail "unwind ($w): ${m:-0} of $n ms symbolized down to main (half expected)"
	done
}
