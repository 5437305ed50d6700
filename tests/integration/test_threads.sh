# SPDX-License-Identifier: Apache-2.0
# threads / goroutine profile (issue 14): a snapshot of every thread, read
# back with `go tool pprof` and as text, on threads_mix, whose threads are
# parked at known places: N sleeping in sleep_here, M reading a pipe in
# read_here, K on a condition variable in cond_here, lock_ab/lock_ba
# deadlocked on two mutexes, one holder sleeping in read() with C waiters
# on its mutex in wait_for_held, and a spinner in spin_here.

TM_N=5 TM_M=3 TM_K=2 TM_C=4
TM_TOTAL=$((1 + TM_N + TM_M + TM_K + 2 + 1 + TM_C + 1)) # main + ... + spinner
TM_SRC=$LIB_DIR/../workloads/threads_mix.c

start_mix() {
	start_workload threads_mix "$TM_N" "$TM_M" "$TM_K" "$TM_C"
}

# tid_of NAME: the tid of $WL_PID's thread called NAME (exactly one).
tid_of() {
	local d n=0 tid=
	for d in /proc/$WL_PID/task/*; do
		if [ "$(cat "$d/comm" 2>/dev/null)" = "$1" ]; then
			tid=${d##*/}
			n=$((n + 1))
		fi
	done
	[ "$n" = 1 ] || fail "expected one thread named $1, found $n"
	echo "$tid"
}

# cum_of FUNC < pprof -top output: FUNC's cum value (0 when absent).
cum_of() {
	awk -v f="$1" '$NF == f { print $4; found = 1; exit } END { if (!found) print 0 }'
}

# tag_count KEY VALUE < pprof -tags output: threads with label KEY = VALUE.
tag_count() {
	awk -v k="$1:" -v v="$2" '$1 == k { in_k = 1; next } /^ *[a-z]+: Total/ { in_k = 0 }
		in_k && $NF == v { x = $1; sub(/\.0$/, "", x); print x; found = 1; exit }
		END { if (!found) print 0 }'
}

line_of() {
	grep -n -- "$1" "$TM_SRC" | head -1 | cut -d: -f1
}

# check_mix_profile FILE: the counts, states and deadlock label of a
# threads_mix snapshot.
check_mix_profile() {
	local f=$1 top tags
	top=$(pprof -top -nodecount=200 "$f")
	assert_contains "$top" "Type: threads" "sample type"
	assert_contains "$top" "File: threads_mix" "main binary"
	assert_contains "$top" "Total samples = $TM_TOTAL" "one count per thread"
	for fc in sleep_here:$TM_N read_here:$TM_M cond_here:$TM_K lock_ab:1 lock_ba:1 \
		hold_and_read:1 wait_for_held:$TM_C spin_here:1 main:1; do
		[ "$(cum_of "${fc%:*}" <<<"$top")" = "${fc#*:}" ] ||
			{ echo "$top" | head -60 >&2; fail "threads in ${fc%:*}: got $(cum_of "${fc%:*}" <<<"$top"), want ${fc#*:}"; }
	done
	note "threads per function exact: sleep_here $TM_N, read_here $TM_M, cond_here $TM_K, wait_for_held $TM_C"
	# Kernel frames where each kind of thread waits.
	[ "$(cum_of hrtimer_nanosleep <<<"$top")" = "$TM_N" ] || fail "sleepers not in hrtimer_nanosleep"
	# Every user stack reaches the thread root.
	[ "$(cum_of start_thread <<<"$top")" = $((TM_TOTAL - 1)) ] || fail "stacks not rooted at start_thread"
	tags=$(pprof -tags "$f")
	[ "$(tag_count state sleeping <<<"$tags")" = $((TM_TOTAL - 1)) ] ||
		{ echo "$tags" >&2; fail "every thread but the spinner sleeps"; }
	[ $(($(tag_count state running <<<"$tags") + $(tag_count state runnable <<<"$tags"))) = 1 ] ||
		{ echo "$tags" >&2; fail "the spinner is running or runnable"; }
	[ "$(tag_count deadlock 1 <<<"$tags")" = 2 ] || { echo "$tags" >&2; fail "deadlock label on two threads"; }
	[ "$(tag_count pid "$WL_PID" <<<"$tags")" = "$TM_TOTAL" ] || fail "pid label"
	top=$(pprof -top -tagfocus=deadlock=1 "$f")
	[ "$(cum_of lock_ab <<<"$top")" = 1 ] && [ "$(cum_of lock_ba <<<"$top")" = 1 ] ||
		fail "the deadlock label is on lock_ab and lock_ba"
	top=$(pprof -top -tagfocus=state=sleeping "$f")
	[ "$(cum_of spin_here <<<"$top")" = 0 ] || fail "the spinner is not sleeping"
}

