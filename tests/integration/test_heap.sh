# SPDX-License-Identifier: Apache-2.0
# heap and allocs profiles (issue 3): uprobes on the allocator of a running
# process, checked against workloads that know what they allocated.

# keep_live keeps 512 MiB live in 4 KiB blocks; churn allocates and frees
# 2 GiB in 8 KiB blocks. At the default rate (512 KiB) that is ~1000 and
# ~4000 samples: ±15% is several standard deviations.
test_heap_default_rate_accuracy() {
	require_root
	start_gated_workload heap_mix 512 2048 1
	run_profd_bg --pid "$WL_PID" --type heap --duration 60s -o "$T/heap.pb.gz"
	release_workload
	wait_profd
	cat "$T/wl.err" >&2
	top=$(pprof -top -unit=B "$T/heap.pb.gz")
	echo "$top" | head -9 | sed 's/^/    | /' >&2
	assert_contains "$top" "Type: inuse_space" "heap default sample type"
	live=$(to_bytes "$(flat_value keep_live <<<"$top")")
	assert_near "$live" 536870912 80530636 "keep_live inuse_space (bytes, truth 512 MiB ±15%)"
	churn_inuse=$(to_bytes "$(flat_value churn <<<"$top")")
	assert_near "$churn_inuse" 0 10737418 "churn inuse_space (near zero: < 1% of its 1 GiB)"
	atop=$(pprof -top -unit=B -sample_index=alloc_space "$T/heap.pb.gz")
	churn=$(to_bytes "$(flat_value churn <<<"$atop")")
	assert_near "$churn" 2147483648 322122547 "churn alloc_space (bytes, truth 2 GiB ±15%)"
	raw=$(pprof -raw "$T/heap.pb.gz")
	assert_contains "$raw" "PeriodType: space bytes" "period type"
	assert_contains "$raw" "Period: 524288" "period = sampling rate"
	assert_contains "$raw" "alloc_objects/count alloc_space/bytes inuse_objects/count inuse_space/bytes" "sample types"
	assert_contains "$(cat "$T/profd.err")" "lost: 0 live-map full" "no live-map losses"
	# The leaf is the function that called malloc, as in Go heap profiles.
	traces=$(pprof -traces -sample_index=alloc_space "$T/heap.pb.gz")
	# Each trace: labels ("key:  value"), then "VALUE  leaf", then callers.
	leaves=$(awk '/^-+\+-+$/ { want = 1; next } want && $1 !~ /:$/ { print $2; want = 0 }' <<<"$traces" | sort -u | tr '\n' ' ')
	[ "$leaves" = "churn keep_live " ] || { echo "$traces" | head -30 >&2; fail "leaves are '$leaves', not the allocating functions"; }
	assert_contains "$traces" "bytes:  8kB" "Go's bytes label (average size)"
}

# At rate 1 every allocation is recorded: exact object counts.
test_heap_rate1_exact_counts() {
	require_root
	start_gated_workload heap_mix 4 8 1      # 1024 live 4 KiB, 1024 churned 8 KiB
	run_profd_bg --pid "$WL_PID" --type heap --heap-sample-rate 1 --duration 60s -o "$T/h1.pb.gz"
	release_workload
	wait_profd
	top=$(pprof -top -sample_index=alloc_objects "$T/h1.pb.gz")
	assert_near "$(flat_value keep_live <<<"$top")" 1024 0 "keep_live alloc_objects"
	assert_near "$(flat_value churn <<<"$top")" 1024 0 "churn alloc_objects"
	top=$(pprof -top -sample_index=inuse_objects "$T/h1.pb.gz")
	assert_near "$(flat_value keep_live <<<"$top")" 1024 0 "keep_live inuse_objects"
	assert_near "$(flat_value churn <<<"$top")" 0 0 "churn inuse_objects"
	top=$(pprof -top -unit=B -sample_index=inuse_space "$T/h1.pb.gz")
	assert_near "$(to_bytes "$(flat_value keep_live <<<"$top")")" 4194304 0 "keep_live inuse_space (bytes)"
}

