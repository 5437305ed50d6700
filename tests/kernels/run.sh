#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The kernel matrix: boots Debian kernel packages under qemu and runs the
# host's own build of profd inside against the workloads of the integration
# tests, with their assertions (tests/kernels/matrix says which).
#
#   KERNELS="linux-image-6.1.0-57-amd64 ..."  packages (default: the newest
#                  6.1 and 6.12 of Debian 12 that apt-cache knows)
#   KERNEL_SET=quick|full   the cells of the matrix (quick: `make test`)
#   KERNEL_CACHE   where packages, unpacked trees and initramfs are kept
#                  (/var/cache/profd/kernels): reruns download nothing
#   KERNEL_CELLS   a regex: only the cells it matches (cpu/|heap/auto)
#   KERNEL_ACCEL   tcg (default) or kvm, where /dev/kvm boots stock kernels
#   PROFD, WORKLOADS  the binaries to test: copied with tests/ under the
#                  cache for the run, which the guest sees on the host's root
#
# One line per cell ("ok   kernels/KVER/TYPE/MODE (Ns)", "FAIL ...", or
# "SKIP kernels/KVER: reason"), a table kernel × cell with the first error
# line of each failure, and the closing line "kernels: N passed, N failed,
# N skipped". A kernel that cannot be downloaded is a SKIP outside CI and
# a failure under CI=true; one that does not boot is always a failure.
set -u
: "${PROFD:?PROFD must name the profd binary}" "${WORKLOADS:?WORKLOADS must name the workloads}"
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
PROFD=$(realpath "$PROFD")
WORKLOADS=$(realpath "$WORKLOADS")
set_=${KERNEL_SET:-quick}
cache=${KERNEL_CACHE:-/var/cache/profd/kernels}
accel=${KERNEL_ACCEL:-tcg}
passed=0 failed=0 skipped=0
# What the guest runs is a snapshot of this run's binaries and test scripts
# under the cache (the guest has its own /tmp, /var/tmp and /run, and a
# rebuild during the run must not change what it runs).
case "$cache" in /tmp/* | /var/tmp/* | /run/*)
	echo "FAIL kernels/harness (0s)"
	echo "    KERNEL_CACHE=$cache is under /tmp, /var/tmp or /run, which the guest does not see"
	echo "kernels: 0 passed, 1 failed, 0 skipped"
	exit 1 ;;
esac
stage=
stage_files() {
	[ -n "$stage" ] && return 0
	mkdir -p "$cache" && stage=$(mktemp -d "$cache/stage.XXXXXX") || return 1
	mkdir -p "$stage/src" && cp -a "$src/tests" "$stage/src/" && cp "$PROFD" "$stage/profd" &&
		cp -a "$WORKLOADS" "$stage/workloads"
}
trap '[ -n "$stage" ] && rm -rf "$stage"' EXIT

say() { echo "$*"; }

# newest PATTERN: the newest linux-image package matching PATTERN.
newest() {
	apt-cache search --names-only "$1" | awk '{ print $1 }' | grep -E "$1" | sort -V | tail -1
}

default_kernels() {
	local k61 k612
	k61=$(newest '^linux-image-6\.1\.0-[0-9]+-amd64$')
	k612=$(newest '^linux-image-6\.12\.[0-9]+\+deb12-amd64$')
	if [ -z "$k61" ] || [ -z "$k612" ]; then
		apt-get update -qq >/dev/null 2>&1
		k61=$(newest '^linux-image-6\.1\.0-[0-9]+-amd64$')
		k612=$(newest '^linux-image-6\.12\.[0-9]+\+deb12-amd64$')
	fi
	echo "${k61:-linux-image-6.1.0-NN-amd64(not-found)} ${k612:-linux-image-6.12.NNN+deb12-amd64(not-found)}"
}

# cells: "CELL TESTS..." lines of the matrix for this set.
cells() {
	awk -v s="$set_" -v only="${KERNEL_CELLS:-}" '!/^#/ && NF >= 3 && (s == "full" || $1 == s) &&
		(only == "" || $2 ~ only) { $1 = ""; sub(/^ /, ""); print }' "$here/matrix"
}

# prepare PKG: download (once), unpack (once), build the initramfs (once);
# sets KDIR (the unpacked tree), VMLINUZ, INITRD. Returns non-zero with
# PREP_ERR set, and PREP_SKIPPABLE=1 when the package could not be had.
prepare() {
	local pkg=$1 dir=$cache/$1 deb kver m f name want dep order=() seen=" "
	PREP_SKIPPABLE=0
	mkdir -p "$dir" || { PREP_ERR="cannot create $dir"; return 1; }
	deb=$(ls "$dir"/*.deb 2>/dev/null | head -1)
	if [ -z "$deb" ]; then
		(cd "$dir" && apt-get download "$pkg") >"$dir/download.log" 2>&1
		deb=$(ls "$dir"/*.deb 2>/dev/null | head -1)
		if [ -z "$deb" ]; then
			PREP_ERR="apt-get download $pkg failed: $(grep -m1 -E '^E:|^W:' "$dir/download.log")"
			PREP_SKIPPABLE=1
			return 1
		fi
	fi
	KDIR=$dir/x
	if [ ! -e "$KDIR/.done" ]; then
		rm -rf "$KDIR"
		dpkg-deb -x "$deb" "$KDIR" || { PREP_ERR="dpkg-deb -x $deb failed"; return 1; }
		touch "$KDIR/.done"
	fi
	VMLINUZ=$(ls "$KDIR"/boot/vmlinuz-* 2>/dev/null | head -1)
	[ -n "$VMLINUZ" ] || { PREP_ERR="no /boot/vmlinuz-* in $deb"; return 1; }
	kver=${VMLINUZ##*/vmlinuz-}
	INITRD=$dir/initrd-$(sha256sum "$here/init.sh" | cut -c1-12).cpio.gz
	[ -s "$INITRD" ] && return 0
	local mdir=$KDIR/lib/modules/$kver ir=$dir/initrd.tmp
	rm -rf "$ir"
	mkdir -p "$ir"/{bin,proc,sys,dev,modules}
	cp /bin/busybox "$ir/bin/busybox"
	cp "$here/init.sh" "$ir/init"
	chmod +x "$ir/init"
	# The modules with their dependencies (modinfo's depends=), in load
	# order; a module built into this kernel needs nothing.
	add() {
		local name=$1 f dep
		case "$seen" in *" $name "*) return 0 ;; esac
		seen="$seen$name "
		f=$(find "$mdir/kernel" -name "$name.ko*" -o -name "${name//_/-}.ko*" | head -1)
		if [ -z "$f" ]; then
			grep -qE "/(${name}|${name//_/-})\.ko$" "$mdir/modules.builtin" && return 0
			PREP_ERR="module $name is neither in $pkg nor built in"
			return 1
		fi
		case "$f" in
		*.ko.xz) xz -dc "$f" >"$ir/modules/$name.ko" ;;
		*.ko.zst) zstd -qdc "$f" >"$ir/modules/$name.ko" ;;
		*) cp "$f" "$ir/modules/$name.ko" ;;
		esac
		# depends= of the module's .modinfo strings (no kmod needed)
		for dep in $(tr '\0' '\n' <"$ir/modules/$name.ko" | sed -n 's/^depends=//p' | tr ',' ' '); do
			add "$dep" || return 1
		done
		order+=("$name.ko")
	}
	for want in virtio_pci 9pnet_virtio 9p; do add "$want" || return 1; done
	printf '%s\n' "${order[@]}" >"$ir/modules.order"
	(set -o pipefail; cd "$ir" && find . | busybox cpio -o -H newc 2>/dev/null | gzip -1) >"$INITRD.tmp" &&
		mv "$INITRD.tmp" "$INITRD" || { PREP_ERR="cannot build the initramfs"; return 1; }
	rm -rf "$ir"
}