# check_deadlock_report TEXT: the cycle with both tids, the chain behind the holder.
check_deadlock_report() {
	local ab ba h
	ab=$(tid_of lock-ab)
	ba=$(tid_of lock-ba)
	h=$(tid_of holder)
	grep -Eq "^deadlock #[0-9]+ \(pid $WL_PID\): thread $ab \"lock-ab\" waits for mutex 0x[0-9a-f]+ held by thread $ba \"lock-ba\", which waits for mutex 0x[0-9a-f]+ held by thread $ab \"lock-ab\": deadlock$" <<<"$1" ||
		{ echo "$1" >&2; fail "deadlock cycle $ab <-> $ba not reported"; }
	grep -q "^$TM_C threads wait for a mutex held by thread $h \"holder\", which sleeps in read$" <<<"$1" ||
		{ echo "$1" >&2; fail "chain of $TM_C waiters behind holder $h not reported"; }
	[ "$(grep -c "^deadlock #[0-9]* (pid $WL_PID)" <<<"$1")" = 1 ] || fail "exactly one deadlock in $WL_PID"
	note "deadlock $ab <-> $ba and $TM_C waiters behind $h reported"
}

test_threads_oneshot_pprof() {
	require_root
	start_mix
	local t0 t1
	t0=$(date +%s)
	# No --duration: a snapshot is written at once (the default duration is 30 s).
	"$PROFD" --pid "$WL_PID" --type threads --output "$T/t.pb.gz" 2>"$T/profd.err" ||
		{ cat "$T/profd.err" >&2; fail "profd failed"; }
	t1=$(date +%s)
	[ $((t1 - t0)) -lt 25 ] || fail "the snapshot waited for a duration"
	check_mix_profile "$T/t.pb.gz"
	check_deadlock_report "$(cat "$T/profd.err")"
	grep -Eq "snapshot of $TM_TOTAL threads: walk [0-9.]+ ms" "$T/profd.err" || fail "snapshot time not logged"
	# The alias, and -traces: the distinct stacks with their counts.
	"$PROFD" --pid "$WL_PID" --type goroutine --output "$T/g.pb.gz" 2>"$T/profd.err" ||
		{ cat "$T/profd.err" >&2; fail "--type goroutine failed"; }
	check_mix_profile "$T/g.pb.gz"
	traces=$(pprof -traces "$T/g.pb.gz")
	# The sleepers' one stack: count 5, sleep_here under nanosleep.
	awk -v n="$TM_N" '/^-+/ { if (blk ~ /sleep_here/ && cnt == n) ok = 1; blk = ""; cnt = 0; next }
		cnt == 0 && $1 ~ /^[0-9]+$/ { cnt = $1 } { blk = blk "\n" $0 }
		END { exit !ok }' <<<"$traces" || { echo "$traces" | head -40 >&2; fail "no trace with $TM_N sleepers"; }
}

test_threads_text_forms() {
	require_root
	start_mix
	local ab ba h dump text blk sl rl
	ab=$(tid_of lock-ab)
	ba=$(tid_of lock-ba)
	h=$(tid_of holder)
	"$PROFD" --pid "$WL_PID" --type threads --format dump --output "$T/dump.txt" 2>"$T/profd.err" ||
		{ cat "$T/profd.err" >&2; fail "--format dump failed"; }
	dump=$(cat "$T/dump.txt")
	[ "$(grep -c '^thread [0-9]* ".*" \[.*\]: pid '"$WL_PID"' "threads_mix"$' <<<"$dump")" = "$TM_TOTAL" ] ||
		{ echo "$dump" | head -30 >&2; fail "one header per thread"; }
	# lock-ab's block, line by line.
	blk=$(awk -v t="$ab" '$1 == "thread" && $2 == t { on = 1 } on && /^$/ { exit } on' <<<"$dump")
	mapfile -t L <<<"$blk"
	[[ ${L[0]} =~ ^thread\ $ab\ \"lock-ab\"\ \[sleeping(,\ [0-9]+(ms|s|\ minutes|\ hours))?\]:\ pid\ $WL_PID\ \"threads_mix\"$ ]] ||
		fail "header: '${L[0]}'"
	[[ ${L[1]} =~ ^syscall\ futex\(0x[0-9a-f]+,\ 0x80,\ 0x2\)$ ]] || fail "syscall line: '${L[1]}'"
	[[ ${L[2]} =~ ^wchan\ [a-z_0-9.]+$ ]] || fail "wchan line: '${L[2]}'"
	[[ ${L[3]} =~ ^waits\ for\ mutex\ 0x[0-9a-f]+\ held\ by\ thread\ $ba\ \"lock-ba\":\ deadlock\ #1$ ]] ||
		fail "mutex line: '${L[3]}'"
	# Kernel frames, then the user stack: libc's lock, lock_ab with its line, run, start_thread.
	local i=4
	while [[ ${L[$i]} == *" [kernel]" ]]; do i=$((i + 1)); done
	[ "$i" -gt 4 ] || fail "no kernel frames"
	grep -q "pthread_mutex_lock" <<<"$(printf '%s\n' "${L[@]:$i:4}")" || fail "no pthread_mutex_lock frame"
	awk -v ln="$(line_of 'pthread_mutex_lock(&m_b); /\* never')" '
		$0 == "lock_ab" { getline nx; ok = (nx ~ ("threads_mix\\.c:" ln "$")) } END { exit !ok }' <<<"$blk" ||
		{ echo "$blk" >&2; fail "lock_ab frame with its source line"; }
	grep -q "^start_thread$" <<<"$blk" || fail "lock_ab's stack reaches start_thread"
	# The holder, a waiter, a condvar waiter, the spinner.
	blk=$(awk -v t="$h" '$1 == "thread" && $2 == t { on = 1 } on && /^$/ { exit } on' <<<"$dump")
	grep -Eq "^syscall read\(0x[0-9a-f]+, 0x[0-9a-f]+, 0x1\)$" <<<"$blk" || fail "holder in read"
	grep -q "^hold_and_read$" <<<"$blk" || fail "holder's function"
	[ "$(grep -c "^waits for mutex 0x[0-9a-f]* held by thread $h \"holder\"$" <<<"$dump")" = "$TM_C" ] ||
		fail "$TM_C waiter lines naming the holder"
	[ "$(grep -c '^waits on futex 0x[0-9a-f]* (condition variable, semaphore or similar: no owner recorded)$' <<<"$dump")" = "$TM_K" ] ||
		fail "condvar waiters: owner unknown, said so"
	sl=$(line_of 'nanosleep(&ts, NULL);')
	[ "$(grep -A1 -x sleep_here <<<"$dump" | grep -c "threads_mix\.c:$sl$")" = "$TM_N" ] ||
		fail "$TM_N sleep_here frames at threads_mix.c:$sl"
	check_deadlock_report "$(sed -n '/^# waits for mutexes:/,$p' <<<"$dump")"
	grep -Eq "^# snapshot of $TM_TOTAL threads: walk [0-9.]+ ms, user stacks [0-9.]+ ms" <<<"$dump" ||
		fail "snapshot time line"

	"$PROFD" --pid "$WL_PID" --type threads --format text --output "$T/text.txt" 2>"$T/profd.err" ||
		{ cat "$T/profd.err" >&2; fail "--format text failed"; }
	text=$(cat "$T/text.txt")
	[ "$(head -1 <<<"$text")" = "threads profile: total $TM_TOTAL" ] || fail "text header: $(head -1 <<<"$text")"
	# Blocks: "COUNT @ addrs", "# state S, pid P "comm"", frames "#\tADDR\tFUNC[\tFILE:LINE]".
	awk -v total="$TM_TOTAL" -v n="$TM_N" -v m="$TM_M" -v sl="$sl" '
		/^[0-9]+ @( 0x[0-9a-f]+)+$/ { cnt = $1; sum += cnt; getline st
			if (st !~ /^# state [a-z-]+, pid [0-9]+ "threads_mix"$/) { print "bad state line: " st; bad = 1 }
			inb = 1; next }
		inb && /^$/ { inb = 0; next }
		inb && !/^#\t0x[0-9a-f]+\t[^\t]+(\t[^\t]+)?$/ { print "bad frame line: " $0; bad = 1 }
		inb && $0 ~ /\tsleep_here\t.*threads_mix\.c:/ { if (cnt == n && $0 ~ ("threads_mix\\.c:" sl "$")) s_ok = 1 }
		inb && $0 ~ /\tread_here\t/ { if (cnt == m) r_ok = 1 }
		END { if (sum != total) { print "counts sum to " sum; bad = 1 }
		      if (!s_ok) print "no block of " n " sleepers at line " sl
		      if (!r_ok) print "no block of " m " readers"
		      exit bad || !s_ok || !r_ok }' <<<"$text" || { head -40 <<<"$text" >&2; fail "text form"; }
	note "text forms: $TM_TOTAL thread blocks and aggregated counts checked line by line"
	# Bad input: a clear error, non-zero exit.
	if "$PROFD" --pid "$WL_PID" --type cpu --format dump -o "$T/x" 2>"$T/err"; then fail "--format with cpu accepted"; fi
	grep -q "is for --type threads" "$T/err" || fail "--format error message"
	if "$PROFD" --pid "$WL_PID" --type threads --format xml -o "$T/x" 2>"$T/err"; then fail "--format xml accepted"; fi
	grep -q "invalid --format 'xml'" "$T/err" || fail "--format xml message"
	# --format is a one-shot option: no INI key, refused in continuous mode.
	printf '[profd]\ntypes = threads\n' >"$T/f.ini"
	if "$PROFD" --config "$T/f.ini" --format text 2>"$T/err"; then fail "--format with --config accepted"; fi
	grep -q -- "--format is for one-shot runs" "$T/err" || fail "--format with --config message"
	# Without --output the text form is named .txt, in the working directory;
	# --duration means nothing to a snapshot: warned, not waited for.
	(cd "$T" && "$PROFD" --pid "$WL_PID" --type threads --format text --duration 60s 2>"$T/err") ||
		{ cat "$T/err" >&2; fail "--format text without --output"; }
	ls "$T"/threads-"$WL_PID"-*.txt >/dev/null 2>&1 || { ls "$T" >&2; fail "default .txt name"; }
	[ "$(head -1 "$T"/threads-"$WL_PID"-*.txt)" = "threads profile: total $TM_TOTAL" ] || fail "default-named text"
	grep -q -- "--duration ignored" "$T/err" || fail "--duration not warned about"
}

test_threads_host_wide() {
	require_root
	start_mix
	local tags top
	"$PROFD" --type threads --output "$T/host.pb.gz" 2>"$T/profd.err" ||
		{ cat "$T/profd.err" >&2; fail "host snapshot failed"; }
	tags=$(pprof -tags "$T/host.pb.gz")
	[ "$(tag_count pid "$WL_PID" <<<"$tags")" = "$TM_TOTAL" ] ||
		{ echo "$tags" | head -30 >&2; fail "host snapshot holds the workload's $TM_TOTAL threads"; }
	# Other processes too: this shell, and kernel threads (kthreadd, pid 2).
	[ "$(tag_count pid $$ <<<"$tags")" = 1 ] || fail "host snapshot holds the test's shell ($$)"
	[ "$(tag_count pid 2 <<<"$tags")" = 1 ] || fail "host snapshot holds kthreadd (pid 2)"
	top=$(pprof -top -nodecount=200 -tagfocus=pid="$WL_PID" "$T/host.pb.gz")
	[ "$(cum_of sleep_here <<<"$top")" = "$TM_N" ] || fail "sleepers in the host snapshot"
	[ "$(cum_of wait_for_held <<<"$top")" = "$TM_C" ] || fail "waiters in the host snapshot"
	check_deadlock_report "$(cat "$T/profd.err")"
}

test_threads_http_and_continuous() {
	require_root
	start_mix
	local w=$WL_PID base top code m f
	cat >"$T/profd.ini" <<EOF2
[profd]
group_by = process
interval = 2s
types = threads
output_dir = $T/out
[http]
listen = 127.0.0.1:0
EOF2
	"$PROFD" --config "$T/profd.ini" --pid "$w" 2>"$T/agent.err" &
	local ag=$!
	WL_PIDS+=("$ag")
	for i in $(seq 100); do
		grep -qs "serving /debug/pprof/" "$T/agent.err" && break
		sleep 0.1
	done
	port=$(sed -n 's|.*serving /debug/pprof/ and /metrics on http://[^ ]*:\([0-9][0-9]*\)/.*|\1|p' "$T/agent.err" | tail -1)
	[ -n "$port" ] || { cat "$T/agent.err" >&2; fail "agent did not serve HTTP"; }
	base="http://127.0.0.1:$port/debug/pprof"
	for ep in goroutine threads; do
		curl -sf -o "$T/$ep.pb.gz" "$base/$ep?pid=$w" || fail "GET $ep"
		check_mix_profile "$T/$ep.pb.gz"
	done
	# go tool pprof straight from the URL.
	top=$(pprof -top -nodecount=200 "$base/goroutine?pid=$w")
	[ "$(cum_of sleep_here <<<"$top")" = "$TM_N" ] || fail "go tool pprof over HTTP"
	[ "$(curl -sf "$base/threads?pid=$w&debug=1" | head -1)" = "threads profile: total $TM_TOTAL" ] ||
		fail "?debug=1"
	check_deadlock_report "$(curl -sf "$base/goroutine?pid=$w&debug=2" | sed -n '/^# waits for mutexes:/,$p')"
	[ "$(curl -sf "$base/goroutine?pid=$w&debug=2" | grep -c '^thread [0-9]* ')" = "$TM_TOTAL" ] || fail "?debug=2 blocks"
	code=$(curl -s -o /dev/null -w '%{http_code}' "$base/threads?pid=$w&debug=3")
	[ "$code" = 400 ] || fail "?debug=3 gave $code"
	code=$(curl -s -o /dev/null -w '%{http_code}' "$base/threads")
	[ "$code" = 400 ] || fail "threads without pid gave $code"
	code=$(curl -s -o /dev/null -w '%{http_code}' "$base/threads?pid=4000000")
	[ "$code" = 404 ] || fail "threads of no process gave $code"
	# Continuous: one snapshot per interval for the process.
	for i in $(seq 100); do
		[ "$(find "$T/out" -name 'threads-*.pb.gz' 2>/dev/null | wc -l)" -ge 2 ] && break
		sleep 0.1
	done
	f=$(find "$T/out" -path "*/$w/threads-*.pb.gz" | sort | head -1)
	[ -n "$f" ] || { find "$T/out" >&2; fail "no continuous threads profile for $w"; }
	check_mix_profile "$f"
	m=$(curl -sf "http://127.0.0.1:$port/metrics")
	grep -q '^profd_threads_deadlocks 1$' <<<"$m" || { grep threads <<<"$m" >&2; fail "deadlock gauge"; }
	grep -q "^profd_threads_last_snapshot_threads $TM_TOTAL\$" <<<"$m" ||
		{ grep threads <<<"$m" >&2; fail "threads gauge"; }
	grep -q '^# TYPE profd_threads_last_snapshot_walk_microseconds gauge$' <<<"$m" || fail "walk gauge"
	grep -Eq '^profd_threads_snapshots_total [1-9][0-9]*$' <<<"$m" || fail "snapshots counter"
	kill -TERM "$ag"
	wait "$ag" || { tail -20 "$T/agent.err" >&2; fail "agent exit status"; }
}

# 1,000 threads: every one counted, and the process never stopped — its
# spinner keeps burning CPU while profd reads, and no tracer attaches.
test_threads_1000_target_keeps_running() {
	require_root
	start_workload threads_mix 1000 0 0 0 1
	local spin u0 u1 states top
	spin=$(tid_of spinner)
	u0=$(awk '{ print $14 }' "/proc/$WL_PID/task/$spin/stat")
	( while :; do
		awk '{ print $3 }' "/proc/$WL_PID/task/$spin/stat"
		grep '^TracerPid:' "/proc/$WL_PID/status"
	  done >"$T/states" 2>/dev/null ) &
	local mon=$!
	"$PROFD" --pid "$WL_PID" --type threads --output "$T/k.pb.gz" 2>"$T/profd.err" ||
		{ kill $mon; cat "$T/profd.err" >&2; fail "profd failed"; }
	kill $mon; wait $mon 2>/dev/null || true
	u1=$(awk '{ print $14 }' "/proc/$WL_PID/task/$spin/stat")
	top=$(pprof -top -nodecount=50 "$T/k.pb.gz")
	[ "$(cum_of sleep_here <<<"$top")" = 1000 ] || fail "1000 sleepers counted"
	assert_contains "$top" "Total samples = 1005" "every thread once"
	[ "$u1" -gt "$u0" ] || fail "the spinner did not run during the snapshot"
	grep -q '^R$' "$T/states" || fail "state monitor saw nothing"
	! grep -Eq '^(T|t)$' "$T/states" || fail "the spinner was stopped"
	! grep -Eq '^TracerPid:[[:space:]]*[1-9]' "$T/states" || fail "a tracer attached"
	note "1000 threads; spinner ran $((u1 - u0)) ticks during the snapshot; $(grep -o 'walk [0-9.]* ms + user stacks [0-9.]* ms' "$T/profd.err")"
}

# Priority-inheritance mutexes wait in FUTEX_LOCK_PI: the owner comes from
# the lock word. Two waiters behind a holder that pauses.
test_threads_pi_mutex_chain() {
	require_root
	start_workload threads_mix 0 0 0 0 0 2
	local h dump
	h=$(tid_of pi-holder)
	"$PROFD" --pid "$WL_PID" --type threads --format dump --output "$T/pi.txt" 2>"$T/profd.err" ||
		{ cat "$T/profd.err" >&2; fail "profd failed"; }
	grep -q "^2 threads wait for a mutex held by thread $h \"pi-holder\", which sleeps in pause$" "$T/profd.err" ||
		{ cat "$T/profd.err" >&2; fail "PI chain behind $h"; }
	dump=$(cat "$T/pi.txt")
	[ "$(grep -c "^waits for mutex 0x[0-9a-f]* held by thread $h \"pi-holder\"$" <<<"$dump")" = 2 ] ||
		fail "two PI waiter lines"
	[ "$(grep -Ec '^syscall futex\(0x[0-9a-f]+, 0x86, ' <<<"$dump")" = 2 ] || fail "FUTEX_LOCK_PI|PRIVATE waits"
	[ "$(grep -A1 -x pi_wait <<<"$dump" | grep -c 'threads_mix\.c:')" = 2 ] || fail "pi_wait frames"
	note "2 PI waiters behind $h"
}
