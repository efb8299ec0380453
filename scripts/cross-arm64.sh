#!/usr/bin/env bash
# Cross-builds spsec-linux for arm64 with Debian's cross toolchain and multiarch packages and makes
# the arm64 .deb (docs/packaging.md, "arm64"). Run as root on Debian 12; idempotent.
#   1. apt: the arm64 architecture (dpkg --add-architecture arm64), crossbuild-essential-arm64,
#      the :arm64 -dev packages (libbpf, libelf, libssl, zlib) and libyaml-cpp0.7:arm64, and
#      qemu-system-arm for the arm64 VM;
#   2. libyaml-cpp-dev:arm64 unpacked aside (dpkg -x into BUILD/arm64-deps): Debian 12's -dev
#      package is not Multi-Arch: same, so it cannot be installed beside the amd64 one;
#   3. configure BUILD with cmake/toolchain-aarch64.cmake and build what the package and the arm64
#      tier need: spsecd, spsecctl, the test tools and the data-plane bench;
#   4. scripts/build-deb.sh BUILD OUT arm64.
# Prints each step's time and the .deb's path last.
#
# usage: scripts/cross-arm64.sh [BUILD [OUT]]   (default build-arm64 and BUILD/deb)
# Exit status: 0 done, 1 a step failed, 2 wrong usage.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PROG=cross-arm64
die() { echo "$PROG: $*" >&2; exit 1; }
[ $# -le 2 ] || { sed -n '/^# usage:/p' "$0" >&2; exit 2; }
BUILD=${1:-$ROOT/build-arm64}
OUT=${2:-$BUILD/deb}
JOBS=$(nproc)
t0=$SECONDS
lap() { echo "$PROG: $1 ($((SECONDS - t0)) s)"; t0=$SECONDS; }

# ---- 1. packages --------------------------------------------------------------------------------
PKGS=(crossbuild-essential-arm64 libbpf-dev:arm64 libelf-dev:arm64 libssl-dev:arm64
	zlib1g-dev:arm64 libyaml-cpp0.7:arm64 qemu-system-arm binutils)
installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }
missing=()
dpkg --print-foreign-architectures | grep -qx arm64 || missing+=(arm64-architecture)
for p in "${PKGS[@]}"; do installed "$p" || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
	[ "$(id -u)" -eq 0 ] || die "missing: ${missing[*]}; run as root to install them"
	echo "$PROG: installing ${missing[*]}" >&2
	dpkg --print-foreign-architectures | grep -qx arm64 || dpkg --add-architecture arm64
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${PKGS[@]}" >/dev/null ||
		die "apt-get install ${PKGS[*]} failed"
fi
lap "cross toolchain and arm64 packages installed"

# ---- 2. libyaml-cpp-dev:arm64, unpacked aside ---------------------------------------------------
DEPS=$BUILD/arm64-deps
YAML_DIR=$DEPS/usr/lib/aarch64-linux-gnu/cmake/yaml-cpp
if [ ! -f "$YAML_DIR/yaml-cpp-config.cmake" ]; then
	mkdir -p "$BUILD"
	dl=$(mktemp -d "$BUILD/.dl.XXXXXX")
	chmod 0777 "$dl" # apt downloads as its _apt user
	(cd "$dl" && apt-get download -q libyaml-cpp-dev:arm64 libyaml-cpp0.7:arm64 >/dev/null) ||
		die "apt-get download libyaml-cpp-dev:arm64 libyaml-cpp0.7:arm64 failed"
	rm -rf "$DEPS"
	for d in "$dl"/*.deb; do dpkg-deb -x "$d" "$DEPS"; done
	rm -rf "$dl"
	[ -f "$YAML_DIR/yaml-cpp-config.cmake" ] || die "libyaml-cpp-dev:arm64 has no $YAML_DIR"
fi

# ---- 3. configure and build ---------------------------------------------------------------------
cmake -S "$ROOT" -B "$BUILD" -G Ninja -DSPSEC_WERROR=ON \
	-DCMAKE_TOOLCHAIN_FILE="$ROOT/cmake/toolchain-aarch64.cmake" -Dyaml-cpp_DIR="$YAML_DIR" \
	>/dev/null || die "configuring $BUILD failed"
cmake --build "$BUILD" -j "$JOBS" --target spsecd spsecctl spsec_dp_driver spsec_stall_probe \
	spsec_bench_dataplane || die "the arm64 build failed"
file -L "$BUILD/userspace/daemon/spsecd" | grep -q 'ARM aarch64' ||
	die "$BUILD/userspace/daemon/spsecd is not an arm64 binary"
lap "cross-built in $BUILD"
sha256sum "$BUILD/bpf/spsec_dp.bpf.o" | sed "s|^|$PROG: data plane object |"

# ---- 4. the package -----------------------------------------------------------------------------
deb=$("$ROOT/scripts/build-deb.sh" "$BUILD" "$OUT" arm64 | tail -1) || die "build-deb.sh failed"
lap "packaged"
echo "$deb"
