#!/bin/busybox sh
# SPDX-License-Identifier: Apache-2.0
# /init of the kernel-matrix initramfs (tests/kernels/run.sh builds it):
# load the virtio and 9p modules the kernel package ships, mount the host's
# root read-only and the results share writable, give the chroot what profd
# needs (proc, sys, dev, bpf, tracefs, debugfs, tmpfs /tmp), and run the job
# the host wrote into the results share. Every step says what failed on the
# serial console, which the host keeps.
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev

die() {
	echo "profd-guest: error: $*"
	poweroff -f
}

for m in $(cat /modules.order); do
	insmod "/modules/$m" || die "insmod $m failed"
done

H=/host
mkdir -p $H
# cache=loose: the host root is read-only for the guest's whole life.
mount -t 9p -o trans=virtio,version=9p2000.L,ro,cache=loose,msize=512000 hostroot $H ||
	die "cannot mount the host root over 9p"
mount -t tmpfs -o mode=1777,size=2g tmp $H/tmp || die "tmpfs on /tmp"
mkdir -p $H/tmp/kernel-results
mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000 results $H/tmp/kernel-results ||
	die "cannot mount the results share"
mount -t proc proc $H/proc
mount -t sysfs sys $H/sys
mount -t devtmpfs dev $H/dev
mkdir -p $H/dev/pts $H/dev/shm
mount -t devpts devpts $H/dev/pts
mount -t tmpfs shm $H/dev/shm
mount -t tmpfs run $H/run
mount -t bpf bpf $H/sys/fs/bpf
mount -t tracefs tracefs $H/sys/kernel/tracing
mount -t debugfs debugfs $H/sys/kernel/debug
mount -t tmpfs vartmp $H/var/tmp
ip link set lo up 2>/dev/null || ifconfig lo 127.0.0.1 up
hostname profd-guest

echo "profd-guest: $(uname -r) up, running the job"
chroot $H /bin/bash /tmp/kernel-results/job.sh
echo "profd-guest: job exited with status $?"
sync
poweroff -f
