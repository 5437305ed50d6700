# SPDX-License-Identifier: Apache-2.0
# mutex, block and threadcreate profiles (issue 4): real BPF on workloads
# that measure their own truth, read back with `go tool pprof`. Each
# workload waits for SIGUSR1 after "ready", so profd is attached before the
# first event and the profile covers the workload's whole life; profd stops
# by itself when the workload exits. User stacks come from the .eh_frame
# walker by default (issue 7); the tests against gdb also run the gap walk
# of --unwind=fp.

# start_profd ARGS...: profd on $WL_PID in the background; returns once it
# is attached (its "profiling" line), with PROFD_PID set.
start_profd() {
	local i
	rm -f "$T/profd.err" # not the "profiling" line of an earlier run
	"$PROFD" --pid "$WL_PID" "$@" 2>"$T/profd.err" &
	PROFD_PID=$!
	for i in $(seq 200); do
		grep -qs "profiling" "$T/profd.err" && return 0
		kill -0 "$PROFD_PID" 2>/dev/null || break
		sleep 0.05
	done
	cat "$T/profd.err" >&2
	fail "profd did not start"
}

# wait_profd: profd exits 0 on its own (the target exited) within 20 s.
wait_profd() {
	local i
	for i in $(seq 200); do
		kill -0 "$PROFD_PID" 2>/dev/null || break
		sleep 0.1
	done
	kill -0 "$PROFD_PID" 2>/dev/null && { kill "$PROFD_PID"; fail "profd did not stop when the target exited"; }
	wait "$PROFD_PID" || { cat "$T/profd.err" >&2; fail "profd exited non-zero"; }
	grep -q "every target process exited" "$T/profd.err" || fail "target exit not noticed"
}

# cum_ns FUNC < `pprof -top -cum -unit=ns` output: FUNC's cumulative value.
cum_ns() {
	awk -v f="$1" '$NF == f { v = $4; sub("ns$", "", v); print v; found = 1; exit }
		END { if (!found) print 0 }'
}

# cum_count FUNC < `pprof -top -cum` output of a count profile.
cum_count() {
	awk -v f="$1" '$NF == f { print $4; found = 1; exit } END { if (!found) print 0 }'
}

# within_pct VALUE TRUTH PCT WHAT: |VALUE - TRUTH| <= PCT% of TRUTH.
within_pct() {
	awk -v v="$1" -v t="$2" -v p="$3" 'BEGIN { d = v - t; if (d < 0) d = -d; exit !(t > 0 && d <= t * p / 100) }' ||
		fail "$4: got $1, truth $2 (±$3%)"
	note "$4: $1 vs truth $2 ($(awk -v v="$1" -v t="$2" 'BEGIN { printf "%+.1f%%", 100 * (v - t) / t }'))"
}

