# SPDX-License-Identifier: Apache-2.0
# A one-shot cpu run reads its user frames' lines (DWARF: files, lines,
# inline chains) after its last drain, not while the workload runs, as
# perf report does; a process that exits before the end (its binary
# deleted) still gets them, through the files profd held open while it
# lived.

# late_loop spends its time in late_mix(), which is always inlined into it.
LATE_C='#include <stdio.h>
#include <stdlib.h>
#include <time.h>
volatile unsigned long sink;
static inline __attribute__((always_inline)) unsigned long late_mix(unsigned long x)
{
	x ^= x >> 13; /* MIX */
	x *= 0x9e3779b97f4a7c15UL;
	return x ^ (x >> 29);
}
__attribute__((noinline, noipa)) unsigned long late_loop(unsigned long n)
{
	unsigned long s = 0;
	for (unsigned long i = 0; i < n; i++)
		s += late_mix(i + s); /* HOT */
	return s;
}
int main(int argc, char **argv)
{
	long ms = argc > 1 ? atol(argv[1]) : 1000;
	struct timespec t0, t;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	printf("ready\n");
	fflush(stdout);
	do {
		sink += late_loop(100000);
		clock_gettime(CLOCK_MONOTONIC, &t);
	} while ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000 < ms);
	return 0;
}
'

late_build() {
	printf '%s' "$LATE_C" >"$T/late.c"
	cc -O2 -g -fno-omit-frame-pointer "$T/late.c" -o "$T/$1" || fail "cc -O2 -g late.c"
}

# late_check PROFILE PID: late_mix inlined into late_loop, with files and
# lines, in PID's samples.
late_check() {
	local top hot_line
	top=$(pprof -lines -top -nodecount=30 -tagfocus="pid=$2" "$1")
	echo "$top" | sed -n '/flat%/,+5p' | sed 's/^/    | /' >&2
	hot_line=$(grep -n 'HOT \*/' "$T/late.c" | cut -d: -f1)
	assert_contains "$top" " late_mix $T/late.c:[0-9]* (inline)$" "inlined late_mix with its file:line"
	assert_contains "$top" " late_loop $T/late.c:$hot_line$" "late_loop at the call of late_mix (line $hot_line)"
	# most of the loop's time is in the inlined code (percentages are of
	# the whole profile: a host-wide one has other processes)
	assert_ge "$(awk '/ late_mix .* \(inline\)$/ { sub("%", "", $2); m += $2 }
		/ late_loop / { sub("%", "", $2); l += $2 }
		END { print (m + l > 0 ? int(100 * m / (m + l)) : 0) }' <<<"$top")" 50 \
		"late_mix's share of the flat time of late_loop and late_mix"
}

# The DWARF of the workload and of libc is read after "cpu: last drain
# done" (profd's --verbose log), and profd does not have it mapped while
# the workload runs (its /proc/PID/maps after two drains).
test_cpu_late_user_lines_after_last_drain() {
	require_root
	late_build late
	start_prog "$T/late" 8000
	run_profd_bg --verbose --pid "$WL_PID" --duration 4s --frequency 299 --output "$T/late.pb.gz"
	sleep 2.5
	maps=$(cat "/proc/$PROFD_PID/maps")
	wait_profd
	mapped=$(grep -e " $T/late\$" -e " /usr/lib/debug/" <<<"$maps" || true)
	[ -z "$mapped" ] || { echo "$mapped" | sed 's/^/    | /' >&2; fail "DWARF mapped by profd while the workload ran"; }
	local last first n
	last=$(grep -n "cpu: last drain done" "$T/profd.err" | cut -d: -f1)
	[ -n "$last" ] || fail "no 'cpu: last drain done' in profd's log"
	grep "lines of .* opened" "$T/profd.err" | sed 's/^/    | /' >&2 || true
	grep -q "lines of $T/late opened" "$T/profd.err" || fail "the workload's lines never opened"
	first=$(grep -n "lines of .* opened" "$T/profd.err" | head -1 | cut -d: -f1)
	[ "$first" -gt "$last" ] || fail "lines opened at line $first of profd's log, its last drain at $last"
	n=$(grep -c "lines of .* user locations read at the end" "$T/profd.err" || true)
	[ "$n" = 1 ] || fail "no count of the locations given lines at the end"
	late_check "$T/late.pb.gz" "$WL_PID"
	raw=$(pprof -raw "$T/late.pb.gz")
	grep -E " $T/late( |\$)" <<<"$raw" | grep -q "\[FN\]\[FL\]\[LN\]\[IN\]" ||
		{ echo "$raw" | sed -n '/^Mappings/,$p' >&2; fail "the workload's mapping flags"; }
}

# A host-wide run; a process built with -g starts after profd, has its
# binary deleted, and exits 3 s before the end: its frames still have
# their files, lines and inlined functions.
test_cpu_late_short_lived_process_lines() {
	require_root
	late_build short
	run_profd_bg --verbose --duration 5s --frequency 299 --output "$T/short.pb.gz"
	start_prog "$T/short" 1600
	local spid=$WL_PID
	rm -f "$T/short"
	wait "$spid" || fail "the short-lived workload failed"
	kill -0 "$PROFD_PID" 2>/dev/null || fail "profd ended before the short-lived process"
	wait_profd
	grep -q "lines of $T/short opened" "$T/profd.err" || fail "the exited process's lines never opened"
	late_check "$T/short.pb.gz" "$spid"
	raw=$(pprof -raw "$T/short.pb.gz")
	grep -E " $T/short( |\$)" <<<"$raw" | grep -q "\[FN\]\[FL\]\[LN\]\[IN\]" ||
		{ echo "$raw" | sed -n '/^Mappings/,$p' >&2; fail "the exited process's mapping flags"; }
}
