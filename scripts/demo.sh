#!/usr/bin/env bash
# The README's main job: installs the Debian packages, configures and builds the project, then
# boots the test VM (Debian's kernel in QEMU, see docs/testing.md) running vm/demo.sh and streams
# what it prints. Exit status: the demo's (0 = it showed what it should), 77 if no VM can run here.
#
# usage: scripts/demo.sh [--no-build] [--gateway] [--json FILE] [ARGS...]
#   --gateway    the gateway demo instead (vm/demo_gateway.sh, docs/gateway.md): a secured bus of
#                spsecd nodes, a gateway, a CAN FD and a classical legacy segment, attackers on
#                both sides
#   --json FILE  copy the demo's machine-readable report (the guest script writes it) to FILE
#   ARGS go to the guest script: --aead NAME, --auth-only, and --short (not with --gateway)
# environment: SPSEC_BUILD_DIR   build dir (default <checkout>/build)
#              SPSEC_BUILD_TARGETS  targets to build (default: what the demo runs, spsecd and
#                                   spsecctl; the data plane is built into spsecd; the same list as
#                                   the vm_demo test's DEPENDS in tests/vm/demo.cmake)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${SPSEC_BUILD_DIR:-$ROOT/build}
DO_BUILD=1
JSON=""
GUEST=$ROOT/vm/demo.sh
ARGS=()
while [ $# -gt 0 ]; do
	case "$1" in
	--no-build) DO_BUILD=0 ;;
	--gateway) GUEST=$ROOT/vm/demo_gateway.sh ;;
	--json)
		[ $# -ge 2 ] || { echo "demo: --json needs a file name" >&2; exit 2; }
		JSON=$2
		shift
		;;
	*) ARGS+=("$1") ;;
	esac
	shift
done
say() { printf '\n==== %s ====\n' "$*"; }

if [ "$DO_BUILD" = 1 ]; then
	say "dependencies (Debian packages)"
	"$ROOT/scripts/install-deps.sh"
	say "build ($BUILD)"
	cmake -S "$ROOT" -B "$BUILD" -G Ninja >/dev/null
	targets=()
	for t in ${SPSEC_BUILD_TARGETS:-spsecd spsecctl}; do targets+=(--target "$t"); done
	cmake --build "$BUILD" "${targets[@]}"
fi

say "demo in the test VM"
export SPSEC_BUILD_DIR=$BUILD SPSEC_SOURCE_DIR=$ROOT
rc=0
rm -f "$BUILD/demo-out/demo-report.json"
"$ROOT/vm/run.sh" --quiet --timeout "${SPSEC_DEMO_TIMEOUT:-600}" --out "$BUILD/demo-out" \
	--script "$GUEST" ${ARGS[@]+"${ARGS[@]}"} || rc=$?
if [ -n "$JSON" ] && [ -f "$BUILD/demo-out/demo-report.json" ]; then
	cp "$BUILD/demo-out/demo-report.json" "$JSON" && echo "demo: JSON report in $JSON"
fi
case $rc in
0) echo "demo: done (logs in $BUILD/demo-out)" ;;
77) echo "demo: cannot run a VM on this machine (see the SKIP line above)" >&2 ;;
*) echo "demo: FAILED with status $rc (logs in $BUILD/demo-out)" >&2 ;;
esac
exit $rc
