#!/usr/bin/env bash
# Guest script of the arm64 tier's figures (tests/vm/arm64_figures_host.sh boots it under
# vm/run.sh --arch arm64): the production data plane's verifier and JIT figures on this kernel
# (vm/load-figures.sh: spsec_dp_driver attaches the object to a vcan), then the per-frame cost of
# the BPF data plane against the codec in this same VM (bench/dataplane_bench.cpp: BPF_PROG_TEST_RUN
# against userspace/core's codec, per AEAD; BENCH lines). Output: $VM_OUT/figures.txt. Fails only
# when a step fails; the numbers are not judged here.
#
# usage (guest): arm64_figures.sh [repeat] [rounds] [codec iterations]   (defaults 20000 3 20000)
set -uo pipefail
REPEAT=${1:-20000} ROUNDS=${2:-3} NATIVE=${3:-20000}
BENCH=$SPSEC_BUILD_DIR/bench/spsec_bench_dataplane
[ -x "$BENCH" ] || {
	echo "arm64_figures: $BENCH is not built (scripts/cross-arm64.sh builds it)"
	exit 1
}
echo "# $(uname -m) $(uname -r)"
{
	echo "arch $(uname -m)"
	bash "$SPSEC_SOURCE_DIR/vm/load-figures.sh" 3 || exit 1
	"$BENCH" "$REPEAT" "$ROUNDS" "$NATIVE" || exit 1
} 2>&1 | tee "$VM_OUT/figures.txt"
exit "${PIPESTATUS[0]}"