# --type allocs: same collection, alloc_space by default.
test_heap_allocs_type() {
	require_root
	start_gated_workload heap_mix 16 64 1
	run_profd_bg --pid "$WL_PID" --type allocs --duration 60s -o "$T/a.pb.gz"
	release_workload
	wait_profd
	top=$(pprof -top "$T/a.pb.gz")
	assert_contains "$top" "Type: alloc_space" "allocs default sample type"
	assert_contains "$top" "churn" "churn in the allocs profile"
}

# heap_walker_used yes|no: whether profd's summary in $T/profd.err shows
# allocation stacks by the .eh_frame walker (yes: the default on this
# kernel, with every walk reaching the allocator's caller) or none (--unwind=fp).
heap_walker_used() {
	local err
	err=$(cat "$T/profd.err")
	if [ "$1" = yes ]; then
		assert_not_contains "$err" "walker did not load" "the heap walker loads"
		assert_contains "$err" "unwinding: [1-9][0-9]* walks" "sampled calls walked by the walker"
		assert_contains "$err" " 0 walks missed the allocator's caller" "every walk reached the caller"
	else
		assert_not_contains "$err" "unwinding:" "no walker with --unwind=fp"
	fi
}

# calloc, realloc (grow, shrink), posix_memalign, aligned_alloc: each
# attributed to its caller, with exact counts at rate 1. heap_family_check
# WALKER(yes|no) [PROFD ARGS...]
heap_family_check() {
	local walker=$1
	shift
	start_gated_workload heap_family 200
	run_profd_bg --pid "$WL_PID" --type heap --heap-sample-rate 1 --duration 60s -o "$T/f.pb.gz" "$@"
	release_workload
	wait_profd
	heap_walker_used "$walker"
	top=$(pprof -top -sample_index=alloc_objects -nodecount=20 "$T/f.pb.gz")
	echo "$top" | sed -n '/flat%/,$p' | sed 's/^/    | /' >&2
	for f in use_calloc use_realloc_grow use_realloc_shrink use_posix_memalign use_aligned_alloc; do
		assert_near "$(flat_value $f <<<"$top")" 200 0 "$f alloc_objects"
	done
	assert_near "$(flat_value alloc_for_realloc <<<"$top")" 400 0 "alloc_for_realloc (malloc) alloc_objects"
	itop=$(pprof -top -unit=B -sample_index=inuse_space -nodecount=20 "$T/f.pb.gz")
	# realloc moved or resized the first blocks: nothing of them stays live.
	assert_near "$(flat_value alloc_for_realloc <<<"$itop")" 0 0 "realloc'ed blocks are not live at their first caller"
	assert_near "$(to_bytes "$(flat_value use_realloc_grow <<<"$itop")")" 1638400 0 "grown blocks live: 200 × 8192 B"
	assert_near "$(to_bytes "$(flat_value use_realloc_shrink <<<"$itop")")" 409600 0 "shrunk blocks live: 200 × 2048 B"
	assert_near "$(to_bytes "$(flat_value use_calloc <<<"$itop")")" 819200 0 "calloc blocks live: 200 × 4096 B"
	assert_near "$(to_bytes "$(flat_value use_posix_memalign <<<"$itop")")" 614400 0 "posix_memalign blocks live: 200 × 3072 B"
	assert_near "$(to_bytes "$(flat_value use_aligned_alloc <<<"$itop")")" 1024000 0 "aligned_alloc blocks live: 200 × 5120 B"
}

test_heap_family_attribution() {
	require_root
	heap_family_check yes
}

test_heap_family_attribution_fp() {
	require_root
	heap_family_check no --unwind=fp
}

