# SPDX-License-Identifier: Apache-2.0
# Python frames (issue 15): CPU profiles of Debian's /usr/bin/python3.11
# (non-PIE, libpython linked in, .symtab stripped) running
# tests/workloads/pywork.py, read back with `go tool pprof`.

PY311=/usr/bin/python3.11
PYWORK=$LIB_DIR/../workloads/pywork.py

# start_python PYTHON ARGS...: run pywork.py under PYTHON, wait for "ready".
start_python() {
	local py=$1 fifo
	shift
	[ -x "$py" ] || fail "$py is missing: Debian's python3.11 is required (apt-get install python3.11)"
	fifo=$T/ready.$RANDOM
	mkfifo "$fifo"
	"$py" "$PYWORK" "$@" >"$fifo" &
	WL_PID=$!
	WL_PIDS+=("$WL_PID")
	read -r -t 20 line <"$fifo" || fail "$py $PYWORK did not start"
	rm -f "$fifo"
	[ "$line" = ready ] || fail "pywork said '$line', not ready"
}

# traces_with_above LEAFWARD ROOTWARD < pprof -traces: samples (count of
# trace blocks) in which a frame matching LEAFWARD is above (leafward of) one
# matching ROOTWARD.
traces_with_above() {
	awk -v a="$1" -v b="$2" '/^-----/ { seen = 0; done = 0; next }
		$0 ~ a { seen = 1 } $0 ~ b && seen && !done { n++; done = 1 }
		END { print n + 0 }'
}

# Lines of pywork.py where hot_three() and hot_one() begin and end (def,
# first statement, return): run once per call, a few hundred nanoseconds
# of the milliseconds a call takes.
pywork_edge_lines() {
	awk '/^def hot_(three|one)\(/ { print NR; f = 1; next }
		f && /x = False|return x/ { print NR } /^def / { f = 0 }' "$PYWORK"
}

