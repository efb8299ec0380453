#!/usr/bin/env bash
# Host side of the VM benchmarks: boots the test VM once, runs bench/vm_bench.sh in it (the
# end-to-end CAN FD benchmark: plain vs the tc data plane vs a user-space gateway, per AEAD; and
# 9 idle spsecd), then prints the summary: the medians, ratios and TARGET lines. See
# docs/performance.md. With --gateway it runs bench/gw_bench.sh instead: the segment gateway's
# kernel paths against the project's user-space gateway (docs/gateway.md).
#
# usage: bench/run-vm-bench.sh [--out DIR] [vm_bench.sh options: --smoke, --parts fps,idle, -n N,
#        -k K, -m M, --rounds R, --idle-s S]
#        bench/run-vm-bench.sh [--out DIR] --gateway [gw_bench.sh options: --smoke, -n N, -k K,
#        -m M, --rounds R, --aead NAME]
# Needs a build (cmake --build build; SPSEC_BUILD_DIR overrides <checkout>/build) and what
# vm/run.sh needs (qemu, linux-image-amd64, busybox-static). Exit status: the guest script's.
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export SPSEC_BUILD_DIR=${SPSEC_BUILD_DIR:-$ROOT/build}
OUT=""
if [ "${1:-}" = --out ]; then
	OUT=$2
	shift 2
fi
OUT=${OUT:-$(mktemp -d /tmp/spsec-bench.XXXXXX)}
mkdir -p "$OUT"
if [ "${1:-}" = --gateway ]; then
	shift
	"$ROOT/vm/run.sh" --quiet --timeout 1500 --out "$OUT" --script "$ROOT/bench/gw_bench.sh" "$@" \
		>"$OUT/run.log" 2>&1
	rc=$?
	echo "== gateway summary ($(date -u +%Y-%m-%dT%H:%MZ), full log: $OUT/guest.log)"
	grep -E '^# (gw_bench|medians)|^BENCH gw_|^TARGET|^not ok|^vm:' "$OUT/guest.log" 2>/dev/null ||
		tail -20 "$OUT/run.log"
	exit $rc
fi
# the same codec figures on the host, for the TCG slowdown of pure computation
"$SPSEC_BUILD_DIR/bench/spsec_bench_codec" 5000 2>/dev/null |
	sed -n 's/^BENCH codec_\([a-z]*\)_\([a-z0-9-]*\) \([0-9.]*\) ns$/BENCH host_codec_\1_\2 \3 ns/p' >"$OUT/host-codec.txt"
"$ROOT/vm/run.sh" --quiet --timeout 1500 --out "$OUT" --script "$ROOT/bench/vm_bench.sh" "$@" \
	>"$OUT/run.log" 2>&1
rc=$?
echo "== summary ($(date -u +%Y-%m-%dT%H:%MZ), full log: $OUT/guest.log)"
grep -E '^# (vm_bench|medians|node|after|data plane)|^BENCH (vcan_[a-z]+_[a-z]+_(fps|lat_p50|lat_p99)|vcan_(plain|bpf|gw)_[a-z_0-9]+|idle_|tcg_)|^TARGET|^not ok|^vm:' \
	"$OUT/guest.log" 2>/dev/null | grep -v '_r[0-9]*_' || tail -20 "$OUT/run.log"
# TCG slowdown = guest ns / host ns, per codec figure
while read -r _ name val _; do
	g=$(awk -v n="tcg_${name#host_}" '$1 == "BENCH" && $2 == n { print $3 }' "$OUT/guest.log" 2>/dev/null)
	[ -n "$g" ] && echo "BENCH ${name#host_}_tcg_slowdown $(awk "BEGIN { printf \"%.1f\", $g / $val }") x"
done <"$OUT/host-codec.txt"
exit $rc
