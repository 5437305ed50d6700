# SPDX-License-Identifier: Apache-2.0
# Stripped binaries (issue 15, point 2): each function no symbol names is
# its own node, FILE+0xSTART after its .eh_frame FDE; PLT stubs are
# TARGET@plt. Programs built here (no frame pointers, strip --strip-all, as
# distro binaries are) and Debian's gzip, profiled and read back with
# `go tool pprof` as a user would.

# hot_a runs three times as long as hot_b (the same loop: noipa keeps them
# apart); plt_loop calls ffs() through
# the PLT (-fno-builtin), so some samples land in the stub itself.
STRIP_C='#include <stdio.h>
#include <stdlib.h>
#include <strings.h>
#include <time.h>
volatile unsigned long sink;
__attribute__((noipa)) static unsigned long hot_a(unsigned long n)
{
	unsigned long s = 0;
	for (unsigned long i = 0; i < n; i++)
		s += (i * 2654435761UL) ^ (s >> 7);
	return s;
}
__attribute__((noipa)) static unsigned long hot_b(unsigned long n)
{
	unsigned long s = 0;
	for (unsigned long i = 0; i < n; i++)
		s += (i * 2654435761UL) ^ (s >> 7);
	return s;
}
__attribute__((noipa)) static unsigned long plt_loop(unsigned long n)
{
	unsigned long s = 0;
	for (unsigned long i = 0; i < n; i++)
		s += (unsigned long)ffs((int)(i | 0x40000000));
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
		sink += hot_a(300000) + hot_b(100000) + plt_loop(30000);
		clock_gettime(CLOCK_MONOTONIC, &t);
	} while ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000 < ms);
	return 0;
}
'

# strip_start NAME CFLAGS...: build $T/NAME.full and its stripped copy
# $T/NAME, start it, set WL_PID.
strip_start() {
	local name=$1
	shift
	cc -O2 -fomit-frame-pointer -fno-builtin "$@" "$T/strip.c" -o "$T/$name.full"
	cp "$T/$name.full" "$T/$name"
	strip --strip-all "$T/$name"
	readelf -S "$T/$name" | grep -q -e '\.symtab' -e debug_info && fail "$name: not stripped"
	start_prog "$T/$name" 20000
}

# fn_name NAME FUNC: the node name profd gives FUNC of the stripped $T/NAME.
fn_name() {
	local a
	a=$(nm "$T/$2.full" | awk -v f="$3" '$3 == f { print $1 }')
	[ -n "$a" ] || fail "$3 not in $2.full"
	printf '%s+0x%x' "$1" "0x$a"
}

