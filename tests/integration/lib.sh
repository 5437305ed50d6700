# SPDX-License-Identifier: Apache-2.0
# Helpers for the integration tests: start workloads, run profd, read the
# profile with `go tool pprof` exactly as a user would, and assert.
# Each test runs in its own subshell with `set -e`; a failed assertion exits it.

: "${PROFD:?PROFD must name the profd binary}"
: "${WORKLOADS:?WORKLOADS must name the workload directory}"
PROFD=$(realpath "$PROFD")
WORKLOADS=$(realpath "$WORKLOADS")
LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

T=$(mktemp -d /tmp/profd-test.XXXXXX)
export HOME=$T PPROF_TMPDIR=$T   # go tool pprof writes nothing outside
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
WL_PIDS=()

fail() {
	echo "    FAIL: $*" >&2
	exit 1
}

note() {
	echo "    $*" >&2
}

# skip REASON: end the test as skipped (never as passed). run.sh counts it
# under "skipped", or as a failure under CI=true. Only for what a user's host
# may lack, never for a fixture that failed to build (that is a failure).
skip() {
	echo "    SKIP: $*" >&2
	[ -n "${SKIP_FILE:-}" ] && printf '%s\n' "$*" >"$SKIP_FILE"
	exit 77
}

require_root() {
	[ "$(id -u)" = 0 ] || fail "this test loads BPF programs and must run as root (it never skips)"
}

# start_workload NAME ARGS...: run a workload in the background, wait for its
# "ready" line, and set WL_PID.
start_workload() {
	local name=$1
	shift
	start_prog "$WORKLOADS/$name" "$@"
}

# start_prog PATH ARGS...: start a program that prints "ready" when it is
# set up, wait for that line, set WL_PID.
start_prog() {
	local fifo=$T/ready.$RANDOM line
	mkfifo "$fifo"
	"$@" >"$fifo" &
	WL_PID=$!
	WL_PIDS+=("$WL_PID")
	read -r -t 10 line <"$fifo" || fail "${1##*/} did not start"
	rm -f "$fifo"
	[ "$line" = ready ] || fail "${1##*/} said '$line', not ready"
}

stop_workloads() {
	local p
	for p in "${WL_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${WL_PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
	WL_PIDS=()
}

# pprof ARGS...: go tool pprof with its stderr kept apart (it prints
# symbolization notes there).
pprof() {
	go tool pprof "$@" 2>"$T/pprof.err" || { cat "$T/pprof.err" >&2; fail "go tool pprof $* failed"; }
}

# flat_pct FUNC < top-output: the flat% of FUNC (0 when absent).
flat_pct() {
	awk -v f="$1" '$NF == f && $2 ~ /%$/ { sub("%", "", $2); print $2; found = 1; exit }
		END { if (!found) print 0 }'
}

# cum_pct FUNC < top-output: the cum% of FUNC (0 when absent).
cum_pct() {
	awk -v f="$1" '$NF == f && $5 ~ /%$/ { sub("%", "", $5); print $5; found = 1; exit }
		END { if (!found) print 0 }'
}

# flat_ratio F1 F2 < top-output: 100 * flat(F1) / (flat(F1) + flat(F2)), a
# share that does not depend on what else the profile holds.
flat_ratio() {
	local top a b
	top=$(cat)
	a=$(flat_pct "$1" <<<"$top")
	b=$(flat_pct "$2" <<<"$top")
	awk -v a="$a" -v b="$b" 'BEGIN { printf "%.2f", (a + b > 0) ? 100 * a / (a + b) : 0 }'
}

# assert_near VALUE EXPECTED TOLERANCE WHAT
assert_near() {
	awk -v v="$1" -v e="$2" -v t="$3" 'BEGIN { d = v - e; if (d < 0) d = -d; exit !(d <= t) }' ||
		fail "$4: got $1, expected $2 ± $3"
	note "$4: $1 (expected $2 ± $3)"
}

# assert_ge VALUE MIN WHAT
assert_ge() {
	awk -v v="$1" -v m="$2" 'BEGIN { exit !(v >= m) }' || fail "$3: got $1, expected >= $2"
}

assert_contains() {
	grep -q -- "$2" <<<"$1" || { echo "$1" | head -40 >&2; fail "$3: '$2' not found"; }
}

assert_not_contains() {
	if grep -q -- "$2" <<<"$1"; then echo "$1" | head -40 >&2; fail "$3: '$2' found"; fi
}

# start_gated_workload NAME ARGS...: like start_workload, for workloads that
# wait for a line on stdin before doing their work (so profd can attach
# first); release_workload sends it. The workload's stderr goes to $T/wl.err.
start_gated_workload() {
	local name=$1 fifo gate
	shift
	fifo=$T/ready.$RANDOM
	gate=$T/gate.$RANDOM
	mkfifo "$fifo" "$gate"
	"$WORKLOADS/$name" "$@" <"$gate" >"$fifo" 2>"$T/wl.err" &
	WL_PID=$!
	WL_PIDS+=("$WL_PID")
	exec 8>"$gate"
	read -r -t 10 line <"$fifo" || fail "workload $name did not start"
	rm -f "$fifo" "$gate"
	[ "$line" = ready ] || fail "workload $name said '$line', not ready"
}

release_workload() {
	echo go >&8
	exec 8>&-
}

