#!/usr/bin/env bash
# Fails when a C/C++ source differs from its clang-format style (.clang-format at the root for
# C++, bpf/.clang-format for BPF C). Prints the offending files.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT" || exit 1
CF=$(command -v clang-format-14 || command -v clang-format)
bad=0
while IFS= read -r f; do
	# BPF C and the C ABI header follow the kernel style; all C++ the root style.
	case "$f" in
	bpf/* | *.bpf.c | include/spsec/abi.h | userspace/bpf/crypto/*) style=file:bpf/.clang-format ;;
	*) style=file:.clang-format ;;
	esac
	if ! "$CF" --style="$style" --dry-run --Werror "$f" >/dev/null 2>&1; then
		echo "format: $f differs from clang-format (run: $CF --style=$style -i $f)"
		bad=1
	fi
done < <(git ls-files -co --exclude-standard '*.c' '*.h' '*.cpp' '*.hpp' | grep -v '^build')
exit $bad
