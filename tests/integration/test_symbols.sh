# SPDX-License-Identifier: Apache-2.0
# Symbolization (issue 6): programs built here with -g, split debug info,
# C++, a JIT with a perf map and a stripped Go binary, profiled by profd and
# read back with `go tool pprof -list/-top/-traces/-raw` as a user would.

# hot_loop spends its time in mix(), which is always inlined into it.
SYM_HOT_C='#include <stdio.h>
#include <stdlib.h>
#include <time.h>
volatile unsigned long sink;
static inline __attribute__((always_inline)) unsigned long mix(unsigned long x)
{
	x ^= x >> 13; /* MIX */
	x *= 0x9e3779b97f4a7c15UL;
	return x ^ (x >> 29);
}
__attribute__((noinline, noipa)) unsigned long hot_loop(unsigned long n)
{
	unsigned long s = 0;
	for (unsigned long i = 0; i < n; i++)
		s += mix(i + s); /* HOT */
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
		sink += hot_loop(100000);
		clock_gettime(CLOCK_MONOTONIC, &t);
	} while ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000 < ms);
	return 0;
}
'

SYM_CXX='#include <cstdio>
#include <cstdlib>
#include <ctime>
volatile unsigned long sink;
namespace app {
struct Worker {
	unsigned long k;
	__attribute__((noinline, noipa)) unsigned long run(unsigned long n) const
	{
		unsigned long s = 0;
		for (unsigned long i = 0; i < n; i++)
			s += (i * k) ^ (s >> 7);
		return s;
	}
};
template <typename T> __attribute__((noinline, noipa)) T churn(T n)
{
	T s = 0;
	for (T i = 0; i < n; i++)
		s += i * i % 13;
	return s;
}
}
int main(int argc, char **argv)
{
	long ms = argc > 1 ? std::atol(argv[1]) : 1000;
	app::Worker w{7};
	struct timespec t0, t;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	std::printf("ready\n");
	std::fflush(stdout);
	do {
		sink += w.run(100000) + app::churn<long>(50000);
		clock_gettime(CLOCK_MONOTONIC, &t);
	} while ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000 < ms);
	return 0;
}
'

# Copies jit_template into anonymous executable memory twice and names the
# copies in /tmp/perf-PID.map, then runs them.
SYM_JIT='#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>
__attribute__((noinline, used, section("jit_tpl"))) long jit_template(long n)
{
	long s = 0;
	for (long i = 0; i < n; i++)
		s += (i * i) ^ (s >> 3);
	return s;
}
extern char __start_jit_tpl[], __stop_jit_tpl[];
int main(int argc, char **argv)
{
	size_t len = (size_t)(__stop_jit_tpl - __start_jit_tpl);
	char *mem = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	long ms = argc > 1 ? atol(argv[1]) : 1000, (*a)(long), (*b)(long);
	volatile long sink = 0;
	char path[64];
	struct timespec t0, t;
	FILE *f;
	memcpy(mem, __start_jit_tpl, len);
	memcpy(mem + 4096, __start_jit_tpl, len);
	mprotect(mem, 8192, PROT_READ | PROT_EXEC);
	a = (long (*)(long))(void *)mem;
	b = (long (*)(long))(void *)(mem + 4096);
	snprintf(path, sizeof(path), "/tmp/perf-%d.map", (int)getpid());
	f = fopen(path, "w");
	fprintf(f, "%lx %zx jit_alpha\n%lx %zx LuaTrace:beta [jit]\n", (unsigned long)mem, len,
		(unsigned long)mem + 4096, len);
	fclose(f);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	printf("ready\n");
	fflush(stdout);
	do {
		sink += a(200000) + b(100000);
		clock_gettime(CLOCK_MONOTONIC, &t);
	} while ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000 < ms);
	unlink(path);
	return 0;
}
'

SYM_GO='package main

import (
	"fmt"
	"os"
	"strconv"
	"time"
)

var sink int

//go:noinline
func burn(n int) int {
	s := 0
	for i := 0; i < n; i++ {
		s += i*i%7 ^ s>>3
	}
	return s
}

func main() {
	ms, _ := strconv.Atoi(os.Args[1])
	fmt.Println("ready")
	end := time.Now().Add(time.Duration(ms) * time.Millisecond)
	for time.Now().Before(end) {
		sink += burn(100000)
	}
}
'

# profile PID OUT: a 3 s CPU profile of PID.
profile() {
	"$PROFD" --pid "$1" --duration 3s --frequency 499 --output "$2" 2>"$T/profd.err" ||
		{ cat "$T/profd.err" >&2; fail "profd failed"; }
}