# first_error LOG: the line that says why a cell failed: profd's own error
# first, else the first assertion that failed.
first_error() {
	local l
	l=$(grep -m1 'profd: error:' "$1" 2>/dev/null)
	[ -n "$l" ] || l=$(grep -m1 'FAIL:' "$1" 2>/dev/null)
	[ -n "$l" ] || l=$(grep -m1 -E 'libbpf: .*(failed|error)' "$1" 2>/dev/null)
	[ -n "$l" ] || l="(no error line; see the log)"
	echo "$l" | sed 's/^ *//' | cut -c1-300
}

# run_kernel PKG
run_kernel() {
	local pkg=$1 kver res start secs timeout line cell status s n=0 booted console_shown=
	kver=${pkg#linux-image-}
	start=$(date +%s)
	if ! prepare "$pkg"; then
		if [ "$PREP_SKIPPABLE" = 1 ] && [ "${CI:-}" != true ]; then
			say "SKIP kernels/$kver: $PREP_ERR (NOT TESTED on this kernel)"
			skipped=$((skipped + 1))
			table+=("$kver|*|SKIP|$PREP_ERR")
		else
			say "FAIL kernels/$kver (0s)"
			say "    $PREP_ERR"
			failed=$((failed + 1))
			table+=("$kver|*|FAIL|$PREP_ERR")
		fi
		return
	fi
	if ! stage_files; then
		say "FAIL kernels/$kver (0s)"
		say "    cannot copy the binaries and tests under $cache"
		failed=$((failed + 1))
		table+=("$kver|*|FAIL|cannot stage files under $cache")
		return
	fi
	res=$(mktemp -d /tmp/profd-kernels.XXXXXX)
	cells >"$res/cells"
	n=$(wc -l <"$res/cells")
	cat >"$res/job.sh" <<EOF
export RES=/tmp/kernel-results SRC='$stage/src' PROFD='$stage/profd' WORKLOADS='$stage/workloads'
export TEST_TIMEOUT=${KERNEL_TEST_TIMEOUT:-300} PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/tmp LANG=C.UTF-8 CI='${CI:-}'
exec bash '$stage/src/tests/kernels/guest.sh' </dev/null
EOF
	# A budget for the whole guest: the tests' own timeouts, plus boot.
	timeout=${KERNEL_TIMEOUT:-$((n * 2 * ${KERNEL_TEST_TIMEOUT:-300} + 120))}
	local accel_args=(-accel tcg,thread=multi -cpu max)
	[ "$accel" = kvm ] && accel_args=(-accel kvm -cpu host)
	timeout -k 10 "$timeout" qemu-system-x86_64 "${accel_args[@]}" -smp 2 -m 4096 \
		-nographic -no-reboot -nic none \
		-kernel "$VMLINUZ" -initrd "$INITRD" \
		-append "console=ttyS0 panic=-1 loglevel=4 rdinit=/init tsc=reliable" \
		-virtfs local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap \
		-virtfs local,path="$res",mount_tag=results,security_model=none,multidevs=remap \
		</dev/null >"$res/console.log" 2>&1
	booted=$(grep -c "profd-guest: .* up, running the job" "$res/console.log")
	while read -r cell _; do
		line=$(awk -v c="$cell" '$1 == c' "$res/results" 2>/dev/null | tail -1)
		status=$(awk '{ print $2 }' <<<"$line")
		s=$(awk '{ print $3 }' <<<"$line")
		local log=$res/logs/${cell//\//_}.log err
		if [ "$status" = ok ]; then
			say "ok   kernels/$kver/$cell (${s}s)"
			# Passed on its second run: the first failure, for the record.
			if [ "$(awk '{ print $4 }' <<<"$line")" = retried ]; then
				say "    passed when run again; the first run failed with:"
				grep -E 'FAIL:|RETRY:' "$log" | head -6 | sed 's/^/    | /'
				sed -n '1,/FAIL:/p' "$log" | grep -E '^[[:space:]]+[|] ' | tail -12 | sed 's/^/    /'
			fi
			passed=$((passed + 1))
			table+=("$kver|$cell|pass|")
			continue
		fi
		if [ -z "$status" ]; then
			if [ "$booted" = 0 ]; then
				err="guest did not boot: $(grep -m1 -E 'profd-guest: error|Kernel panic|error' "$res/console.log" || tail -1 "$res/console.log")"
			else
				err="not run: guest stopped (timeout ${timeout}s?): $(tail -1 "$res/console.log")"
			fi
			s=0
		else
			err=$(first_error "$log")
		fi
		say "FAIL kernels/$kver/$cell (${s}s)"
		say "    $err"
		# A guest that stopped mid-run: its kernel's last words (a panic's
		# trace), once, before the directory is gone with the run's /tmp.
		if [ -z "$status" ] && [ "$booted" != 0 ] && [ -z "$console_shown" ]; then
			console_shown=1
			grep -E -A40 'BUG:|Oops|Kernel panic|general protection|RIP:' "$res/console.log" | head -60 |
				sed 's/^/    console| /'
		fi
		[ -f "$log" ] && sed -n '1,200p' "$log" | grep -E 'FAIL:|error|libbpf|---' | head -12 | sed 's/^/    | /'
		failed=$((failed + 1))
		table+=("$kver|$cell|FAIL|$err")
	done <"$res/cells"
	secs=$(($(date +%s) - start))
	say "    kernel $kver: ${secs}s in all (console and logs: $res)"
	timing+=("$kver ${secs}s")
}

if ! command -v qemu-system-x86_64 >/dev/null || [ ! -x /bin/busybox ]; then
	msg="qemu-system-x86 and busybox-static are needed (make deps)"
	if [ "${CI:-}" = true ]; then say "FAIL kernels/harness (0s)"; say "    $msg"; failed=1
	else say "SKIP kernels/harness: $msg (NOT TESTED)"; skipped=1; fi
	echo "kernels: $passed passed, $failed failed, $skipped skipped"
	[ "$failed" = 0 ]
	exit
fi

timing=()
for pkg in ${KERNELS:-$(default_kernels)}; do
	run_kernel "$pkg"
done

echo
echo "kernel matrix ($set_ set, $accel):"
printf '  %-26s %-24s %-5s %s\n' kernel "type/mode" result "first error"
for row in "${table[@]}"; do
	IFS='|' read -r k c r e <<<"$row"
	printf '  %-26s %-24s %-5s %s\n' "$k" "$c" "$r" "$e"
done
[ ${#timing[@]} -gt 0 ] && echo "  time: ${timing[*]}"
echo "kernels: $passed passed, $failed failed, $skipped skipped"
[ "$failed" = 0 ]
