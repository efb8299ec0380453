#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# vm/run.sh --kernel and vm/fetch-kernel.sh without a network, on the host (no VM is booted): a
# kernel that cannot be fetched is a SKIP that names the reason (exit 77, never a pass, and under
# CI=true scripts/test.sh fails a skipped tier), nothing is left half-unpacked in the cache, and
# a bad kernel name is a failure. "No network": apt's proxy is a closed local port, set through
# APT_CONFIG. apt reads that file first and apt.conf.d and apt.conf after it, so it also points
# those away (a proxy configured there would otherwise win and the download succeed).
# usage: fetch_kernel_test.sh SOURCE_DIR
src=${1:?usage: fetch_kernel_test.sh SOURCE_DIR}
command -v qemu-system-x86_64 >/dev/null || { echo "SKIP vm: qemu-system-x86_64 not installed" && exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/no-parts" && : >"$tmp/no-main"
printf '%s\n' "Dir::Etc::parts \"$tmp/no-parts\";" "Dir::Etc::main \"$tmp/no-main\";" \
	'Acquire::http::Proxy "http://127.0.0.1:9/";' 'Acquire::https::Proxy "http://127.0.0.1:9/";' \
	'Acquire::Retries "0";' >"$tmp/apt.conf"
failures=0 n=0
check() { # check <description> <command...>
	n=$((n + 1))
	if "${@:2}"; then echo "ok $n - $1"; else echo "not ok $n - $1" && failures=$((failures + 1)); fi
}

out=$(SPSEC_VM_CACHE=$tmp/cache APT_CONFIG=$tmp/apt.conf "$src/vm/run.sh" --kernel 6.12 \
	--script "$src/tests/vm/smoke.sh" 2>"$tmp/err")
rc=$?
echo "$out"
check "no network: run.sh --kernel 6.12 exits 77 (skipped), got $rc" test "$rc" = 77
check "no network: the SKIP line names the kernel and why" \
	grep -Eq "^SKIP vm: kernel '6.12' cannot be fetched: .*(failed|offer no package)" <<<"$out"
check "no network: no kernel tree (or temp dir) left in the cache" \
	test -z "$(find "$tmp/cache/kernels" -mindepth 1 -maxdepth 1 -not -name lock 2>/dev/null)"

out=$(SPSEC_VM_CACHE=$tmp/cache "$src/vm/run.sh" --kernel 6.13 --script "$src/tests/vm/smoke.sh" 2>&1)
rc=$?
check "unknown kernel name: a failure (exit 1), not a skip, got $rc" test "$rc" = 1
check "unknown kernel name: the message names it" grep -q "unknown kernel '6.13'" <<<"$out"

out=$("$src/vm/fetch-kernel.sh" linux-image-spsec-no-such-package "$tmp/cache" 2>&1)
rc=$?
check "fetch-kernel.sh: a package the sources lack exits 3, got $rc" test "$rc" = 3
check "fetch-kernel.sh: the message names the package" grep -q 'linux-image-spsec-no-such-package' <<<"$out"

echo "1..$n"
[ "$failures" = 0 ]