# C++ new / new[] / delete: attributed to the function that called new.
# heap_cxx_check WALKER(yes|no) [PROFD ARGS...]
heap_cxx_check() {
	local walker=$1
	shift
	start_gated_workload heap_cxx 500
	run_profd_bg --pid "$WL_PID" --type heap --heap-sample-rate 1 --duration 60s -o "$T/x.pb.gz" "$@"
	release_workload
	wait_profd
	heap_walker_used "$walker"
	top=$(pprof -top -sample_index=alloc_objects -nodecount=20 "$T/x.pb.gz")
	echo "$top" | sed -n '/flat%/,$p' | sed 's/^/    | /' >&2
	assert_near "$(flat_value make_objects <<<"$top")" 500 0 "make_objects (new) alloc_objects"
	assert_near "$(flat_value make_arrays <<<"$top")" 500 0 "make_arrays (new[]) alloc_objects"
	assert_near "$(flat_value churn_objects <<<"$top")" 500 0 "churn_objects alloc_objects"
	itop=$(pprof -top -sample_index=inuse_objects -nodecount=20 "$T/x.pb.gz")
	assert_near "$(flat_value churn_objects <<<"$itop")" 0 0 "deleted objects are not live"
	assert_near "$(flat_value make_objects <<<"$itop")" 500 0 "kept objects are live"
}

test_heap_cxx_new_delete() {
	require_root
	heap_cxx_check yes
}

test_heap_cxx_new_delete_fp() {
	require_root
	heap_cxx_check no --unwind=fp
}

test_heap_bad_input() {
	require_root
	out=$("$PROFD" --type heap -d 1s -o "$T/x.pb.gz" 2>&1) && fail "heap without --pid exited 0"
	assert_contains "$out" "needs --pid" "heap without --pid"
	out=$("$PROFD" --type heap --heap-sample-rate 0 -p 1 -d 1s -o "$T/x.pb.gz" 2>&1) && fail "rate 0 exited 0"
	assert_contains "$out" "invalid --heap-sample-rate" "rate 0"
	out=$("$PROFD" --type heap --heap-sample-rate abc -p 1 -o "$T/x.pb.gz" 2>&1) && fail "rate abc exited 0"
	assert_contains "$out" "invalid --heap-sample-rate 'abc'" "rate abc"
}

# Eight threads allocating at once at rate 1: no accounting lost.
test_heap_multithreaded() {
	require_root
	start_gated_workload heap_threads 8 2000
	run_profd_bg --pid "$WL_PID" --type heap --heap-sample-rate 1 --duration 60s -o "$T/t.pb.gz"
	release_workload
	wait_profd
	# Each thread also allocates its keep[] array from thread_alloc: 2001 each.
	top=$(pprof -top -sample_index=alloc_objects "$T/t.pb.gz")
	assert_near "$(flat_value thread_alloc <<<"$top")" 16008 0 "thread_alloc alloc_objects over 8 threads"
	assert_contains "$(cat "$T/profd.err")" "lost: 0 live-map full, 0 counts-map full, 0 stack-map full, 0 stacks unreadable, 0 unmatched returns" "no losses"
	# The process exited during the run: the profile was still written.
	assert_contains "$(cat "$T/profd.err")" "every target process exited" "target exit"
}

# A process without any allocator: a clear error naming it, non-zero exit.
test_heap_no_allocator() {
	require_root
	start_workload noalloc
	out=$("$PROFD" --pid "$WL_PID" --type heap -d 2s -o "$T/n.pb.gz" 2>&1) && fail "profd exited 0"
	assert_contains "$out" "pid $WL_PID: no allocator found" "error names the process"
	assert_contains "$out" "defines malloc" "error says what was searched"
	[ ! -e "$T/n.pb.gz" ] || fail "a profile was written"
}

# ---- allocation stacks through code without frame pointers (issue 7) ----
# unwind_heap (tests/workloads/unwind_heap.c, -fomit-frame-pointer -O2)
# allocates from a comparator under glibc's qsort. Every user stack of its
# allocs profile, read back with `go tool pprof -raw`, is checked against
# gdb's backtrace of the process taken after profd exited (unwind_check in
# lib.sh): >= 99% of the samples must carry gdb's chain from sort_loop down
# to _start, with no frame gdb would not name there.

