#!/usr/bin/env bash
# Builds the test VM's initramfs: busybox-static, the kernel modules needed to mount the host root
# over virtio-9p with a writable overlay (dependencies resolved from modules.dep, loaded in
# dependency order), and vm/initramfs-init.sh as /init. Everything else (CAN, tc, BPF modules, all
# programs) comes from the host root at run time, so the image stays ~1.5 MB and never needs
# rebuilding when the project's binaries change.
#
# usage: vm/mkinitramfs.sh KVER OUTPUT
#   MODDIR=DIR takes the modules from DIR instead of /lib/modules/KVER (a kernel that vm/run.sh
#   fetched into its cache, not installed on the host).
#   EXTRA_MODULES="name ..." adds modules to insmod in the initramfs (normally not needed: the
#   guest modprobes from /lib/modules/KVER over 9p).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
if [ $# -ne 2 ]; then
	echo "usage: $0 KVER OUTPUT" >&2
	exit 2
fi
KVER=$1
OUT=$2
MODDIR=${MODDIR:-/lib/modules/$KVER}
BUSYBOX=${BUSYBOX:-/bin/busybox}

[ -f "$MODDIR/modules.dep" ] || {
	echo "mkinitramfs: no $MODDIR/modules.dep (apt-get install linux-image-amd64)" >&2
	exit 1
}
# A dynamically linked busybox would need the host's libc inside the initramfs.
if ! file -L "$BUSYBOX" 2>/dev/null | grep -q 'statically linked'; then
	echo "mkinitramfs: $BUSYBOX is not statically linked (apt-get install busybox-static)" >&2
	exit 1
fi

# virtio_pci: PCI transport; 9pnet_virtio + 9p: the host root; overlay: tmpfs upper layer over the
# read-only root; virtio-rng: entropy for CPU models without RDRAND.
WANT="virtio_pci 9pnet_virtio 9p overlay virtio-rng ${EXTRA_MODULES:-}"

declare -A SEEN=()
ORDER=()
alt_name() { echo "$1" | tr '_-' '-_'; } # file names use '-' or '_' inconsistently (can-raw.ko)
modpath() { # module name -> path relative to MODDIR, from modules.dep; empty if none (built in)
	grep -E "(^|/)($1|$(alt_name "$1"))\.ko(\.xz|\.zst|\.gz)?:" "$MODDIR/modules.dep" | head -1 |
		cut -d: -f1 || true
}
resolve() { # depth first, so dependencies precede their users in ORDER
	local rel=$1 dep
	[ -n "${SEEN[$rel]:-}" ] && return 0
	SEEN[$rel]=1
	for dep in $(grep -E "^$rel:" "$MODDIR/modules.dep" | cut -d: -f2); do
		resolve "$dep"
	done
	ORDER+=("$rel")
}
for m in $WANT; do
	p=$(modpath "$m")
	if [ -z "$p" ]; then
		if grep -qE "/($m|$(alt_name "$m"))\.ko" "$MODDIR/modules.builtin"; then
			continue # built into the kernel: nothing to load
		fi
		echo "mkinitramfs: module $m not found for $KVER" >&2
		exit 1
	fi
	resolve "$p"
done

STAGE=$(mktemp -d "${TMPDIR:-/tmp}/spsec-initramfs.XXXXXX")
trap 'rm -rf "$STAGE"' EXIT
mkdir -p "$STAGE"/{bin,sbin,dev,proc,sys,newroot,lib/modules}
cp "$BUSYBOX" "$STAGE/bin/busybox"
: >"$STAGE/modules.order"
for rel in "${ORDER[@]}"; do
	base=$(basename "$rel")
	# busybox insmod wants plain .ko files
	case "$base" in
	*.ko.xz) xz -dc "$MODDIR/$rel" >"$STAGE/lib/modules/${base%.xz}" && base=${base%.xz} ;;
	*.ko.zst) zstd -qdc "$MODDIR/$rel" >"$STAGE/lib/modules/${base%.zst}" && base=${base%.zst} ;;
	*.ko.gz) gzip -dc "$MODDIR/$rel" >"$STAGE/lib/modules/${base%.gz}" && base=${base%.gz} ;;
	*) cp "$MODDIR/$rel" "$STAGE/lib/modules/$base" ;;
	esac
	echo "$base" >>"$STAGE/modules.order"
done
cp "$HERE/initramfs-init.sh" "$STAGE/init"
chmod 755 "$STAGE/init"
(cd "$STAGE" && find . -print0 | cpio --null -o -H newc --quiet) | gzip -1 >"$OUT.tmp.$$"
mv "$OUT.tmp.$$" "$OUT"
echo "mkinitramfs: $OUT: $(wc -l <"$STAGE/modules.order") modules ($(tr '\n' ' ' <"$STAGE/modules.order"))"