# check_hot PROFILE SOURCE: the inlined mix() and -list hot_loop.
check_hot() {
	local prof=$1 src=$2 top list traces raw hot_line
	top=$(pprof -top -nodecount=20 "$prof")
	echo "$top" | sed -n '/flat%/,+5p' | sed 's/^/    | /' >&2
	assert_contains "$top" "mix (inline)" "inlined function shown as (inline)"
	assert_contains "$top" " hot_loop$" "the function it is inlined into"
	assert_ge "$(cum_pct hot_loop <<<"$top")" 80 "hot_loop cum%"
	# -list: per-line values from the source on disk
	list=$(pprof -list '^hot_loop$' "$prof")
	echo "$list" | grep -E 'HOT|MIX|ROUTINE' | sed 's/^/    | /' >&2
	assert_contains "$list" "ROUTINE =* hot_loop in $src" "routine with its source file"
	hot_line=$(grep -n 'HOT \*/' "$src" | cut -d: -f1)
	# the HOT line carries a cumulative value (pprof -list: flat cum NN:source)
	echo "$list" | awk -v l="$hot_line" '$3 == l":" || $3 == l { if ($2 != ".") ok = 1 } END { exit !ok }' ||
		{ echo "$list" >&2; fail "no value on line $hot_line (the call of mix)"; }
	list=$(pprof -list '^mix$' "$prof")
	assert_contains "$list" "ROUTINE =* mix in $src" "inlined routine listed"
	echo "$list" | grep -q 'MIX' || fail "mix's source lines not shown"
	# -traces: the inline frame above its caller
	traces=$(pprof -traces "$prof")
	echo "$traces" | grep -A1 -m1 "mix (inline)" | sed 's/^/    | /' >&2
	echo "$traces" | grep -A1 "mix (inline)" | grep -q "hot_loop" || fail "-traces: mix above hot_loop"
	# mapping flags: functions, files, lines, inline frames for the program
	raw=$(pprof -raw "$prof")
	echo "$raw" | grep -E "^ *[0-9]+: 0x[0-9a-f]+/0x[0-9a-f]+/0x[0-9a-f]+ .*$(basename "$3")" |
		grep -q "\[FN\]\[FL\]\[LN\]\[IN\]" || { echo "$raw" | sed -n '/^Mappings/,$p' >&2; fail "mapping flags of $3"; }
	# start lines of functions (s=N in -raw)
	echo "$raw" | grep -q "hot_loop .*s=$(grep -n "^__attribute__((noinline, noipa)) unsigned long hot_loop" "$src" | cut -d: -f1)" ||
		fail "hot_loop's start line"
}

test_symbols_dwarf_list_inline() {
	require_root
	printf '%s' "$SYM_HOT_C" >"$T/hot.c"
	cc -O2 -g -fno-omit-frame-pointer "$T/hot.c" -o "$T/hot"
	start_prog "$T/hot" 6000
	profile "$WL_PID" "$T/hot.pb.gz"
	check_hot "$T/hot.pb.gz" "$T/hot.c" "$T/hot"
	# the other mappings' flags tell the truth: libc has lines exactly
	# when its debug file is installed (libc6-dbg); the vDSO never has
	raw=$(pprof -raw "$T/hot.pb.gz")
	libc=$(awk '/^Mappings/ { on = 1 } on && / \/.*libc\.so/ { print; exit }' <<<"$raw")
	if [ -n "$libc" ]; then
		bid=$(awk '{ print $4 }' <<<"$libc")
		note "libc mapping: $libc"
		if [ -e "/usr/lib/debug/.build-id/${bid:0:2}/${bid:2}.debug" ]; then
			grep -q "\[FN\]\[FL\]\[LN\]\[IN\]" <<<"$libc" || fail "libc has debug info: flags"
		else
			grep -q "\[FL\]" <<<"$libc" && fail "libc without debug info claims files"
		fi
	fi
	vdso=$(awk '/^Mappings/ { on = 1 } on && /\[vdso\]/' <<<"$raw")
	[ -z "$vdso" ] || ! grep -q "\[FL\]" <<<"$vdso" || fail "vDSO claims files"
	true
}

# Stripped binary, debug info next to it through .gnu_debuglink.
test_symbols_split_debuglink() {
	require_root
	printf '%s' "$SYM_HOT_C" >"$T/hot.c"
	cc -O2 -g -fno-omit-frame-pointer "$T/hot.c" -o "$T/hot"
	objcopy --only-keep-debug "$T/hot" "$T/hot.debug"
	strip --strip-all "$T/hot"
	objcopy --add-gnu-debuglink="$T/hot.debug" "$T/hot"
	readelf -S "$T/hot" | grep -q debug_info && fail "not stripped"
	start_prog "$T/hot" 6000
	profile "$WL_PID" "$T/split.pb.gz"
	check_hot "$T/split.pb.gz" "$T/hot.c" "$T/hot"
}