# unwind_heap_profile MODE SECONDS [PROFD ARGS...]: start unwind_heap MODE,
# profile every allocation of it into $T/u.pb.gz and its raw dump $T/u.raw.
unwind_heap_profile() {
	local mode=$1 secs=$2
	shift 2
	start_workload unwind_heap "$mode"
	"$PROFD" --pid "$WL_PID" --type allocs --heap-sample-rate 1 --duration "${secs}s" \
		-o "$T/u.pb.gz" "$@" 2>"$T/profd.err" || { cat "$T/profd.err" >&2; fail "profd failed"; }
	pprof -raw "$T/u.pb.gz" >"$T/u.raw"
}

# heap_leaves_are FUNC: the leaf of every trace of $T/u.pb.gz is FUNC, the
# function that called malloc or operator new (never the allocator's or a
# forwarder's own frame).
heap_leaves_are() {
	local traces leaves
	traces=$(pprof -traces "$T/u.pb.gz")
	leaves=$(awk '/^-+\+-+$/ { want = 1; next } want && $1 !~ /:$/ { print $2; want = 0 }' <<<"$traces" | sort -u | tr '\n' ' ')
	[ "$leaves" = "$1 " ] || { echo "$traces" | head -30 >&2; fail "leaves are '$leaves', not $1"; }
}

# malloc from a comparator called by qsort: the walk crosses glibc's
# msort_with_tmp and qsort, which keep no frame pointers.
test_heap_unwind_qsort_malloc() {
	require_root
	unwind_heap_profile qsort 2
	heap_walker_used yes
	heap_leaves_are cmp_alloc
	unwind_check sort_loop 'cmp_alloc|msort_with_tmp|.*qsort|mix$' main
}

# operator new, new[] and new(nothrow) from the comparator: their frames in
# libstdc++ (one or two above malloc) are dropped, the stack starts at
# cmp_new and goes on through qsort to the root.
test_heap_unwind_operator_new() {
	require_root
	unwind_heap_profile new 2
	heap_walker_used yes
	heap_leaves_are cmp_new
	# new(32), new[](48), new(64, nothrow): each way in was taken.
	tags=$(pprof -tags "$T/u.pb.gz")
	for b in 32B 48B 64B; do assert_contains "$tags" ": $b$" "a $b block allocated"; done
	unwind_check sort_loop 'cmp_new|msort_with_tmp|.*qsort|mix$' main
}

# Frame pointers lose qsort's callers on the same workload (the caller read
# at the stack pointer stays right): the check above can fail.
test_heap_unwind_fp_mode_loses_qsort_callers() {
	require_root
	unwind_heap_profile qsort 2 --unwind=fp
	heap_walker_used no
	heap_leaves_are cmp_alloc
	unwind_check_fails sort_loop 'cmp_alloc|msort_with_tmp|.*qsort|mix$' main \
		"frame pointers unwound qsort's callers: the oracle does not discriminate"
	note "frame pointers only: $(grep samples "$T/check.out")"
}

# heap_probe_counts FILE: "calls sampled returns kind" from profd's summary.
heap_probe_counts() {
	sed -n 's/.* \([0-9]*\) allocator calls, \([0-9]*\) sampled .*; \([0-9]*\) returns probed (by \(.*\))$/\1 \2 \3 \4/p' "$1"
}

