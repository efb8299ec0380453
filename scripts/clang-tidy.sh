#!/usr/bin/env bash
# Runs clang-tidy 14 with the checks of .clang-tidy over the project's C++ translation units of a
# configured and built build tree (its compile_commands.json; the generated skeleton headers must
# exist). Prints each finding; exit 0 when there is none, 1 when there is any, 77 (SKIP) when
# clang-tidy is not installed.
#
# usage: scripts/clang-tidy.sh [BUILD_DIR] [REGEX]
#   BUILD_DIR  default <checkout>/build
#   REGEX      which files (run-clang-tidy's regex on absolute paths); default every .cpp of the
#              product, under userspace/. Tests are left out: they use moved-from objects and
#              copies on purpose. The C of bpf/ is not C++ and not checked here.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-$ROOT/build}
FILES=${2:-"^$ROOT/userspace/.*\.cpp\$"}
TIDY=$(command -v clang-tidy-14 || command -v clang-tidy || true)
RUN=$(command -v run-clang-tidy-14 || command -v run-clang-tidy || true)
if [ -z "$TIDY" ] || [ -z "$RUN" ]; then
	echo "SKIP tidy: clang-tidy (Debian package clang-tidy) is not installed"
	exit 77
fi
if [ ! -f "$BUILD/compile_commands.json" ]; then
	echo "tidy: no $BUILD/compile_commands.json: configure and build first" >&2
	exit 2
fi
# -Wno-error: compiler warnings are the build's business (.clang-tidy leaves clang-diagnostic-*
# out); under SPSEC_WERROR clang would otherwise turn its own -Wpedantic notes into errors.
"$RUN" -clang-tidy-binary "$TIDY" -p "$BUILD" -j "$(nproc)" -quiet -extra-arg=-Wno-error "$FILES" 2>&1 |
	grep -v '^[0-9]* warnings\? generated\.$\|^Suppressed [0-9]* warnings\|^Use -header-filter\|^Use -system-headers'
exit "${PIPESTATUS[0]}"