# The script's functions are frames with their .py file and lines: the
# share of hot_three in hot_three + hot_one is the one the workload measures
# in itself (thread CPU time of calls of each, 75%) within 5 points,
# recursion shows its depth, the caller of zlib's deflate sits above it, and
# the interpreter's own eval frames are replaced by the Python frames they
# run. Canaries of samples given to the wrong function or line: gap(), which
# does nothing and runs after each hot function, and the hot functions' first
# and last lines, which run once per call.
check_cpu_frames() {
	local truth three one ratio edge
	require_root
	start_python "$1" ratio 40 "$T/truth"
	read -r three one <"$T/truth" || fail "pywork wrote no ground truth"
	"$PROFD" --pid "$WL_PID" --type cpu --duration 10s --frequency 1999 --output "$T/py.pb.gz" \
		2>"$T/profd.err" || { cat "$T/profd.err" >&2; fail "profd failed"; }
	truth=$(awk -v a="$three" -v b="$one" 'BEGIN { printf "%.2f", 100 * a / (a + b) }')
	top=$(pprof -top -cum -nodecount=60 "$T/py.pb.gz")
	echo "$top" | grep -E 'pywork|EvalFrame|flat%' | sed 's/^/    | /' >&2
	three=$(cum_pct pywork.hot_three <<<"$top")
	one=$(cum_pct pywork.hot_one <<<"$top")
	ratio=$(awk -v a="$three" -v b="$one" 'BEGIN { printf "%.2f", 100 * a / (a + b) }')
	# The workload's own split is 75% on a quiet host; under heavy load
	# (another VM's guests on the same cores) it read 69%: the check is
	# profd against it, this one only catches a broken workload.
	assert_near "$truth" 75 8 "hot_three/(hot_three+hot_one) measured by the workload (thread_time)"
	assert_near "$ratio" "$truth" 5 "hot_three/(hot_three+hot_one) against the workload's own measure"
	assert_ge 0.3 "$(cum_pct pywork.gap <<<"$top")" "pywork.gap cum% (does nothing; not above 0.3)"
	edge=$(pprof -top -cum -lines -nodecount=400 "$T/py.pb.gz" |
		awk -v lines="$(pywork_edge_lines | tr '\n' ' ')" '
			BEGIN { n = split(lines, l, " "); for (i = 1; i <= n; i++) want[l[i]] = 1 }
			$(NF-1) ~ /^pywork\.hot_(three|one)$/ && $5 ~ /%$/ {
				split($NF, fl, ":"); if (fl[length(fl)] in want) { sub("%", "", $5); s += $5 } }
			END { printf "%.2f", s + 0 }')
	note "hot_three and hot_one: first and last lines $edge% of all samples"
	assert_ge "$(awk -v a="$three" -v b="$one" 'BEGIN { print (a + b) / 100 }')" "$edge" \
		"cum% on hot_three's and hot_one's first and last lines (not above 1% of theirs)"
	# Every sample runs under pywork.loop: Python frames reach the root.
	assert_ge "$(cum_pct pywork.loop <<<"$top")" 95 "pywork.loop cum%"
	assert_ge "$(cum_pct pywork.recurse <<<"$top")" 2 "pywork.recurse cum%"
	assert_ge "$(cum_pct pywork.compress_caller <<<"$top")" 2 "pywork.compress_caller cum%"
	# Eval frames are replaced by the Python frames they run (a few may
	# stay: samples in the eval prologue before the frame is pushed).
	assert_ge 3 "$(cum_pct _PyEval_EvalFrameDefault <<<"$top")" "_PyEval_EvalFrameDefault cum% (replaced)"
	traces=$(pprof -traces "$T/py.pb.gz")
	# Recursion: recurse(12) down to 0 = 13 frames of recurse in a sample
	# (in a row from 3.11 on; 3.10 has a native eval frame between each).
	depth=$(awk '/^-----/ { n = 0; next } /pywork.recurse$/ { n++; if (n > max) max = n }
		END { print max + 0 }' <<<"$traces")
	assert_near "$depth" 13 0 "most pywork.recurse frames in one sample"
	# zlib.compress: libz's deflate is leafward of its Python caller.
	assert_ge "$(traces_with_above 'deflate' 'pywork.compress_caller$' <<<"$traces")" 3 \
		"samples with deflate above pywork.compress_caller"
	# -list works on the .py file, at the loop's lines.
	list=$(pprof -list 'pywork.hot_three$' "$T/py.pb.gz")
	echo "$list" | sed 's/^/    | /' | head -8 >&2
	assert_contains "$list" "ROUTINE .* pywork.hot_three in .*tests/workloads/pywork.py" "-list routine and file"
	assert_contains "$list" "[0-9.]*m\?s .*x = not x" "samples on the loop body's line"
	raw=$(pprof -raw "$T/py.pb.gz")
	assert_contains "$raw" "pywork.py" "the .py file name"
}

test_python311_cpu_frames() {
	check_cpu_frames "$PY311"
}

# pyenv_python 3.X: the pyenv build of 3.X (shared libpython), or a loud
# skip when this machine has none.
pyenv_python() {
	local root v
	root=$(pyenv root 2>/dev/null || echo "$HOME/.pyenv")
	[ -d "$root" ] || root=/root/.pyenv
	for v in "$root"/versions/"$1".*; do
		[ -x "$v/bin/python$1" ] && { echo "$v/bin/python$1"; return 0; }
	done
	return 1
}

# The same on pyenv's shared-libpython builds (frames found through the
# DSO's symbols and load bias; 3.12+ entry frames owned by the C stack).
test_python311_shared_cpu_frames() {
	py=$(pyenv_python 3.11) || skip "no pyenv build of Python 3.11"
	check_cpu_frames "$py"
}

test_python312_shared_cpu_frames() {
	py=$(pyenv_python 3.12) || skip "no pyenv build of Python 3.12"
	check_cpu_frames "$py"
}

test_python313_shared_cpu_frames() {
	py=$(pyenv_python 3.13) || skip "no pyenv build of Python 3.13"
	check_cpu_frames "$py"
}

test_python310_shared_cpu_frames() {
	py=$(pyenv_python 3.10) || skip "no pyenv build of Python 3.10"
	check_cpu_frames "$py"
}

# --- Python frames in threadcreate; the code-object cache across rescans --

# threadcreate: every thread started by threading.Thread(...).start() in
# pywork.spawn() has, rootward of the native pthread_create, the Python
# frames that started it: threading.Thread.start, pywork.spawn, its caller
# pywork.spawn_loop and pywork.main, in that order.
check_threadcreate_frames() {
	local traces total chained
	require_root
	start_python "$1" spawn 30
	"$PROFD" --pid "$WL_PID" --type threadcreate --duration 3s --output "$T/tc.pb.gz" \
		2>"$T/profd.err" || { cat "$T/profd.err" >&2; fail "profd failed"; }
	traces=$(pprof -traces "$T/tc.pb.gz")
	echo "$traces" | awk '/^-----/ { n++ } n == 1' | sed 's/^/    | /' >&2
	# Count of each trace block; chained: the frames in that order, leaf
	# to root, each found after (rootward of) the previous one.
	read -r total chained < <(awk '
		BEGIN { n = split("pthread_create threading.Thread.start$ pywork.spawn$ " \
				  "pywork.spawn_loop$ pywork.main$", want, " ") }
		function flush() { if (w) { total += w; if (k > n) chained += w } w = 0; k = 1 }
		/^-----/ { flush(); next }
		$1 ~ /^[0-9]+$/ && NF >= 2 { w = $1; k = 1; $1 = "" }
		w && k <= n && $NF ~ want[k] { k++ }
		END { flush(); print total + 0, chained + 0 }' <<<"$traces")
	note "threadcreate: $chained of $total thread creations under the Python frames that started them"
	assert_ge "$total" 50 "threads created in 3 s (pywork starts ~360 a second)"
	assert_ge "$chained" "$(awk -v t="$total" 'BEGIN { print t * 0.99 }')" \
		"thread creations with pthread_create < Thread.start < spawn < spawn_loop < main"
}

test_python311_threadcreate_frames() {
	check_threadcreate_frames "$PY311"
}

test_python313_shared_threadcreate_frames() {
	py=$(pyenv_python 3.13) || skip "no pyenv build of Python 3.13"
	check_threadcreate_frames "$py"
}

# The code objects of a process are read once, not again at each rescan of
# its mappings: pywork's machine_spin() runs native code in a new mapping
# every ~40 ms, so profd rescans the process (at most once a second); every
# rescan keeps the cache (same process, same exec, same interpreter), and
# profd reads about as many code objects as the profile has Python functions.
test_python311_code_cache_across_rescans() {
	local scans reads kept funcs
	require_root
	start_python "$PY311" remap 30
	"$PROFD" --pid "$WL_PID" --type cpu --duration 6s --frequency 499 --output "$T/rs.pb.gz" \
		2>"$T/profd.err" || { cat "$T/profd.err" >&2; fail "profd failed"; }
	grep -E "scans|python:" "$T/profd.err" | sed 's/^/    | /' >&2
	scans=$(sed -n 's/.* \([0-9][0-9]*\) scans, built.*/\1/p' "$T/profd.err")
	reads=$(sed -n 's/.*python: .*code objects: \([0-9][0-9]*\) read.*/\1/p' "$T/profd.err")
	kept=$(sed -n 's/.* \([0-9][0-9]*\) rescans kept the cache.*/\1/p' "$T/profd.err")
	[ -n "$scans" ] && [ -n "$reads" ] && [ -n "$kept" ] || fail "profd logged no scan or python counters"
	funcs=$(pprof -raw "$T/rs.pb.gz" | sed -n '/^Locations/,$p' | grep -o '[^ ]* [^ ]*\.py:' | sort -u | wc -l)
	assert_ge "$scans" 4 "scans of the process's mappings (one at start, then rescans)"
	# Every rescan keeps the cache; one more python rescan when the first
	# scan ran (beside the collector's load) before the walkers' map existed.
	assert_ge "$kept" "$((scans - 1))" "rescans that kept the code-object cache"
	assert_ge "$scans" "$kept" "rescans that kept the code-object cache (at most one per scan)"
	assert_ge "$funcs" 5 "Python functions in the profile"
	assert_ge "$((funcs + 2))" "$reads" "code objects read (not above the profile's $funcs Python functions + 2)"
}

# ... and dropped on exec: a process that execs the same non-PIE python3.11
# keeps its pid, start time and interpreter mapping; profd registers the new
# image as a new interpreter (its code objects are other ones) and names the
# functions that run after the exec.
test_python311_code_cache_dropped_on_exec() {
	local procs top
	require_root
	start_python "$PY311" exec 8
	"$PROFD" --pid "$WL_PID" --type cpu --duration 6s --frequency 499 --output "$T/ex.pb.gz" \
		2>"$T/profd.err" || { cat "$T/profd.err" >&2; fail "profd failed"; }
	grep -E "scans|python:" "$T/profd.err" | sed 's/^/    | /' >&2
	procs=$(sed -n 's/.*python: \([0-9][0-9]*\) interpreters registered.*/\1/p' "$T/profd.err")
	assert_near "${procs:-0}" 2 0 "interpreters registered (before and after the exec)"
	top=$(pprof -top -cum -nodecount=80 "$T/ex.pb.gz")
	assert_ge "$(cum_pct pywork.hot_three <<<"$top")" 10 "pywork.hot_three cum% (after the exec)"
}

# A version profd has no layout for (3.9) is reported once and its frames
# stay native.
test_python39_reported_native() {
	require_root
	py=$(pyenv_python 3.9) || skip "no pyenv build of Python 3.9"
	start_python "$py" ratio 8
	"$PROFD" --pid "$WL_PID" --type cpu --duration 3s --frequency 499 --output "$T/p9.pb.gz" \
		2>"$T/profd.err" || { cat "$T/profd.err" >&2; fail "profd failed"; }
	n=$(grep -c "python: CPython 3.9 .*frames stay native" "$T/profd.err" || true)
	assert_near "$n" 1 0 "warnings about the unsupported interpreter"
	top=$(pprof -top -cum -nodecount=40 "$T/p9.pb.gz")
	assert_ge "$(cum_pct _PyEval_EvalFrameDefault <<<"$top")" 90 "native eval frames kept"
	assert_not_contains "$top" "pywork" "Python frames"
}

# Two threads running the same functions: each has its own Python stack.
test_python311_threads() {
	require_root
	start_python "$PY311" threads 10
	"$PROFD" --pid "$WL_PID" --type cpu --duration 6s --frequency 499 --output "$T/pyt.pb.gz" \
		2>"$T/profd.err" || { cat "$T/profd.err" >&2; fail "profd failed"; }
	tids=$(pprof -tags -tagfocus='pid='"$WL_PID" "$T/pyt.pb.gz" |
		awk '/^ *tid:/ { on = 1; next } /^ *[a-z]+:/ { on = 0 } on && NF { print $NF }')
	n=0
	for tid in $tids; do
		[ "$tid" = "$WL_PID" ] && continue
		top=$(pprof -top -cum -relative_percentages -tagfocus="tid=$tid" -nodecount=40 "$T/pyt.pb.gz")
		c=$(cum_pct pywork.loop <<<"$top")
		note "tid $tid: pywork.loop cum $c%, hot_three $(cum_pct pywork.hot_three <<<"$top")%"
		awk -v c="$c" 'BEGIN { exit !(c >= 90) }' && n=$((n + 1))
	done
	assert_near "$n" 2 0 "worker threads whose samples run under pywork.loop"
}

# Host-wide: the Python process is found without --pid.
test_python311_host_wide() {
	require_root
	start_python "$PY311" ratio 12
	"$PROFD" --type cpu --duration 6s --frequency 499 --output "$T/pyh.pb.gz" 2>"$T/profd.err" ||
		{ cat "$T/profd.err" >&2; fail "profd failed"; }
	top=$(pprof -top -cum -relative_percentages -tagfocus="pid=$WL_PID" -nodecount=40 "$T/pyh.pb.gz")
	echo "$top" | grep -E 'pywork|_start' | sed 's/^/    | /' >&2
	# Samples taken before profd discovered the process have no unwind
	# tables yet (a lone eval frame); every sample whose walk reaches _start
	# holds the Python frames.
	start=$(cum_pct _start <<<"$top")
	assert_ge "$start" 20 "_start cum% of the Python process"
	assert_near "$(cum_pct pywork.loop <<<"$top")" "$start" 3 "pywork.loop cum% against _start cum%"
	three=$(cum_pct pywork.hot_three <<<"$top")
	one=$(cum_pct pywork.hot_one <<<"$top")
	assert_near "$(awk -v a="$three" -v b="$one" 'BEGIN { printf "%.2f", 100 * a / (a + b) }')" \
		75 8 "hot_three/(hot_three+hot_one)"
}

# GIL contention: two CPU-bound threads each wait for the GIL the other
# holds. The block profile shows the waits (pthread_cond_timedwait in the
# interpreter's take_gil) under the Python function and line that waited.
test_python311_gil_block() {
	require_root
	start_python "$PY311" gil 10
	"$PROFD" --pid "$WL_PID" --type block --duration 5s --output "$T/gil.pb.gz" 2>"$T/profd.err" ||
		{ cat "$T/profd.err" >&2; fail "profd failed"; }
	top=$(pprof -top -cum -nodecount=40 "$T/gil.pb.gz")
	echo "$top" | grep -E 'pywork|cond_timedwait|flat%' | sed 's/^/    | /' >&2
	assert_ge "$(cum_pct pywork.gil_spin <<<"$top")" 95 "pywork.gil_spin cum% of the waits"
	assert_ge "$(cum_pct pywork.hot_one <<<"$top")" 80 "pywork.hot_one cum% of the waits"
	assert_ge "$(cum_pct ___pthread_cond_timedwait64 <<<"$top")" 60 "GIL condition wait cum%"
	list=$(pprof -list 'pywork.hot_one$' "$T/gil.pb.gz")
	assert_contains "$list" "ROUTINE .* pywork.hot_one in .*pywork.py" "-list on the waiting function"
}

# ---- GIL waits in the mutex profile; Python frames in the threads snapshot ----

# start_pyscript PYTHON SCRIPT ARGS...: tests/workloads/SCRIPT under PYTHON,
# once it said "ready [WORDS]"; WL_READY holds the WORDS.
start_pyscript() {
	local py=$1 script=$LIB_DIR/../workloads/$2 fifo line
	shift 2
	[ -x "$py" ] || fail "$py is missing: Debian's python3.11 is required (apt-get install python3.11)"
	fifo=$T/pyready.$RANDOM
	mkfifo "$fifo"
	"$py" "$script" "$@" >"$fifo" 2>"$T/py.err" &
	WL_PID=$!
	WL_PIDS+=("$WL_PID")
	read -r -t 20 line <"$fifo" || { cat "$T/py.err" >&2; fail "$py $script did not start"; }
	rm -f "$fifo"
	[ "${line%% *}" = ready ] || fail "$script said '$line', not ready"
	WL_READY=${line#ready}
}

# ns_at NAME < pprof -top -unit=ns: the cum delay of the node NAME, 0 if none.
ns_at() {
	awk -v f="$1" '{ name = $0; sub(/^ *[^ ]+ +[^ ]+ +[^ ]+ +[^ ]+ +[^ ]+ +/, "", name) }
		name == f { v = $4; sub("ns$", "", v); print v; found = 1; exit }
		END { if (!found) print 0 }'
}

# run_ns PID TID: the thread's time on a CPU so far, in ns (schedstat).
run_ns() {
	awk '{ print $1 }' "/proc/$1/task/$2/schedstat"
}

# rq_ns PID TID: nanoseconds thread TID waited for a CPU while runnable.
rq_ns() {
	awk '{ print $2 }' "/proc/$1/task/$2/schedstat"
}

# GIL contention (tests/workloads/pygil.py): two threads compute in pure
# Python, spin_a and spin_b; one holds the GIL, the other waits for it.
# The mutex profile holds those waits under a "Python GIL" frame with the
# label lock=GIL, leafward of the Python function and line of each thread.
#
# Ground truth, from the kernel's schedstat of each thread over the window
# from profd's "profiling" to its exit (the 4 s it records, then its write):
# a spinner blocks for
# nothing but the GIL, so its blocked time, E less its time on a CPU and
# its time waiting for one, is GIL wait (measured: the profile's wait is
# 0.96-1.17x that; more because a wait ends when the thread runs again,
# after its runqueue wait). "Each waits as long as the other ran" holds only
# on an idle machine: with other load (a kernel guest beside the tests)
# a woken waiter queues for a CPU, which is no GIL wait (0.57x the other's
# run time was read so). Lower bound 0.8x the blocked time in the 4 s
# recorded. Upper bound: a thread waits at most while it does not run, the
# window E around profd less its own run time, and the two together at
# most W x threads.
check_gil_mutex() {
	require_root
	local py=$1 out=$T/gil-mutex.pb.gz top a b gil traces list tid_a tid_b ra0 rb0 ra rb qa0 qb0 qa qb t0 e f n tids
	local t1 tend ra1 rb1 qa1 qb1 ba bb
	start_pyscript "$py" pygil.py 20
	read -r tid_a tid_b <<<"$WL_READY"
	t0=$(date +%s%N)
	ra0=$(run_ns "$WL_PID" "$tid_a")
	rb0=$(run_ns "$WL_PID" "$tid_b")
	qa0=$(rq_ns "$WL_PID" "$tid_a")
	qb0=$(rq_ns "$WL_PID" "$tid_b")
	run_profd_bg --pid "$WL_PID" --type mutex --duration 4s --output "$out"
	# From "profiling" on, waits are recorded (for 4 s of this window).
	t1=$(date +%s%N)
	ra1=$(run_ns "$WL_PID" "$tid_a")
	rb1=$(run_ns "$WL_PID" "$tid_b")
	qa1=$(rq_ns "$WL_PID" "$tid_a")
	qb1=$(rq_ns "$WL_PID" "$tid_b")
	wait_profd
	tend=$(date +%s%N)
	ra=$(($(run_ns "$WL_PID" "$tid_a") - ra0))
	rb=$(($(run_ns "$WL_PID" "$tid_b") - rb0))
	qa=$(($(rq_ns "$WL_PID" "$tid_a") - qa0))
	qb=$(($(rq_ns "$WL_PID" "$tid_b") - qb0))
	e=$((tend - t0))
	# Blocked time from "profiling" to the end, the part of it in the 4 s
	# profd records (the rest is its drain and write; blocking is steady).
	ba=$(((tend - t1 - (ra0 + ra - ra1) - (qa0 + qa - qa1)) / 1000))
	bb=$(((tend - t1 - (rb0 + rb - rb1) - (qb0 + qb - qb1)) / 1000))
	ba=$(awk -v b="$ba" -v w="$((tend - t1))" 'BEGIN { printf "%d", b * 1000 * (w > 4e9 ? 4e9 / w : 1) }')
	bb=$(awk -v b="$bb" -v w="$((tend - t1))" 'BEGIN { printf "%d", b * 1000 * (w > 4e9 ? 4e9 / w : 1) }')
	top=$(pprof -top -cum -sample_index=delay -unit=ns -nodecount=80 "$out")
	echo "$top" | grep -E 'GIL|pygil|flat%' | sed 's/^/    | /' >&2
	gil=$(ns_at "Python GIL" <<<"$top")
	a=$(ns_at pygil.spin_a <<<"$top")
	b=$(ns_at pygil.spin_b <<<"$top")
	note "GIL waits: spin_a $a ns (spin_b ran $rb ns), spin_b $b ns (spin_a ran $ra ns), $gil ns in all; window $e ns"
	note "blocked while recorded (window from 'profiling' - run - runqueue): spin_a $ba ns, spin_b $bb ns; runqueue waits $qa, $qb ns"
	# A spinner blocks only for the GIL: its blocked time (the window less
	# its time on a CPU and waiting for one, by the kernel's schedstat) is
	# GIL wait. The window starts at "profiling" (the start-up's waits are
	# not recorded: under load, reading from before it gave 0.71x).
	assert_ge "$a" $((ba * 8 / 10)) "GIL wait of pygil.spin_a against its blocked time"
	assert_ge "$b" $((bb * 8 / 10)) "GIL wait of pygil.spin_b against its blocked time"
	assert_ge $((e - ra)) "$a" "GIL wait of pygil.spin_a against the time it did not run"
	assert_ge $((e - rb)) "$b" "GIL wait of pygil.spin_b against the time it did not run"
	assert_ge $((4000000000 * 2)) "$gil" "GIL wait in all against W x threads"
	# The GIL waits are the spinners' (a main thread in join() waits for
	# no GIL), and all of the profile is GIL waits.
	assert_ge "$((a + b))" $((gil * 95 / 100)) "spin_a + spin_b against the GIL waits"
	# Each spinner's waits are its own thread's.
	for f in spin_a spin_b; do
		tids=$(pprof -tags -sample_index=delay -focus="pygil.$f\$" "$out" |
			awk '/^ *tid:/ { on = 1; next } /^ *[a-z]+:/ { on = 0 } on && NF { print $NF }')
		n=$(wc -w <<<"$tids")
		assert_near "$n" 1 0 "threads whose waits are under pygil.$f"
	done
	traces=$(pprof -traces -sample_index=delay "$out")
	assert_contains "$traces" "lock: *GIL" "the lock=GIL label"
	assert_ge "$(traces_with_above '^ *[0-9.]+[mun]?s +Python GIL$' 'pygil.spin_[ab]$' <<<"$traces")" 2 \
		"traces with the GIL frame leafward of a spinner"
	assert_not_contains "$traces" "_PyEval_EvalFrameDefault" "eval frames replaced by Python frames"
	# -list: the delay is on the loop's line (its backward jump checks for a
	# drop request and takes the GIL back there).
	list=$(pprof -list 'pygil.spin_a$' -sample_index=delay "$out")
	echo "$list" | grep -E 'ROUTINE|SPIN_A_LINE' | sed 's/^/    | /' >&2
	assert_contains "$list" "ROUTINE .* pygil.spin_a in .*tests/workloads/pygil.py" "-list routine and file"
	assert_contains "$list" "[0-9.]\+m\?s .*SPIN_A_LINE" "delay on the loop's line"
	# -focus finds the contention by the frame's name.
	assert_contains "$(pprof -top -focus='Python GIL' -sample_index=delay "$out")" "pygil.spin_b" \
		"-focus='Python GIL'"
}

test_python311_gil_mutex() {
	check_gil_mutex "$PY311"
}

test_python310_shared_gil_mutex() {
	py=$(pyenv_python 3.10) || skip "no pyenv build of Python 3.10"
	check_gil_mutex "$py"
}

test_python312_shared_gil_mutex() {
	py=$(pyenv_python 3.12) || skip "no pyenv build of Python 3.12"
	check_gil_mutex "$py"
}

test_python313_shared_gil_mutex() {
	py=$(pyenv_python 3.13) || skip "no pyenv build of Python 3.13"
	check_gil_mutex "$py"
}

# The block profile gives the same GIL waits (with the handoffs, the
# spinners' only off-CPU intervals) the "Python GIL" frame and lock=GIL
# label, and a releasing thread's wait until the other took the GIL
# (drop_gil's forced switch: long when the taker waits for a CPU) the
# "Python GIL handoff" frame: all of spin_a's and spin_b's blocked time is
# under one of the two, leafward of their function.
check_gil_block_frame() {
	require_root
	local py=$1 out=$T/gil-block.pb.gz top a b gil handoff traces
	start_pyscript "$py" pygil.py 20
	"$PROFD" --pid "$WL_PID" --type block --duration 3s --output "$out" 2>"$T/profd.err" ||
		{ cat "$T/profd.err" >&2; fail "profd failed"; }
	top=$(pprof -top -cum -unit=ns -nodecount=80 "$out")
	echo "$top" | grep -E 'GIL|pygil|flat%' | sed 's/^/    | /' >&2
	gil=$(ns_at "Python GIL" <<<"$top")
	handoff=$(ns_at "Python GIL handoff" <<<"$top")
	a=$(ns_at pygil.spin_a <<<"$top")
	b=$(ns_at pygil.spin_b <<<"$top")
	assert_ge "$a" 300000000 "blocked time of pygil.spin_a (3 s, about half of it waiting)"
	assert_ge "$b" 300000000 "blocked time of pygil.spin_b"
	assert_ge "$gil" $(((a + b) * 4 / 10)) "the spinners' blocked time under the Python GIL frame"
	assert_ge "$((gil + handoff))" $(((a + b) * 95 / 100)) \
		"the spinners' blocked time under the Python GIL and GIL handoff frames"
	traces=$(pprof -traces "$out")
	assert_contains "$traces" "lock: *GIL" "the lock=GIL label"
	assert_ge "$(traces_with_above '[[:space:]]Python GIL$' 'pygil.spin_[ab]$' <<<"$traces")" 2 \
		"traces with the GIL frame leafward of a spinner"
}

test_python311_gil_block_frame() {
	check_gil_block_frame "$PY311"
}

test_python313_shared_gil_block_frame() {
	py=$(pyenv_python 3.13) || skip "no pyenv build of Python 3.13"
	check_gil_block_frame "$py"
}

# The threads snapshot (tests/workloads/pythreads.py): every thread of a
# Python process shows its Python frames, function, file and line, in
# place of the interpreter's eval frames: exactly NA threads in waiter_a
# (under threading.Event.wait and Condition.wait), NB in waiter_b, the
# main thread in main_wait, in the pprof profile and in the text form.
check_threads_frames() {
	require_root
	local py=$1 na=3 nb=2 out=$T/pythreads.pb.gz top traces list text f want ev cond run boot
	start_pyscript "$py" pythreads.py "$na" "$nb"
	"$PROFD" --pid "$WL_PID" --type threads --output "$out" 2>"$T/profd.err" ||
		{ cat "$T/profd.err" >&2; fail "profd failed"; }
	top=$(pprof -top -cum -nodecount=200 "$out")
	echo "$top" | grep -E 'pythreads|threading|EvalFrameDefault|flat%' | sed 's/^/    | /' >&2
	assert_contains "$top" "Total samples = $((na + nb + 1))" "one count per thread"
	# 3.10 has no co_qualname: its methods are named without their class.
	if [ "$("$py" -c 'import sys; print(sys.version_info[1])')" = 10 ]; then
		ev=threading.wait cond=threading.wait run=threading.run boot=threading._bootstrap
	else
		ev=threading.Event.wait cond=threading.Condition.wait run=threading.Thread.run
		boot=threading.Thread._bootstrap
	fi
	for f in pythreads.waiter_a:$na "$ev:$na" "$cond:$na" pythreads.waiter_b:$nb \
		"$run:$((na + nb))" pythreads.main_wait:1 'pythreads.<module>':1; do
		want=${f##*:}
		f=${f%:*}
		assert_near "$(awk -v f="$f" '$NF == f { print $4; found = 1; exit }
			END { if (!found) print 0 }' <<<"$top")" "$want" 0 "threads in $f"
	done
	assert_not_contains "$top" "_PyEval_EvalFrameDefault" "eval frames replaced by Python frames"
	traces=$(pprof -traces "$out")
	assert_ge "$(traces_with_above "$cond\$" 'pythreads.waiter_a$' <<<"$traces")" 1 \
		"$cond leafward of waiter_a"
	assert_ge "$(traces_with_above 'pythreads.waiter_b$' "$boot\$" <<<"$traces")" 1 \
		"waiter_b leafward of $boot"
	list=$(pprof -list 'pythreads.waiter_[ab]$|pythreads.main_wait$' "$out")
	echo "$list" | grep -E 'ROUTINE|_LINE' | sed 's/^/    | /' >&2
	assert_contains "$list" "ROUTINE .* pythreads.waiter_a in .*tests/workloads/pythreads.py" "-list routine and file"
	assert_contains "$list" " $na .*ev.wait()  # WAIT_A_LINE" "waiter_a's threads on their line"
	assert_contains "$list" " $nb .*time.sleep(3600)  # WAIT_B_LINE" "waiter_b's threads on their line"
	assert_contains "$list" " 1 .*time.sleep(3600)  # MAIN_LINE" "the main thread on its line"
	# The text form (Go's ?debug=1) names the Python frames with file:line.
	"$PROFD" --pid "$WL_PID" --type threads --format text --output "$T/pythreads.txt" 2>"$T/profd.err" ||
		{ cat "$T/profd.err" >&2; fail "profd --format text failed"; }
	text=$(cat "$T/pythreads.txt")
	assert_contains "$text" "$(printf '^%s @ ' "$na")" "a group of the $na waiter_a threads"
	assert_contains "$text" "pythreads.waiter_a	.*workloads/pythreads.py:$(grep -n WAIT_A_LINE "$LIB_DIR/../workloads/pythreads.py" | cut -d: -f1)$" \
		"waiter_a with its file and line in the text form"
}

test_python311_threads_frames() {
	check_threads_frames "$PY311"
}

test_python310_shared_threads_frames() {
	py=$(pyenv_python 3.10) || skip "no pyenv build of Python 3.10"
	check_threads_frames "$py"
}

test_python312_shared_threads_frames() {
	py=$(pyenv_python 3.12) || skip "no pyenv build of Python 3.12"
	check_threads_frames "$py"
}

test_python313_shared_threads_frames() {
	py=$(pyenv_python 3.13) || skip "no pyenv build of Python 3.13"
	check_threads_frames "$py"
}

# ---- end of the GIL/threads block ----

# Allocations of 64 KiB bytearrays (served by libc malloc) are attributed
# to the Python function that makes them.
test_python311_allocs() {
	require_root
	start_python "$PY311" alloc 30
	"$PROFD" --pid "$WL_PID" --type allocs --duration 4s --output "$T/pya.pb.gz" 2>"$T/profd.err" ||
		{ cat "$T/profd.err" >&2; fail "profd failed"; }
	top=$(pprof -top -cum -nodecount=40 "$T/pya.pb.gz")
	echo "$top" | grep -E 'pywork|flat%|Total' | sed 's/^/    | /' >&2
	grep -E "samples|error|warning" "$T/profd.err" | sed 's/^/    | /' >&2 || true
	assert_ge "$(cum_pct pywork.alloc_big <<<"$top")" 95 "pywork.alloc_big cum% of allocated bytes"
	list=$(pprof -list 'pywork.alloc_big$' "$T/pya.pb.gz")
	assert_contains "$list" "MB .*keep.append(bytearray(65536))" "bytes on the allocating line"
}

# ---- pymalloc: Python's own allocator in heap and allocs profiles ----
# tests/workloads/pyheap.py keeps known bytes from four functions: small
# strings and bytes(100) (pymalloc, <= 512 bytes), 1.5 KB strings (pymalloc
# forwards them to malloc: counted once, at the pymalloc probe) and 1 MiB
# bytearrays (malloc). The truth is the sum of sys.getsizeof, which is what
# each object asked the allocator for (a bytearray's buffer has 1 byte more,
# its object 56 bytes more: < 0.01%).
PYHEAP=$LIB_DIR/../workloads/pyheap.py
PYHEAP_RATE=16384 # 32 MiB per function = 2048 samples: σ 2.2%
PYHEAP_TOL=12     # percent: ~5.5σ of the sampling at that rate (at 32 KiB, 3.7σ: failed 1 CI run in ~10)

# start_pyheap PYTHON SMALL_MIB BIG_MIB: pyheap.py keep, stdin on fd 8.
start_pyheap() {
	local py=$1 fifo gate
	[ -x "$py" ] || fail "$py is missing: Debian's python3.11 is required (apt-get install python3.11)"
	fifo=$T/pyready.$RANDOM
	gate=$T/pygate.$RANDOM
	mkfifo "$fifo" "$gate"
	env ${PYHEAP_ENV:-} "$py" "$PYHEAP" keep "$2" "$3" <"$gate" >"$fifo" 2>"$T/wl.err" &
	WL_PID=$!
	WL_PIDS+=("$WL_PID")
	exec 8>"$gate"
	exec 9<"$fifo"
	rm -f "$fifo" "$gate"
	read -r -t 20 line <&9 || fail "$py $PYHEAP did not start"
	[ "$line" = ready ] || fail "pyheap said '$line', not ready"
}

# pyheap_line WORD: the next line of pyheap.py, which must start with WORD.
pyheap_line() {
	read -r -t 60 line <&9 || { cat "$T/wl.err" >&2; fail "pyheap.py did not say $1"; }
	[ "${line%% *}" = "$1" ] || fail "pyheap said '$line', not $1"
	echo "$line"
}

# cum_bytes FUNC < pprof -top -unit=B output: FUNC's cum in bytes (0 if absent:
# give pprof a -nodecount above the profile's node count, or a function
# behind 60 busier native frames reads as 0).
cum_bytes() {
	awk -v f="$1" '$NF == f { v = $4; sub("B$", "", v); print v; found = 1; exit }
		END { if (!found) print 0 }'
}

# assert_bytes VALUE TRUTH WHAT: VALUE within PYHEAP_TOL% of TRUTH.
assert_bytes() {
	assert_near "$1" "$2" "$(awk -v t="$2" -v p="$PYHEAP_TOL" 'BEGIN { printf "%d", t * p / 100 }')" "$3"
}

# pyheap_kept_profile PROFD_ARGS...: a heap profile ($T/ph.pb.gz) of
# Debian's python3.11 running pyheap.py keep 32 32, stopped once it has kept
# its objects; KEPT gets its "kept ..." line.
pyheap_kept_profile() {
	start_pyheap "$PY311" 32 32
	run_profd_bg --pid "$WL_PID" --type heap --heap-sample-rate "$PYHEAP_RATE" --duration 120s \
		"$@" -o "$T/ph.pb.gz"
	echo go >&8
	KEPT=$(pyheap_line kept)
	kill -INT "$PROFD_PID"
	wait_profd
	exec 8>&- 9<&-
}

# assert_arenas VALUE ARENAS WHAT: VALUE (bytes) is ARENAS pymalloc arenas
# of 1 MiB (pymalloc's own count), give or take one, plus 2% for malloc
# calls sampled in the same function.
assert_arenas() {
	assert_near "$1" "$(($2 << 20))" "$(((1 << 20) + ($2 << 20) / 50))" "$3"
}

# check_pyheap PYTHON MODE: heap profile of pyheap.py keep 32 32 while the
# objects are kept (profd stopped by SIGINT), then with the objects dropped
# inside the window. MODE calls when pymalloc's own functions are probed
# (every request seen, the bytes asked for); arenas for Debian's python3.11,
# whose LTO build inlines pymalloc into its callers (str concatenation among
# them): small objects are counted by the 1 MiB arenas pymalloc maps for
# them, against pymalloc's own count of arenas mapped in each function;
# malloc with PYTHONMALLOC=malloc (everything through malloc, once).
check_pyheap() {
	local py=$1 mode=$2 kept s sb b h as asb top atop tol f
	require_root
	start_pyheap "$py" 32 32
	run_profd_bg --pid "$WL_PID" --type heap --heap-sample-rate "$PYHEAP_RATE" --duration 120s ${PYHEAP_PROFD_ARGS:-} \
		-o "$T/ph.pb.gz"
	echo go >&8
	kept=$(pyheap_line kept)
	read -r _ s sb b h as asb _ <<<"$kept"
	kill -INT "$PROFD_PID"
	wait_profd
	grep -E 'pymalloc|allocator calls' "$T/profd.err" | sed 's/^/    | /' >&2
	if [ "$mode" = calls ]; then
		assert_contains "$(cat "$T/profd.err")" "pymalloc probed in .*_PyObject_Malloc family" \
			"pymalloc's own functions probed"
	elif [ "$mode" = malloc ]; then
		assert_contains "$(cat "$T/profd.err")" "PYTHONMALLOC=malloc: pymalloc unused" \
			"pymalloc not probed under PYTHONMALLOC=malloc"
	else
		assert_contains "$(cat "$T/profd.err")" "pymalloc probed in .* by its arenas" \
			"pymalloc's arenas probed"
		note "pymalloc mapped $as arenas in small_keep, $asb in small_bytes_keep"
		[ "$as" -ge 16 ] && [ "$asb" -ge 16 ] ||
			fail "pymalloc says it mapped $as and $asb arenas for 32 MiB each"
	fi
	top=$(pprof -top -cum -unit=B -nodecount=1000 "$T/ph.pb.gz")
	echo "$top" | grep -E 'pyheap|Type:|flat%|arena' | sed 's/^/    | /' >&2
	assert_contains "$top" "Type: inuse_space" "heap profile"
	atop=$(pprof -top -cum -unit=B -sample_index=alloc_space -nodecount=1000 "$T/ph.pb.gz")
	if [ "$mode" != arenas ]; then
		assert_bytes "$(cum_bytes pyheap.small_keep <<<"$top")" "$s" "small_keep inuse_space (146-byte str)"
		assert_bytes "$(cum_bytes pyheap.small_keep <<<"$atop")" "$s" "small_keep alloc_space"
		assert_bytes "$(cum_bytes pyheap.small_bytes_keep <<<"$top")" "$sb" "small_bytes_keep inuse_space (bytes(100))"
		assert_bytes "$(cum_bytes pyheap.small_bytes_keep <<<"$atop")" "$sb" "small_bytes_keep alloc_space"
		assert_not_contains "$top" "Python pymalloc arena" "no arena frame"
	else
		assert_arenas "$(cum_bytes pyheap.small_keep <<<"$top")" "$as" "small_keep inuse_space (146-byte str: $as arenas)"
		assert_arenas "$(cum_bytes pyheap.small_keep <<<"$atop")" "$as" "small_keep alloc_space"
		assert_arenas "$(cum_bytes pyheap.small_bytes_keep <<<"$top")" "$asb" "small_bytes_keep inuse_space (bytes(100): $asb arenas)"
		assert_arenas "$(cum_bytes pyheap.small_bytes_keep <<<"$atop")" "$asb" "small_bytes_keep alloc_space"
		# The arenas are under their own frame, leafward of the stack.
		assert_arenas "$(pprof -top -unit=B -focus='^Python pymalloc arena$' -nodecount=1000 "$T/ph.pb.gz" |
			awk '$NF == "pyheap.small_keep" { v = $4; sub("B$", "", v); print v }')" "$as" \
			"small_keep's arenas under the 'Python pymalloc arena' frame"
	fi
	# Over 512 bytes pymalloc calls malloc: counted once (twice would be 2x).
	assert_bytes "$(cum_bytes pyheap.big_keep <<<"$top")" "$b" "big_keep inuse_space (1.5 KB str)"
	assert_bytes "$(cum_bytes pyheap.big_keep <<<"$atop")" "$b" "big_keep alloc_space"
	assert_bytes "$(cum_bytes pyheap.huge_keep <<<"$top")" "$h" "huge_keep inuse_space (1 MiB bytearray)"
	assert_bytes "$(cum_bytes pyheap.huge_keep <<<"$atop")" "$h" "huge_keep alloc_space"
	# -list shows the bytes at the allocating line of the .py file.
	assert_contains "$(pprof -list 'pyheap.small_bytes_keep$' "$T/ph.pb.gz")" \
		"MB .*keep\[j\] = bytes(100)" "-list: bytes on the allocating line"
	exec 8>&- 9<&-
	stop_workloads

	# The same objects dropped inside the window: frees are seen, inuse
	# falls to (near) zero and alloc_space keeps the totals.
	start_pyheap "$py" 32 32
	run_profd_bg --pid "$WL_PID" --type heap --heap-sample-rate "$PYHEAP_RATE" --duration 120s ${PYHEAP_PROFD_ARGS:-} \
		-o "$T/pd.pb.gz"
	echo go >&8
	kept=$(pyheap_line kept)
	read -r _ s sb b h as asb _ <<<"$kept"
	echo drop >&8
	pyheap_line dropped >/dev/null
	kill -INT "$PROFD_PID"
	wait_profd
	exec 8>&- 9<&-
	grep -E 'pymalloc|allocator calls|warn|error' "$T/profd.err" | sed 's/^/    | /' >&2
	top=$(pprof -top -cum -unit=B -nodecount=1000 "$T/pd.pb.gz")
	atop=$(pprof -top -cum -unit=B -sample_index=alloc_space -nodecount=1000 "$T/pd.pb.gz")
	echo "$atop" | grep -E 'pyheap|Type:|flat%|^Showing' | sed 's/^/    | /' >&2
	echo "$atop" | grep -q pyheap || echo "$atop" | head -30 | sed 's/^/    | /' >&2
	# With arenas, an arena's objects all freed is an arena unmapped
	# (pymalloc keeps at most one empty arena: 1 MiB more).
	for f in small_keep small_bytes_keep big_keep huge_keep; do
		tol=$(awk -v t="$b" 'BEGIN { printf "%d", t / 50 }')
		case $mode:$f in arenas:small*) tol=$(((1 << 20) + tol)) ;; esac
		assert_near "$(cum_bytes "pyheap.$f" <<<"$top")" 0 "$tol" "$f inuse_space after the drop"
	done
	if [ "$mode" = arenas ]; then
		assert_arenas "$(cum_bytes pyheap.small_bytes_keep <<<"$atop")" "$asb" "small_bytes_keep alloc_space after the drop"
	else
		assert_bytes "$(cum_bytes pyheap.small_bytes_keep <<<"$atop")" "$sb" "small_bytes_keep alloc_space after the drop"
	fi
	assert_bytes "$(cum_bytes pyheap.big_keep <<<"$atop")" "$b" "big_keep alloc_space after the drop"
}

# Debian's python3.11 by default: pymalloc's arenas (its fast paths are
# inlined at ~240 call sites no function probe sees).
test_python311_pymalloc_heap() {
	check_pyheap "$PY311" arenas
}

# The same interpreter with --python-allocator calls: the exported entry
# points only. bytes(100) (PyObject_Calloc) is seen request by request;
# str concatenation's inlined pymalloc is not (README).
test_python311_pymalloc_calls() {
	local s sb top
	require_root
	pyheap_kept_profile --python-allocator calls
	read -r _ s sb _ <<<"$KEPT"
	assert_contains "$(cat "$T/profd.err")" "pymalloc probed in .*exported entry points" \
		"pymalloc's exported functions probed"
	top=$(pprof -top -cum -unit=B -nodecount=1000 "$T/ph.pb.gz")
	echo "$top" | grep -E 'pyheap|Type:|flat%' | sed 's/^/    | /' >&2
	assert_bytes "$(cum_bytes pyheap.small_bytes_keep <<<"$top")" "$sb" "small_bytes_keep inuse_space (bytes(100))"
	assert_not_contains "$top" "Python pymalloc arena" "no arena frame"
	note "small_keep inuse_space $(cum_bytes pyheap.small_keep <<<"$top") of $s: str concatenation's inlined pymalloc is unseen by calls"
}

# pyenv's 3.12 by arenas (--python-allocator arenas) where calls would be
# the default: the same arena counts as Debian's 3.11.
test_python312_shared_pymalloc_arenas() {
	py=$(pyenv_python 3.12) || skip "no pyenv build of Python 3.12"
	PYHEAP_PROFD_ARGS="--python-allocator arenas" check_pyheap "$py" arenas
}

# --python-allocator off (a Python-heavy host that cannot pay ~3 us per
# Python allocation): pymalloc is not probed, bytes(100) (PyObject_Calloc)
# is unseen, what reaches malloc is counted there once, at its Python line:
# the 1.5 KB strings pymalloc forwards and the 1 MiB bytearrays.
test_python311_pymalloc_off() {
	local s sb b h top
	require_root
	pyheap_kept_profile --python-allocator off
	read -r _ s sb b h _ <<<"$KEPT"
	assert_contains "$(cat "$T/profd.err")" "pymalloc left unprobed (python_allocator = off)" \
		"the choice said"
	assert_not_contains "$(cat "$T/profd.err")" "pymalloc probed in" "no pymalloc probe"
	top=$(pprof -top -cum -unit=B -nodecount=1000 "$T/ph.pb.gz")
	echo "$top" | grep -E 'pyheap|Type:|flat%' | sed 's/^/    | /' >&2
	assert_near "$(cum_bytes pyheap.small_bytes_keep <<<"$top")" 0 "$((sb / 50))" \
		"small_bytes_keep inuse_space unprobed (< 2% of $sb)"
	assert_bytes "$(cum_bytes pyheap.big_keep <<<"$top")" "$b" "big_keep inuse_space, at malloc"
	assert_bytes "$(cum_bytes pyheap.huge_keep <<<"$top")" "$h" "huge_keep inuse_space, at malloc"
}

# PYTHONMALLOC=malloc: every object from malloc, each counted once (1 MiB
# bytearrays come from realloc(NULL, n), which tail-jumps to malloc).
test_python311_pythonmalloc_malloc_heap() {
	PYHEAP_ENV=PYTHONMALLOC=malloc check_pyheap "$PY311" malloc
}

test_python310_shared_pymalloc_heap() {
	py=$(pyenv_python 3.10) || skip "no pyenv build of Python 3.10"
	check_pyheap "$py" calls
}

test_python311_shared_pymalloc_heap() {
	py=$(pyenv_python 3.11) || skip "no pyenv build of Python 3.11"
	check_pyheap "$py" calls
}

test_python312_shared_pymalloc_heap() {
	py=$(pyenv_python 3.12) || skip "no pyenv build of Python 3.12"
	check_pyheap "$py" calls
}

test_python313_shared_pymalloc_heap() {
	py=$(pyenv_python 3.13) || skip "no pyenv build of Python 3.13"
	check_pyheap "$py" calls
}