# Stripped binary, debug info in /usr/lib/debug/.build-id (removed after).
test_symbols_split_build_id() {
	require_root
	printf '%s' "$SYM_HOT_C" >"$T/hot.c"
	cc -O2 -g -fno-omit-frame-pointer "$T/hot.c" -o "$T/hot"
	bid=$(readelf -n "$T/hot" | awk '/Build ID/ { print $3 }')
	[ ${#bid} = 40 ] || fail "build id"
	dbg=/usr/lib/debug/.build-id/${bid:0:2}/${bid:2}.debug
	[ -e "$dbg" ] && fail "$dbg exists already"
	trap 'stop_workloads; rm -rf "$T"; rm -f "$dbg"' EXIT
	mkdir -p "$(dirname "$dbg")"
	objcopy --only-keep-debug "$T/hot" "$dbg"
	strip --strip-all "$T/hot"
	start_prog "$T/hot" 6000
	profile "$WL_PID" "$T/bid.pb.gz"
	check_hot "$T/bid.pb.gz" "$T/hot.c" "$T/hot"
}

test_symbols_cxx_demangled() {
	require_root
	printf '%s' "$SYM_CXX" >"$T/work.cc"
	g++ -O2 -g -fno-omit-frame-pointer "$T/work.cc" -o "$T/work"
	start_prog "$T/work" 6000
	profile "$WL_PID" "$T/cxx.pb.gz"
	top=$(pprof -top -nodecount=10 "$T/cxx.pb.gz")
	echo "$top" | sed -n '/flat%/,+3p' | sed 's/^/    | /' >&2
	assert_contains "$top" " app::Worker::run$" "demangled method"
	assert_contains "$top" " app::churn$" "demangled template function"
	assert_not_contains "$top" "_ZN3app" "no mangled names shown"
	list=$(pprof -list 'app::Worker::run' "$T/cxx.pb.gz")
	assert_contains "$list" "ROUTINE =* app::Worker::run in $T/work.cc" "C++ -list"
}

test_symbols_jit_perf_map() {
	require_root
	printf '%s' "$SYM_JIT" >"$T/jit.c"
	cc -O1 -fno-stack-protector -fcf-protection=none "$T/jit.c" -o "$T/jit"
	start_prog "$T/jit" 6000
	profile "$WL_PID" "$T/jit.pb.gz"
	top=$(pprof -top -nodecount=10 "$T/jit.pb.gz")
	echo "$top" | sed -n '/flat%/,+3p' | sed 's/^/    | /' >&2
	assert_contains "$top" " jit_alpha$" "JIT function from the perf map"
	assert_contains "$top" "LuaTrace:beta \[jit\]" "JIT name with spaces"
	assert_ge "$(awk '$NF == "jit_alpha" || $0 ~ /LuaTrace:beta/ { sub("%", "", $2); s += $2 } END { print s + 0 }' <<<"$top")" 80 "JIT share of flat"
}

test_symbols_go_stripped() {
	require_root
	command -v go >/dev/null || fail "go is not installed"
	mkdir -p "$T/gosrc"
	printf '%s' "$SYM_GO" >"$T/gosrc/main.go"
	(cd "$T/gosrc" && GOCACHE=/tmp/profd-gocache GO111MODULE=off go build -ldflags='-s -w' -o "$T/gostripped" main.go)
	readelf -S "$T/gostripped" | grep -q -e '\.symtab' -e debug_info && fail "not stripped"
	start_prog "$T/gostripped" 6000
	profile "$WL_PID" "$T/go.pb.gz"
	top=$(pprof -top -nodecount=10 "$T/go.pb.gz")
	echo "$top" | sed -n '/flat%/,+3p' | sed 's/^/    | /' >&2
	assert_ge "$(flat_pct main.burn <<<"$top")" 70 "main.burn flat% (named from .gopclntab)"
	# lines from the same table: -list works, no inline frames claimed
	list=$(pprof -list '^main.burn$' "$T/go.pb.gz")
	assert_contains "$list" "ROUTINE =* main.burn in $T/gosrc/main.go" "Go -list"
	line=$(grep -n 's += i\*i%7' "$T/gosrc/main.go" | cut -d: -f1)
	echo "$list" | awk -v l="$line" '$3 == l":" || $3 == l { if ($1 != ".") ok = 1 } END { exit !ok }' ||
		{ echo "$list" >&2; fail "no flat value on the loop line $line"; }
	raw=$(pprof -raw "$T/go.pb.gz")
	m=$(awk '/^Mappings/ { on = 1 } on && /gostripped/' <<<"$raw")
	grep -q "\[FN\]\[FL\]\[LN\]" <<<"$m" || fail "Go mapping flags: $m"
	grep -q "\[IN\]" <<<"$m" && fail "Go table has no inlining, yet [IN]: $m"
	true
}
