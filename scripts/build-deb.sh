#!/usr/bin/env bash
# Builds the Debian package spsec-linux_<version>_<arch>.deb from a configured CMake build
# directory (CPack's DEB generator over the project's install rules; docs/packaging.md).
#
# usage: scripts/build-deb.sh BUILD_DIR OUT_DIR [ARCH]
#   BUILD_DIR  a configured build tree (native, or cross with a toolchain file); spsecd and
#              spsecctl are built in it first if they are not up to date
#   OUT_DIR    where the .deb goes (created); its path is printed on the last line
#   ARCH       the Debian architecture, e.g. amd64 or arm64 (default: $DEB_HOST_ARCH, else
#              `dpkg --print-architecture`); it must be the one the binaries were built for
# Needs dpkg-dev (dpkg-shlibdeps works out the library dependencies) and, for a foreign ARCH,
# that architecture's library packages installed (multiarch), as a cross build does anyway.
# Exit status: 0 done, 1 a step failed, 2 wrong usage.
set -euo pipefail
PROG=build-deb
die() { echo "$PROG: $*" >&2; exit 1; }
usage() { sed -n '/^# usage:/,/^# Exit status/s/^# \{0,1\}//p' "$0" >&2; exit 2; }

[ $# -ge 2 ] && [ $# -le 3 ] || usage
BUILD=$1 OUT=$2
ARCH=${3:-${DEB_HOST_ARCH:-$(dpkg --print-architecture)}}
[[ $ARCH =~ ^[a-z0-9][a-z0-9-]*$ ]] || { echo "$PROG: ARCH '$ARCH' is not a Debian architecture name" >&2; usage; }
[ -f "$BUILD/CPackConfig.cmake" ] || die "$BUILD is not a configured build directory (no CPackConfig.cmake)"
command -v dpkg-shlibdeps >/dev/null || die "dpkg-shlibdeps not found (apt-get install dpkg-dev)"
BUILD=$(realpath "$BUILD")

cmake --build "$BUILD" --target spsecd spsecctl >/dev/null || die "building spsecd and spsecctl in $BUILD failed"
# A package whose binaries are for another machine installs and then fails at the first run;
# catch a wrong ARCH here.
declare -A MACHINE=([amd64]="x86-64" [arm64]="ARM aarch64" [armhf]="ARM," [i386]="Intel 80386"
	[riscv64]="RISC-V" [ppc64el]="64-bit PowerPC" [s390x]="IBM S/390")
if [ -n "${MACHINE[$ARCH]:-}" ] && command -v file >/dev/null; then
	for b in userspace/daemon/spsecd userspace/ctl/spsecctl; do
		file -L "$BUILD/$b" | grep -q "${MACHINE[$ARCH]}" ||
			die "$BUILD/$b is not a $ARCH binary: $(file -bL "$BUILD/$b" | cut -d, -f1-2)"
	done
fi

# The package's directories get the umask's mode (cmake --install, like install -d).
umask 022
mkdir -p "$OUT"
OUT=$(realpath "$OUT")
stage=$(mktemp -d "$OUT/.cpack.XXXXXX")
trap 'rm -rf "$stage"' EXIT
# dpkg-shlibdeps reads the host architecture from DEB_HOST_ARCH.
DEB_HOST_ARCH=$ARCH cpack --config "$BUILD/CPackConfig.cmake" -G DEB -B "$stage" \
	-D CPACK_DEBIAN_PACKAGE_ARCHITECTURE="$ARCH" >"$stage.log" 2>&1 ||
	{ cat "$stage.log" >&2; rm -f "$stage.log"; die "cpack failed"; }
rm -f "$stage.log"
debs=("$stage"/spsec-linux_*_"$ARCH".deb)
[ -f "${debs[0]}" ] && [ ${#debs[@]} -eq 1 ] || die "cpack made no spsec-linux_*_$ARCH.deb"
deb=$OUT/$(basename "${debs[0]}")
mv -f "${debs[0]}" "$deb"
echo "$PROG: $(dpkg-deb -f "$deb" Package Version Architecture | tr '\n' ' ')"
echo "$deb"