test_stripped_functions_and_plt() {
	require_root
	printf '%s' "$STRIP_C" >"$T/strip.c"
	# Debian's gcc 12 default (.plt, no .plt.sec), and IBT stubs in .plt.sec
	strip_start plain -fcf-protection=none
	local plain=$WL_PID
	strip_start ibt -fcf-protection=full -Wl,-z,ibtplt
	local ibt=$WL_PID
	readelf -SW "$T/ibt" | grep -q '\.plt\.sec' || fail "no .plt.sec in the IBT build"
	readelf -SW "$T/plain" | grep -q '\.plt\.sec' && fail ".plt.sec in the plain build"
	"$PROFD" --pid "$plain" --pid "$ibt" --type cpu --duration 8s --frequency 999 \
		--output "$T/strip.pb.gz" 2>"$T/profd.err" || { cat "$T/profd.err" >&2; fail "profd failed"; }
	local bin a b top
	for bin in plain ibt; do
		a=$(fn_name "$bin" "$bin" hot_a)
		b=$(fn_name "$bin" "$bin" hot_b)
		[ "$a" != "$b" ] || fail "hot_a and hot_b at one address"
		top=$(pprof -top -nodecount=30 -focus="^$bin\\+0x" "$T/strip.pb.gz")
		echo "$top" | sed -n '/flat%/,+6p' | sed 's/^/    | /' >&2
		assert_contains "$top" " $a$" "$bin: hot_a named after its FDE"
		assert_contains "$top" " $b$" "$bin: hot_b named after its FDE"
		assert_not_contains "$top" "\\[$bin\\]" "$bin: no node for the whole binary"
		assert_near "$(flat_ratio "$a" "$b" <<<"$top")" 75 5 "$bin: hot_a share of hot_a + hot_b"
		# the stub: samples at its own instructions
		assert_contains "$top" " ffs@plt$" "$bin: PLT stub named after its target"
		assert_ge "$(flat_pct ffs@plt <<<"$top")" 0.1 "$bin: ffs@plt flat%"
	done
	# the profile keeps what a later symbolization needs: every location of
	# hot_a has its address in a mapping with file, offset and build id;
	# through them (and by the name itself) the unstripped file names it
	local raw map loc vaddr
	raw=$(pprof -raw "$T/strip.pb.gz")
	a=$(fn_name plain plain hot_a)
	loc=$(awk -v f="$a" '/^Locations/ { on = 1 } /^Mappings/ { on = 0 } on && $4 == f { print; exit }' <<<"$raw")
	[ -n "$loc" ] || fail "no location named $a"
	map=$(awk -v m="$(awk '{ sub("M=", "", $3); print $3 }' <<<"$loc")" \
		'/^Mappings/ { on = 1; next } on && $1 == m":" { print; exit }' <<<"$raw")
	note "location: $loc"
	note "mapping:  $map"
	grep -q " $T/plain $(readelf -n "$T/plain" | awk '/Build ID/ { print $3 }') " <<<"$map" ||
		fail "mapping without the file and its build id: $map"
	local addr start off
	addr=$(awk '{ print $2 }' <<<"$loc")
	IFS=/ read -r start _ off <<<"$(awk '{ print $2 }' <<<"$map")"
	vaddr=$(printf '0x%x' $((addr - start + off)))
	[ "$(addr2line -f -e "$T/plain.full" "$vaddr" | head -1)" = hot_a ] ||
		fail "address $vaddr (from the profile) is not in hot_a of the unstripped file"
	[ "$(addr2line -f -e "$T/plain.full" "${a#plain+}" | head -1)" = hot_a ] ||
		fail "the name's address ${a#plain+} is not hot_a in the unstripped file"
}

# Debian's own gzip -9 on a few MB: its functions come apart.
test_stripped_debian_gzip() {
	require_root
	local gz=/usr/bin/gzip top n
	readelf -S "$gz" | grep -q '\.symtab' && fail "$gz has a .symtab: not the stripped binary this tests"
	# ~4 MB of mixed binary data, fed again and again until gzip is killed
	cat /usr/bin/* 2>/dev/null | head -c 4000000 >"$T/data" || true
	[ "$(stat -c %s "$T/data")" -ge 1000000 ] || fail "no test data"
	"$gz" -9 < <(while cat "$T/data"; do :; done) >/dev/null &
	WL_PID=$!
	WL_PIDS+=("$WL_PID")
	sleep 0.3
	"$PROFD" --pid "$WL_PID" --type cpu --duration 3s --frequency 499 \
		--output "$T/gzip.pb.gz" 2>"$T/profd.err" || { cat "$T/profd.err" >&2; fail "profd failed"; }
	top=$(pprof -top -nodecount=40 "$T/gzip.pb.gz")
	echo "$top" | sed -n '/flat%/,+6p' | sed 's/^/    | /' >&2
	assert_not_contains "$top" "\\[gzip\\]" "no node for the whole of gzip"
	# functions with samples of their own, and the call chain above them
	n=$(awk '$NF ~ /^gzip\+0x[0-9a-f]+$/ && $2 != "0%" { print $NF }' <<<"$top" | sort -u | wc -l)
	[ "$n" -ge 2 ] || fail "gzip functions with flat samples: $n, expected >= 2"
	n=$(awk '$NF ~ /^gzip\+0x[0-9a-f]+$/ { print $NF }' <<<"$top" | sort -u | wc -l)
	[ "$n" -ge 4 ] || fail "gzip function nodes: $n, expected >= 4"
	note "gzip function nodes: $n"
	assert_ge "$(awk '$NF ~ /^gzip\+0x/ { sub("%", "", $2); s += $2 } END { print s + 0 }' <<<"$top")" 80 \
		"flat% in gzip's own functions"
}
