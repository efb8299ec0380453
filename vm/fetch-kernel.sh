#!/usr/bin/env bash
# Fetches a Debian kernel package for the test VM without installing it on the host: resolves a
# kernel name to the newest matching linux-image package the apt sources offer, downloads it with
# `apt-get download` (apt checks it against the signed Release files) and unpacks it with `dpkg -x`
# into the VM cache, keyed by package name and version. A second call reuses the unpacked tree.
#
# usage: vm/fetch-kernel.sh NAME CACHE
#   NAME   6.1 | 6.1-rt | 6.12 | 6.12-rt (the newest matching package), or an exact package
#          name (linux-image-6.12.118+deb12-rt-amd64), optionally with =VERSION to pin it;
#          6.1-arm64 | 6.12-arm64: Debian's arm64 kernel (the :arm64 package, for vm/run.sh
#          --arch arm64; apt needs the arm64 architecture: dpkg --add-architecture arm64)
#   CACHE  the VM cache dir (vm/run.sh: ${SPSEC_VM_CACHE:-/var/tmp/spsec-vm})
# Prints one line on stdout: KVER PKG VERSION DIR, where DIR/boot/vmlinuz-KVER,
# DIR/boot/config-KVER and DIR/lib/modules/KVER (with a fresh modules.dep) exist.
# Exit status: 0; 2 for a bad NAME; 3 when the package cannot be had (the apt sources lack it, or
# the download failed: no network; the message names the package and apt's error); 1 for any other
# failure. Nothing is left half-unpacked: the tree is unpacked into a temp
# dir and renamed into place.
set -euo pipefail
if [ $# -ne 2 ]; then
	echo "usage: $0 NAME CACHE" >&2
	exit 2
fi
NAME=$1
CACHE=$2
fail() {
	echo "fetch-kernel: $2" >&2
	exit "$1"
}

# Signed images (what a deployment installs), the generic amd64 flavour or its PREEMPT_RT build,
# or the generic arm64 flavour (a foreign architecture here: apt is asked for PKG:arm64).
ARCHQ=""
case "$NAME" in
6.1) re='^linux-image-6\.1\.0-[0-9]+-amd64$' ;;
6.1-rt) re='^linux-image-6\.1\.0-[0-9]+-rt-amd64$' ;;
6.12) re='^linux-image-6\.12\.[0-9]+\+deb12-amd64$' ;;
6.12-rt) re='^linux-image-6\.12\.[0-9]+\+deb12-rt-amd64$' ;;
6.1-arm64) re='^linux-image-6\.1\.0-[0-9]+-arm64$' ARCHQ=:arm64 ;;
6.12-arm64) re='^linux-image-6\.12\.[0-9]+\+deb12-arm64$' ARCHQ=:arm64 ;;
linux-image-*) re="" ;;
*) fail 2 "unknown kernel '$NAME' (expected 6.1, 6.1-rt, 6.12, 6.12-rt, 6.1-arm64, 6.12-arm64 or a linux-image-* package)" ;;
esac

PKG=${NAME%%=*} VERSION=""
[[ $NAME == *=* ]] && VERSION=${NAME#*=}
if [ -n "$re" ]; then
	# Newest ABI first; the first one apt has a candidate version for wins.
	PKG=""
	base=${NAME%-rt}
	for p in $(apt-cache pkgnames "linux-image-${base%-arm64}" | grep -E "$re" | sort -rV); do
		v=$(apt-cache policy "$p$ARCHQ" | sed -n 's/^  Candidate: //p')
		if [ -n "$v" ] && [ "$v" != "(none)" ]; then
			PKG=$p VERSION=$v
			break
		fi
	done
	[ -n "$PKG" ] || fail 3 "the apt sources offer no package for kernel $NAME (pattern $re${ARCHQ:+, \
architecture ${ARCHQ#:}: dpkg --add-architecture ${ARCHQ#:}}); run apt-get update, or check \
/etc/apt/sources.list for bookworm-security"
elif [ -z "$VERSION" ]; then
	VERSION=$(apt-cache policy "$PKG" 2>/dev/null | sed -n 's/^  Candidate: //p')
	{ [ -n "$VERSION" ] && [ "$VERSION" != "(none)" ]; } ||
		fail 3 "the apt sources offer no package $PKG"
fi

# The version goes into a path: keep it to the characters Debian versions use.
[[ $PKG$VERSION =~ ^[A-Za-z0-9.+~:-]+$ ]] || fail 2 "odd package name or version '$PKG=$VERSION'"
DIR=$CACHE/kernels/${PKG}_${VERSION//:/%3a}
mkdir -p "$CACHE/kernels"
{
	# Parallel runs: one downloads, the others wait and reuse it.
	flock 8 || fail 1 "cannot lock $CACHE/kernels/lock"
	if [ ! -f "$DIR/.complete" ]; then
		echo "fetch-kernel: downloading $PKG=$VERSION into $DIR" >&2
		tmp=$(mktemp -d "$CACHE/kernels/.tmp.XXXXXX")
		trap 'rm -rf "$tmp"' EXIT
		t0=$SECONDS
		if ! (cd "$tmp" && apt-get download -q "$PKG$ARCHQ=$VERSION" >"$tmp/apt.log" 2>&1); then
			cat "$tmp/apt.log" >&2
			why=$(grep -m1 '^E: ' "$tmp/apt.log" | cut -c4-300)
			fail 3 "apt-get download $PKG=$VERSION failed (${why:-apt gave no reason}): no network or \
mirror, or the sources lack it (run apt-get update)"
		fi
		deb=$(find "$tmp" -maxdepth 1 -name '*.deb' | head -1)
		[ -n "$deb" ] || fail 1 "apt-get download $PKG=$VERSION left no .deb"
		mkdir "$tmp/root"
		t1=$SECONDS
		dpkg -x "$deb" "$tmp/root"
		t2=$SECONDS
		# Debian 12 may ship /lib/modules under /usr/lib (merged /usr); take either.
		for d in "$tmp/root/lib/modules" "$tmp/root/usr/lib/modules"; do
			[ -d "$d" ] && moddir=$d && break
		done
		[ -n "${moddir:-}" ] || fail 1 "$PKG has no lib/modules"
		kver=$(basename "$(find "$moddir" -mindepth 1 -maxdepth 1 -type d | head -1)")
		[ -f "$tmp/root/boot/vmlinuz-$kver" ] || fail 1 "$PKG has no boot/vmlinuz-$kver"
		if [ "$moddir" != "$tmp/root/lib/modules" ]; then
			mkdir -p "$tmp/root/lib"
			mv "$moddir" "$tmp/root/lib/modules"
		fi
		# The package leaves modules.dep to its postinst; make it here, for the initramfs and for
		# modprobe in the guest.
		depmod -b "$tmp/root" -F "$tmp/root/boot/System.map-$kver" "$kver" ||
			fail 1 "depmod for $kver failed"
		echo "fetch-kernel: $PKG: download $((t1 - t0)) s, dpkg -x $((t2 - t1)) s, depmod $((SECONDS - t2)) s" >&2
		printf '%s %s %s\n' "$kver" "$PKG" "$VERSION" >"$tmp/root/.complete"
		sha256sum "$deb" | cut -d' ' -f1 >"$tmp/root/.deb-sha256"
		rm -rf "$DIR"
		mv "$tmp/root" "$DIR"
	fi
} 8>"$CACHE/kernels/lock"
read -r kver _ <"$DIR/.complete"
echo "$kver $PKG $VERSION $DIR"
