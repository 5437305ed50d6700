#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Install the Debian 12 packages profd needs to build, test and benchmark:
# every program `make demo`, `make test` and `make bench` call that a minimal
# Debian 12 (debootstrap --variant=minbase) lacks. .ci/run proves the list on
# such a root.
set -eu
if [ "$(id -u)" != 0 ]; then
	echo "deps.sh installs packages: run it as root (sudo scripts/deps.sh)" >&2
	exit 1
fi
pkgs=(
	make gcc libc6-dev pkg-config binutils util-linux   # build basics, readelf, setpriv
	clang llvm bpftool libbpf-dev                        # BPF objects and skeletons
	libelf-dev libdw-dev zlib1g-dev liblzma-dev          # symbolization
	protobuf-c-compiler libprotobuf-c-dev                # profile.proto
	libcurl4-openssl-dev libinih-dev libmicrohttpd-dev   # upload, config, HTTP
	golang-go                                            # go tool pprof, used by the tests
	linux-perf                                           # reference in make bench
	libjemalloc2 libtcmalloc-minimal4 libmimalloc2.0     # allocators the attach-point tests cover
	libc6-dbg                                            # glibc debug info: named libc frames
	gdb python3                                          # oracles of the unwinding tests
	strace                                               # the agent test that no /proc file is read
	g++ xz-utils libdebuginfod1                          # C++, MiniDebugInfo, debuginfod tests
	rustc                                                # Rust symbol demangling test
	curl                                                 # the agent tests' HTTP requests
	procps                                               # sysctl in make bench, ps
	qemu-system-x86 busybox-static cpio                  # kernel-matrix guests (tests/kernels)
)
missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	echo "installing: ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q
	apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