# Four threads contend for one mutex, each holding it ~1 ms: the delay at
# contend() (the caller of pthread_mutex_lock) matches the time the threads
# measured inside pthread_mutex_lock, and the stacks go through it.
test_mutex_contention_accuracy() {
	require_root
	start_workload lock_contend "$T/truth" 3
	start_profd --type mutex --duration 30s --output "$T/mutex.pb.gz"
	kill -USR1 "$WL_PID"
	wait_profd
	read -r truth_ns acquisitions <"$T/truth"
	top=$(pprof -top -cum -unit=ns "$T/mutex.pb.gz")
	echo "$top" | sed -n '/flat%/,+5p' | sed 's/^/    | /' >&2
	assert_contains "$top" "Type: delay" "default sample type"
	within_pct "$(cum_ns contend <<<"$top")" "$truth_ns" 25 "delay at contend (ns)"
	# Every lock wait is attributed to contend: nothing else was a lock wait.
	assert_ge "$(cum_pct contend <<<"$top")" 99 "contend cum%"
	assert_not_contains "$top" " hold$" "the lock holder's own work"
	# contend is the direct caller of pthread_mutex_lock in every stack.
	traces=$(pprof -traces "$T/mutex.pb.gz")
	n=$(awk '/pthread_mutex_lock$/ { getline nx; if (nx !~ /contend$/) bad++; ok++ }
		END { print (bad ? -1 : ok + 0) }' <<<"$traces")
	[ "$n" -gt 0 ] || { echo "$traces" | head -30 >&2; fail "pthread_mutex_lock not called from contend in every stack"; }
	# Go's conventions: counts first, period contentions/count 1.
	raw=$(pprof -raw "$T/mutex.pb.gz")
	assert_contains "$raw" "PeriodType: contentions count" "period type"
	assert_contains "$raw" "Period: 1$" "period"
	assert_contains "$raw" "contentions/count delay/nanoseconds" "sample types"
	contentions=$(pprof -top -cum -sample_index=contentions "$T/mutex.pb.gz" | cum_count contend)
	assert_ge "$contentions" 100 "contentions at contend"
	assert_ge "$acquisitions" "$contentions" "contentions <= acquisitions ($acquisitions)"
	assert_contains "$(cat "$T/profd.err")" "lost: 0 user stacks" "no stack lost"
}

# rwlock writers and a priority-inheritance mutex (FUTEX_LOCK_PI) are lock
# waits; a condition-variable wait is not (it is in the block profile).
test_mutex_rwlock_not_condvar() {
	require_root
	start_workload lock_kinds 2
	start_profd --type mutex --duration 30s --output "$T/mutex.pb.gz"
	kill -USR1 "$WL_PID"
	wait_profd
	top=$(pprof -top -cum "$T/mutex.pb.gz")
	echo "$top" | sed -n '/flat%/,+4p' | sed 's/^/    | /' >&2
	rw=$(cum_pct rw_contend <<<"$top")
	pi=$(cum_pct pi_contend <<<"$top")
	assert_ge "$(awk -v a="$rw" -v b="$pi" 'BEGIN { print a + b }')" 99 "rw_contend + pi_contend cum%"
	assert_ge "$rw" 10 "rw_contend (rwlock writers) cum%"
	assert_ge "$pi" 10 "pi_contend (PI mutex) cum%"
	assert_contains "$top" "pthread_rwlock_wrlock" "rwlock function in the stacks"
	assert_not_contains "$top" "cond_waiter" "condition variable wait in the mutex profile"
	assert_not_contains "$top" "pthread_cond_wait" "pthread_cond_wait in the mutex profile"
	assert_contains "$(cat "$T/profd.err")" "were not lock waits" "other futex waits counted"

	start_workload lock_kinds 2
	start_profd --type block --duration 30s --output "$T/block.pb.gz"
	kill -USR1 "$WL_PID"
	wait_profd
	top=$(pprof -top -cum "$T/block.pb.gz")
	assert_contains "$top" "cond_waiter$" "condition variable wait in the block profile"
	assert_contains "$top" "pthread_cond_wait$" "pthread_cond_wait in the block profile"
}

# mutex_stack_vs_gdb [PROFD ARGS...]: stacks of lock waits match gdb's
# backtrace of the same blocked thread, address for address (gdb prints
# return addresses; pprof locations hold return address - 1), past the
# caller of pthread_mutex_lock.
mutex_stack_vs_gdb() {
	start_workload lock_contend "$T/truth" 4
	start_profd --type mutex --duration 30s --output "$T/mutex.pb.gz" "$@"
	kill -USR1 "$WL_PID"
	sleep 1.5
	# Return addresses (frames #1 and up) of the first thread gdb found in
	# pthread_mutex_lock; with or without libc's debug info, frame #0 is
	# the leaf PC or an inlined frame of it. A snapshot may catch every
	# thread between waits (waking the next one): up to three.
	local try
	for try in 1 2 3; do
		gdb -p "$WL_PID" -batch -ex 'thread apply all bt' >"$T/gdb.out" 2>/dev/null || true
		want=$(awk '/^Thread / { if (got) exit; inlock = 0; pcs = "" }
			/pthread_mutex_lock/ { inlock = 1 }
			/^#[1-9][0-9]* +0x[0-9a-f]+ in / { a = $2; sub("^0x0*", "", a); pcs = pcs " " a }
			/^$/ && inlock && pcs != "" { got = 1 }
			END { if (got || inlock) print pcs }' "$T/gdb.out")
		[ -n "$want" ] && break
		sleep 0.2
	done
	wait_profd
	[ -n "$want" ] || { head -40 "$T/gdb.out" >&2; fail "gdb showed no thread waiting for the lock"; }
	note "gdb return addresses:$want"
	# Each sample's non-leaf location addresses + 1 (bash does the hex:
	# mawk cannot).
	raw=$(pprof -raw "$T/mutex.pb.gz" | awk '
		/^Samples:/ { s = 1; next } /^Locations/ { s = 0; l = 1; next } /^Mappings/ { l = 0 }
		s && /:/ && $1 ~ /^[0-9]+$/ { sub(/.*: */, ""); samples[ns++] = $0 }
		l && $1 ~ /^[0-9]+:$/ { id = $1; sub(":", "", id); addr[id] = $2 }
		END { for (i = 0; i < ns; i++) { n = split(samples[i], ids, " "); line = "";
			for (j = 2; j <= n; j++) line = line " " addr[ids[j]]
			print line } }')
	got=$(while read -r line; do
		out=""
		for a in $line; do out+=" $(printf %x $((a + 1)))"; done
		echo "$out"
	done <<<"$raw")
	echo "$got" | sort -u | head -5 | sed 's/^/    | profd:/' >&2
	# Some sample equals gdb's sequence for as many frames as it has, and
	# has at least pthread_mutex_lock, contend and worker.
	awk -v want="$want" 'BEGIN { nw = split(want, w, " ") }
		{ n = split($0, g, " "); if (n < 3 || n > nw) next; ok = 1
		  for (i = 1; i <= n; i++) if (g[i] != w[i]) ok = 0
		  if (ok) found = 1 }
		END { exit !found }' <<<"$got" || fail "no profile stack matches gdb's backtrace"
}

# With the .eh_frame walker (the default here), then with the gap walk.
test_mutex_stack_matches_gdb() {
	require_root
	command -v gdb >/dev/null || fail "gdb is needed"
	mutex_stack_vs_gdb
	assert_contains "$(cat "$T/profd.err")" "unwinding: .* walks" "walker summary"
	stop_workloads
	mutex_stack_vs_gdb --unwind=fp
	assert_contains "$(cat "$T/profd.err")" "unwinding: gap walk" "gap walk summary"
}

# A thread blocks reading a pipe fed every 50 ms: the delay at read_pipe
# (the caller of read) matches the time it measured inside read(); kernel
# frames explain the wait and the tracing glue is gone.
test_block_pipe_accuracy() {
	require_root
	start_workload pipe_block "$T/truth" 3
	start_profd --type block --duration 30s --output "$T/block.pb.gz"
	kill -USR1 "$WL_PID"
	wait_profd
	read -r truth_ns reads <"$T/truth"
	top=$(pprof -top -cum -unit=ns -nodecount=60 "$T/block.pb.gz")
	echo "$top" | grep -E " (read_pipe|feed_pipe|pipe_read|anon_pipe_read|read)$" | sed 's/^/    | /' >&2
	within_pct "$(cum_ns read_pipe <<<"$top")" "$truth_ns" 25 "delay at read_pipe (ns, $reads reads)"
	# The writer sleeps 50 ms between writes: its nanosleep is there too.
	within_pct "$(cum_ns feed_pipe <<<"$top")" "$truth_ns" 25 "delay at feed_pipe (ns)"
	assert_contains "$top" "pipe_read$" "kernel frame of the pipe read"
	assert_contains "$top" "do_nanosleep$" "kernel frame of the sleep"
	# In every stack through read_pipe, the frame below it is libc's read
	# (named read, or __GI___libc_read with libc's debug info).
	traces=$(pprof -traces "$T/block.pb.gz")
	n=$(awk '/ read_pipe$/ { if (prev !~ /read/) bad++; ok++ } { prev = $0 }
		END { print (bad ? -1 : ok + 0) }' <<<"$traces")
	[ "$n" -gt 0 ] || { echo "$traces" | head -40 >&2; fail "read_pipe is not the caller of read in every stack"; }
	assert_not_contains "$traces" "bpf_prog_" "BPF program frame"
	assert_not_contains "$traces" "bpf_trace_run" "tracepoint glue frame"
	raw=$(pprof -raw "$T/block.pb.gz")
	assert_contains "$raw" "PeriodType: contentions count" "period type"
	assert_contains "$raw" "contentions/count delay/nanoseconds" "sample types"
	contentions=$(pprof -top -cum -sample_index=contentions "$T/block.pb.gz" | cum_count read_pipe)
	within_pct "$contentions" "$reads" 10 "blocking reads counted"
}

# --min-block drops shorter intervals: the 50 ms waits are gone at 100 ms,
# and the summary says how many were left out.
test_block_min_block() {
	require_root
	start_workload pipe_block "$T/truth" 2
	start_profd --type block --min-block 100ms --duration 30s --output "$T/block.pb.gz"
	kill -USR1 "$WL_PID"
	wait_profd
	# A loaded host can stretch a 50 ms wait past 100 ms now and then: such
	# an interval is rightly counted, but no more than 2 of the ~40, and
	# each of those must be at least 100 ms long.
	counts=$(pprof -top -cum -sample_index=contentions "$T/block.pb.gz")
	ns=$(pprof -top -cum -unit=ns "$T/block.pb.gz")
	for f in read_pipe feed_pipe; do
		c=$(cum_count "$f" <<<"$counts")
		d=$(cum_ns "$f" <<<"$ns")
		[ "$c" -le 2 ] || { echo "$counts" | head -20 >&2; fail "$c intervals at $f with --min-block 100ms (50 ms waits)"; }
		[ "$c" = 0 ] || note "$f: $c interval(s) stretched past 100 ms by the host, $d ns in all"
		awk -v c="$c" -v d="$d" 'BEGIN { exit !(d >= c * 100000000) }' ||
			fail "$f: $c intervals total $d ns: one is shorter than --min-block"
	done
	skipped=$(sed -n 's/.* \([0-9]*\) off-CPU intervals shorter than --min-block.*/\1/p' "$T/profd.err")
	assert_ge "${skipped:-0}" 60 "intervals below --min-block (2 x 2 s / 50 ms)"
	assert_contains "$(pprof -raw "$T/block.pb.gz")" "off-CPU intervals of at least 100000000 ns" \
		"the threshold is in the profile's comments"
}

# Without --pid every process's blocking is profiled; the workload is found
# by its pid label.
test_block_host_wide() {
	require_root
	start_workload pipe_block "$T/truth" 3
	run_profd_bg --type block --duration 4s --output "$T/host.pb.gz"
	kill -USR1 "$WL_PID"
	wait "$PROFD_PID" || { cat "$T/profd.err" >&2; fail "profd failed"; }
	top=$(pprof -top -cum -tagfocus="pid=$WL_PID" "$T/host.pb.gz")
	assert_contains "$top" "read_pipe$" "read_pipe of the workload"
	assert_contains "$top" "feed_pipe$" "feed_pipe of the workload"
	n=$(pprof -tags "$T/host.pb.gz" | awk '/^ *comm:/ { on = 1; next } /^ *[a-z]+:/ { on = 0 } on && NF' | wc -l)
	assert_ge "$n" 2 "distinct process names"
}

# A function creating 40 threads: threadcreate count exactly 40 there.
test_threadcreate_count() {
	require_root
	start_workload thread_spawn 40
	start_profd --type threadcreate --duration 30s --output "$T/tc.pb.gz"
	kill -USR1 "$WL_PID"
	wait_profd
	top=$(pprof -top -cum "$T/tc.pb.gz")
	echo "$top" | sed -n '/flat%/,+6p' | sed 's/^/    | /' >&2
	assert_contains "$top" "Type: threadcreate" "sample type"
	[ "$(cum_count spawn_threads <<<"$top")" = 40 ] || fail "threadcreate at spawn_threads: $(cum_count spawn_threads <<<"$top"), expected 40"
	# pthread_create, or __pthread_create_2_1 with libc's debug info.
	[ "$(awk '$NF ~ /pthread_create/ { print $4; exit }' <<<"$top")" = 40 ] ||
		fail "threadcreate at pthread_create"
	[ "$(cum_count main <<<"$top")" = 40 ] || fail "main above spawn_threads in every stack"
	raw=$(pprof -raw "$T/tc.pb.gz")
	assert_contains "$raw" "PeriodType: threadcreate count" "period type"
	assert_contains "$raw" "Period: 1$" "period"
}

# The gap walk (--unwind=fp): the second batch, after a drain, is unwound
# in BPF with the rules learned from the first: it meets no PC without a
# rule, and its stacks are whole.
test_threadcreate_learned_rules() {
	require_root
	start_workload thread_spawn 20 2
	start_profd --type threadcreate --duration 30s --output "$T/tc.pb.gz" --unwind=fp
	kill -USR1 "$WL_PID"
	wait_profd
	top=$(pprof -top -cum "$T/tc.pb.gz")
	[ "$(cum_count spawn_threads <<<"$top")" = 40 ] || fail "threadcreate at spawn_threads: expected 40"
	[ "$(cum_count main <<<"$top")" = 40 ] || fail "main above spawn_threads in every stack"
	misses=$(sed -n 's/.*rules learned, \([0-9]*\) events met.*/\1/p' "$T/profd.err")
	note "events that met a PC without a rule: $misses"
	[ -n "$misses" ] && [ "$misses" -le 20 ] || { cat "$T/profd.err" >&2; fail "the second batch met PCs without rules"; }
	assert_ge "$misses" 1 "the first batch needed the agent"
}

# unwind_wait_check TYPE MODE EXTRA_RE: every stack of the unwind_wait
# workload in MODE (glibc's qsort calls a comparator that waits; no frame
# pointers anywhere) is gdb's chain from sort_loop to the root, with the
# .eh_frame walker; the gap walk (--unwind=fp) on the same process is put
# to the same check, which must be able to fail: the gap walk's frame-
# pointer part starts at qsort_r (which keeps a frame pointer for its
# alloca) and ends at sort_loop (which uses rbp for data).
unwind_wait_check() {
	local type=$1 mode=$2 extra=$3 share
	start_workload unwind_wait "$mode"
	start_profd --type "$type" --duration 2s --output "$T/u.pb.gz"
	kill -USR1 "$WL_PID"
	wait "$PROFD_PID" || { cat "$T/profd.err" >&2; fail "profd failed"; }
	pprof -raw "$T/u.pb.gz" >"$T/u.raw"
	unwind_check sort_loop "$extra" main
	assert_contains "$(cat "$T/profd.err")" "unwinding: .* walks" "walker summary"
	assert_contains "$(cat "$T/profd.err")" "lost: 0 user stacks" "no user stack lost"

	start_profd --type "$type" --duration 2s --output "$T/u.pb.gz" --unwind=fp
	wait "$PROFD_PID" || { cat "$T/profd.err" >&2; fail "profd --unwind=fp failed"; }
	assert_contains "$(cat "$T/profd.err")" "unwinding: gap walk" "gap walk summary"
	pprof -raw "$T/u.pb.gz" >"$T/u.raw"
	unwind_check_fails sort_loop "$extra" main \
		"the gap walk unwound qsort's callers: the check does not tell the walks apart"
	share=$(grep -o "[0-9]* of [0-9]* samples ([0-9.]*%)" "$T/check.out" || true)
	note "gap walk (--unwind=fp): ${share:-no share}; $(grep -m1 "chain to the root differs" "$T/check.out" | sed 's/^ *//')"
}

# A mutex wait under glibc's qsort, in a comparator without frame pointers.
test_mutex_unwind_qsort_comparator() {
	require_root
	unwind_wait_check mutex mutex \
		'cmp_lock|msort_with_tmp|.*pthread_mutex_lock|.*lll_lock_wait|.*futex'
}

# A blocking pipe read under glibc's qsort.
test_block_unwind_qsort_comparator() {
	require_root
	unwind_wait_check block block 'cmp_read|msort_with_tmp|read$|.*libc_read'
}

# A thread created (and joined) under glibc's qsort: the walk starts in
# clone3, inside pthread_create.
test_threadcreate_unwind_qsort_comparator() {
	require_root
	unwind_wait_check threadcreate threadcreate \
		'cmp_spawn|msort_with_tmp|clone3|__clone_internal|create_thread|.*pthread_create|.*pthread_clockjoin|.*pthread_join|.*futex'
}

test_locks_bad_input() {
	require_root
	"$PROFD" --type block --min-block 10x -d 1s -o "$T/x.pb.gz" 2>"$T/err" && fail "bad --min-block accepted"
	assert_contains "$(cat "$T/err")" "invalid --min-block '10x'" "--min-block error"
	out=$("$PROFD" --help)
	assert_contains "$out" "--min-block" "help lists --min-block"
	assert_contains "$out" "mutex" "help lists mutex"
	assert_contains "$out" "threadcreate" "help lists threadcreate"
}