# Where the kernel has uprobe sessions (6.13+), a call that is not sampled
# runs no return probe: returns probed = calls sampled, a small part of the
# calls. Elsewhere, and with the old path forced (PROFD_HEAP_PROBES=classic,
# any kernel), every allocating call's return is probed. The heap profile
# is right either way (the same live bytes within ±25%).
test_heap_return_probed_only_when_sampled() {
	require_root
	local calls sampled returns kind live
	start_gated_workload heap_mix 64 256 1   # 16384 live 4 KiB, 32768 churned 8 KiB
	# auto even where a run exports PROFD_HEAP_PROBES (the other tests then use that kind)
	# At 128 KiB, 512 samples of keep_live (σ 4.4%; at the default 512 KiB,
	# 128 samples: ±25% was 2.8σ and failed runs)
	PROFD_HEAP_PROBES=auto run_profd_bg --pid "$WL_PID" --type heap --duration 60s \
		--heap-sample-rate 128k -o "$T/s.pb.gz"
	release_workload
	wait_profd
	read -r calls sampled returns kind <<<"$(heap_probe_counts "$T/profd.err")"
	[ -n "$kind" ] || { cat "$T/profd.err" >&2; fail "no probe counts in profd's summary"; }
	echo "    default: $calls calls, $sampled sampled, $returns returns probed, by $kind" >&2
	[ "$calls" -ge 49152 ] || fail "$calls allocator calls seen, the workload made 49152"
	if grep -q "no uprobe session here" "$T/profd.err"; then
		assert_contains "$kind" "every return probed" "the fallback's kind"
		[ "$returns" -ge "$calls" ] || fail "$returns returns probed for $calls calls"
	else
		assert_contains "$kind" "uprobe session" "uprobe session where the kernel has it"
		assert_near "$returns" "$sampled" 0 "returns probed = calls sampled"
		[ "$returns" -lt $((calls / 10)) ] || fail "$returns returns probed for $calls calls"
	fi
	live=$(to_bytes "$(flat_value keep_live <<<"$(pprof -top -unit=B "$T/s.pb.gz")")")
	assert_near "$live" 67108864 16777216 "keep_live inuse_space, default probes (truth 64 MiB ±25%)"
	start_gated_workload heap_mix 64 256 1
	PROFD_HEAP_PROBES=classic run_profd_bg --pid "$WL_PID" --type heap --duration 60s \
		--heap-sample-rate 128k -o "$T/c.pb.gz"
	release_workload
	wait_profd
	read -r calls sampled returns kind <<<"$(heap_probe_counts "$T/profd.err")"
	echo "    classic: $calls calls, $sampled sampled, $returns returns probed, by $kind" >&2
	assert_contains "$kind" "one uprobe per function" "PROFD_HEAP_PROBES=classic"
	[ "$calls" -ge 49152 ] && [ "$returns" -ge "$calls" ] ||
		{ grep -v '^libbpf' "$T/profd.err" >&2; fail "classic: $returns returns probed for $calls calls"; }
	live=$(to_bytes "$(flat_value keep_live <<<"$(pprof -top -unit=B "$T/c.pb.gz")")")
	assert_near "$live" 67108864 16777216 "keep_live inuse_space, classic probes (truth 64 MiB ±25%)"
}

# glibc's realloc(NULL, n) tail-jumps to malloc: malloc's probe sees the
# uretprobe trampoline as its return address only while realloc's return is
# probed, so under a uprobe session realloc asks for its return even when it
# is not sampled; else an unsampled realloc(NULL, n) is counted again at
# malloc (about twice the bytes). Every realloc is one internal malloc call
# ignored, and the live bytes are the truth (64 MiB ±25%), auto and classic.
test_heap_realloc_null_counted_once() {
	require_root
	local kind calls internal live
	for kind in auto classic; do
		start_gated_workload heap_realloc_null 64   # 16384 realloc(NULL, 4096)
		PROFD_HEAP_PROBES=$kind run_profd_bg --pid "$WL_PID" --type heap --duration 60s \
			-o "$T/r.pb.gz"
		release_workload
		wait_profd
		calls=$(sed -n 's/.* \([0-9]*\) allocator calls, .*/\1/p' "$T/profd.err")
		internal=$(sed -n 's/.*; \([0-9]*\) allocator-internal calls ignored.*/\1/p' "$T/profd.err")
		echo "    $kind: $calls calls, $internal internal" >&2
		[ -n "$internal" ] || { cat "$T/profd.err" >&2; fail "no summary from profd"; }
		[ "$internal" -ge 16384 ] ||
			fail "$kind: $internal internal calls ignored, 16384 realloc(NULL, n) made"
		live=$(to_bytes "$(flat_value realloc_new <<<"$(pprof -top -unit=B "$T/r.pb.gz")")")
		assert_near "$live" 67108864 16777216 "$kind: realloc_new inuse_space (truth 64 MiB ±25%)"
	done
}
