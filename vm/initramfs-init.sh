#!/bin/busybox sh
# shellcheck shell=dash
# /init of the test VM's initramfs (busybox-static; built by vm/mkinitramfs.sh).
#  1. insmod the virtio/9p/overlay modules listed in /modules.order (dependency order)
#  2. mount the host root (virtio-9p tag "hostroot") read-only as the lower layer of an overlay
#     whose upper layer is tmpfs: / is writable, every write is discarded at power-off
#  3. do every mount the tests need here, with busybox: exec'ing a dynamically linked host binary
#     over 9p under TCG costs 40-150 ms, busybox applets cost nothing
#  4. switch_root and exec vm.init (vm/guest-init.sh on the host root) as PID 1
#
# Kernel command line (dotted parameters reach neither init's argv nor its environment, so they
# are parsed from /proc/cmdline):
#   vm.init=/abs/path   PID 1 after switch_root (default /bin/sh)
#   vm.out=/abs/path    mount the writable 9p share "out" at this path (the host's path)
#   vm.modules=/abs/path/lib/modules/KVER  a kernel fetched into the VM cache (vm/fetch-kernel.sh):
#                       bind it over /lib/modules/KVER, so modprobe finds its modules and not the
#                       host's
#   vm.share<N>=/abs/path  (N = 0..7) mount the read-only 9p share "share<N>" at this path: the
#                       arm64 guest's root is not the host's, so vm/run.sh --arch arm64 shares the
#                       checkout, the build tree and the kernel's modules at their host paths
#   vm.rdshell=1        stop in a busybox shell here instead of switching root
/bin/busybox mkdir -p /usr/bin /usr/sbin
/bin/busybox --install -s
export PATH=/sbin:/bin:/usr/sbin:/usr/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev

arg() {
	for a in $(cat /proc/cmdline); do
		case "$a" in "$1="*)
			echo "${a#*=}"
			return 0
			;;
		esac
	done
	return 1
}
rescue() {
	echo "initramfs: $* -- rescue shell (exit powers off)"
	setsid cttyhack sh
	poweroff -f
}

for m in $(cat /modules.order); do
	insmod "/lib/modules/$m" || echo "initramfs: insmod $m failed"
done
[ "$(arg vm.rdshell)" = 1 ] && rescue "vm.rdshell=1"

NEWINIT=$(arg vm.init || echo /bin/sh)
OUT=$(arg vm.out || echo "")
MODS=$(arg vm.modules || echo "")
# msize 256 KiB: the 8 KiB default makes every exec over 9p slow and QEMU warns about it.
OPTS=trans=virtio,version=9p2000.L,msize=262144
mkdir -p /lower /ovl
# The virtio device can appear a moment after its driver loads: retry briefly.
i=0
until mount -t 9p -o "$OPTS,cache=loose,ro" hostroot /lower; do
	i=$((i + 1))
	[ $i -lt 20 ] || rescue "mounting the 9p tag hostroot failed"
	sleep 0.1
done
mount -t tmpfs -o mode=755 tmpfs /ovl
mkdir -p /ovl/upper /ovl/work
mount -t overlay -o lowerdir=/lower,upperdir=/ovl/upper,workdir=/ovl/work overlay /newroot ||
	rescue "overlay mount failed"
R=/newroot
for i in 0 1 2 3 4 5 6 7; do
	SHARE=$(arg "vm.share$i") || continue
	mkdir -p "$R$SHARE"
	mount -t 9p -o "$OPTS,cache=loose,ro" "share$i" "$R$SHARE" ||
		rescue "mounting the 9p share share$i at $SHARE failed"
done
[ -x "$R$NEWINIT" ] || rescue "$NEWINIT is not executable in the host root"

# devtmpfs lacks the /dev/fd links udev would make; bash's <(...) needs them
ln -sf /proc/self/fd /dev/fd
ln -sf /proc/self/fd/0 /dev/stdin
ln -sf /proc/self/fd/1 /dev/stdout
ln -sf /proc/self/fd/2 /dev/stderr
# busybox switch_root moves none of these: move them by hand
mount --move /dev $R/dev
mount --move /sys $R/sys
mount --move /proc $R/proc
mount -t tmpfs -o mode=755 tmpfs $R/run
mkdir -p $R/run/netns $R/run/lock $R/dev/pts $R/dev/shm
mount -t devpts -o gid=5,mode=620,ptmxmode=666 devpts $R/dev/pts
mount -t tmpfs -o mode=1777 tmpfs $R/dev/shm
mount -t bpf -o mode=700 bpf $R/sys/fs/bpf
mount -t tracefs tracefs $R/sys/kernel/tracing
mount -t debugfs debugfs $R/sys/kernel/debug
mount -t cgroup2 cgroup2 $R/sys/fs/cgroup
if [ -n "$MODS" ]; then
	# The overlay makes the mount point even where the host has no such directory.
	mkdir -p "$R/lib/modules/${MODS##*/}"
	mount --bind "$R$MODS" "$R/lib/modules/${MODS##*/}" ||
		rescue "binding the kernel's modules $MODS over /lib/modules failed"
fi
if [ -n "$OUT" ]; then
	# cache=none: every write reaches the host at once, so nothing needs syncing before the
	# sysrq power-off
	mkdir -p "$R$OUT"
	mount -t 9p -o "$OPTS,cache=none" out "$R$OUT" ||
		echo "initramfs: mounting the writable share at $OUT failed"
fi
hostname spsec-vm
ip link set lo up
exec switch_root $R "$NEWINIT"