# value_of FUNC < top-output: the flat value of FUNC as pprof printed it.
flat_value() {
	awk -v f="$1" '$NF == f { print $1; found = 1; exit } END { if (!found) print 0 }'
}

# to_bytes 60002607B → 60002607 (use -unit=B with pprof).
to_bytes() {
	sed 's/B$//' <<<"$1"
}

# run_profd_bg ARGS...: profd in the background; returns once its probes
# are in place (it said "profiling").
run_profd_bg() {
	# An earlier run's "profiling" must not end the wait below before this
	# profd's shell has truncated the file (the heap tests' second runs
	# started their workload before profd attached, ~1 run in 20).
	rm -f "$T/profd.err"
	"$PROFD" "$@" 2>"$T/profd.err" &
	PROFD_PID=$!
	local i
	for i in $(seq 100); do
		grep -q "profiling" "$T/profd.err" 2>/dev/null && return 0
		kill -0 $PROFD_PID 2>/dev/null || { cat "$T/profd.err" >&2; fail "profd exited early"; }
		sleep 0.1
	done
	fail "profd did not start profiling"
}

wait_profd() {
	wait $PROFD_PID || { cat "$T/profd.err" >&2; fail "profd exited non-zero"; }
}

# short_lived_unwinds: five `unwind qsort` processes one after another,
# each killed after 0.8 s, started at a different phase against the
# profiler's 1 s drains each time; their pids in SL_PIDS.
short_lived_unwinds() {
	local i w
	SL_PIDS=()
	for i in 1 2 3 4 5; do
		sleep "0.$((i * 2 - 1))"
		"$WORKLOADS/unwind" qsort >/dev/null &
		w=$!
		sleep 0.8
		kill "$w"
		wait "$w" 2>/dev/null || true
		SL_PIDS+=("$w")
	done
}

# unwind_check ANCHOR EXTRA_RE THREAD [MIN_PCT]: the user stacks of $WL_PID
# in $T/u.raw (`go tool pprof -raw` of any profile type) against gdb's
# backtrace of thread THREAD (main|other) of the running workload, taken
# now (unwind_oracle.py, unwind_check.py): at least MIN_PCT% (99) of the
# samples must carry gdb's chain from a frame in ANCHOR down to the root,
# and every frame must be one gdb names in its backtrace or matches EXTRA_RE.
unwind_check() {
	local anchor=$1 extra=$2 thread=$3 min=${4:-99} out
	python3 "$LIB_DIR/unwind_check.py" addrs "$T/u.raw" "$WL_PID" >"$T/addrs"
	UNW_ADDRS=$T/addrs UNW_OUT=$T/oracle UNW_THREAD=$thread \
		timeout 60 gdb -p "$WL_PID" -batch -nx -x "$LIB_DIR/unwind_oracle.py" >"$T/gdb.out" 2>&1 ||
		{ tail -5 "$T/gdb.out" >&2; fail "gdb could not attach"; }
	local rc=0
	out=$(python3 "$LIB_DIR/unwind_check.py" check "$T/u.raw" "$WL_PID" "$T/oracle" \
		"$anchor" "$extra" "$min" 2>&1) || rc=$?
	echo "$out" | sed 's/^/    | /' >&2
	if [ $rc != 0 ]; then
		grep "unwinding:" "$T/profd.err" >&2 || true
		case $rc in
		3) fail "stacks differ from gdb's" ;;
		2) fail "unwind check: no verdict (too few samples or no $anchor frame)" ;;
		*) fail "unwind check: unwind_check.py failed (status $rc)" ;;
		esac
	fi
}

# unwind_check_fails ANCHOR EXTRA_RE THREAD MESSAGE [MIN_PCT]: the same
# comparison must find the callers lost: at least 100 samples of $WL_PID,
# gdb's backtrace through ANCHOR, and fewer than MIN_PCT% (50) of the samples
# complete. A walk that keeps the callers fails with MESSAGE; a profile the
# checker cannot judge (too few samples, no ANCHOR in gdb's backtrace, an
# error) fails too: a negative check must not pass on an empty profile. The
# checker's report is in $T/check.out.
unwind_check_fails() {
	local rc=0
	python3 "$LIB_DIR/unwind_check.py" addrs "$T/u.raw" "$WL_PID" >"$T/addrs"
	UNW_ADDRS=$T/addrs UNW_OUT=$T/oracle UNW_THREAD=$3 \
		timeout 60 gdb -p "$WL_PID" -batch -nx -x "$LIB_DIR/unwind_oracle.py" >"$T/gdb.out" 2>&1 ||
		{ tail -5 "$T/gdb.out" >&2; fail "gdb could not attach"; }
	python3 "$LIB_DIR/unwind_check.py" check "$T/u.raw" "$WL_PID" "$T/oracle" "$1" "$2" "${5:-50}" \
		>"$T/check.out" 2>&1 || rc=$?
	case $rc in
	3) ;;   # callers lost, as expected
	0) sed 's/^/    | /' "$T/check.out" >&2; fail "$4" ;;
	2) sed 's/^/    | /' "$T/check.out" >&2; fail "negative unwind check: no verdict (too few samples or no $1 frame)" ;;
	*) sed 's/^/    | /' "$T/check.out" >&2; fail "negative unwind check: unwind_check.py failed (status $rc)" ;;
	esac
}
