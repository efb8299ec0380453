#!/usr/bin/env bash
# The README's main job: installs the Debian packages, configures and builds the project, then
# boots the test VM (Debian's kernel in QEMU, see docs/testing.md) running vm/demo.sh and streams
# what it prints. Exit status: the demo's (0 = it showed what it should), 77 if no VM can run here.
#
# usage: scripts/demo.sh [--no-build] [ARGS...]   ARGS go to vm/demo.sh
# environment: SPSEC_BUILD_DIR   build dir (default <checkout>/build)
#              SPSEC_BUILD_TARGETS  build only these targets (default: everything)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${SPSEC_BUILD_DIR:-$ROOT/build}
DO_BUILD=1
if [ "${1:-}" = --no-build ]; then
	DO_BUILD=0
	shift
fi
say() { printf '\n==== %s ====\n' "$*"; }

if [ "$DO_BUILD" = 1 ]; then
	say "dependencies (Debian packages)"
	"$ROOT/scripts/install-deps.sh"
	say "build ($BUILD)"
	cmake -S "$ROOT" -B "$BUILD" -G Ninja >/dev/null
	targets=()
	for t in ${SPSEC_BUILD_TARGETS:-}; do targets+=(--target "$t"); done
	cmake --build "$BUILD" ${targets[@]+"${targets[@]}"}
fi

say "demo in the test VM"
export SPSEC_BUILD_DIR=$BUILD SPSEC_SOURCE_DIR=$ROOT
rc=0
"$ROOT/vm/run.sh" --quiet --timeout "${SPSEC_DEMO_TIMEOUT:-600}" --out "$BUILD/demo-out" \
	--script "$ROOT/vm/demo.sh" "$@" || rc=$?
case $rc in
0) echo "demo: done (logs in $BUILD/demo-out)" ;;
77) echo "demo: cannot run a VM on this machine (see the SKIP line above)" >&2 ;;
*) echo "demo: FAILED with status $rc (logs in $BUILD/demo-out)" >&2 ;;
esac
exit $rc
