#!/usr/bin/env bash
# arm64 tier, ctest arm64_figures (host side): the data plane's figures on arm64 against amd64,
# for docs/data-plane.md ("arm64"). Two VMs, one after the other, both on Debian's 6.1 kernel:
#   1. amd64 (vm/run.sh, the installed kernel): vm/load-figures.sh with the native build's
#      spsec_dp_driver: the verifier's processed instructions and the JIT size of each program;
#   2. arm64 (vm/run.sh --arch arm64): tests/vm/arm64_figures.sh with the cross build: the same
#      figures, and the per-frame BPF cost against the codec in that VM (spsec_bench_dataplane).
# Prints a table: processed instructions on both (and whether they are equal), JIT bytes arm64 /
# amd64, and the bench's bpf_over_codec ratios; writes it to OUT/figures.md. Fails when a VM run
# or a figure is missing; 77 (SKIP) when either VM cannot run here.
#
# usage: arm64_figures_host.sh OUT NATIVE_BUILD ARM64_BUILD
set -uo pipefail
[ $# -eq 3 ] || {
	echo "usage: $0 OUT NATIVE_BUILD ARM64_BUILD" >&2
	exit 2
}
OUT=$1 NATIVE=$2 ARM=$3
SRC=$(cd "$(dirname "$0")/../.." && pwd)
mkdir -p "$OUT"

SPSEC_BUILD_DIR=$NATIVE "$SRC/vm/run.sh" --timeout 300 --out "$OUT/amd64" \
	--script "$SRC/vm/load-figures.sh" 1
rc=$?
[ $rc -eq 77 ] && exit 77
[ $rc -eq 0 ] || { echo "FAIL arm64_figures: the amd64 VM run failed ($rc)" && exit 1; }
SPSEC_BUILD_DIR=$ARM "$SRC/vm/run.sh" --arch arm64 --timeout 900 --out "$OUT/arm64" \
	--script "$SRC/tests/vm/arm64_figures.sh"
rc=$?
[ $rc -eq 77 ] && exit 77
[ $rc -eq 0 ] || { echo "FAIL arm64_figures: the arm64 VM run failed ($rc)" && exit 1; }

# "[1: ]program spsec_ingress: 9146 xlated insns, 52380 bytes jited, 38652 verifier-processed insns"
prog() { # prog <guest.log> <program> <field: 1 xlated, 2 jited, 3 processed>
	sed -n "s/^\(1: \)\{0,1\}program $2: \([0-9]*\) xlated insns, \([0-9]*\) bytes jited, \([0-9]*\) verifier-processed insns$/\2 \3 \4/p" \
		"$1" | head -1 | cut -d' ' -f"$3"
}
bench() { sed -n "s/^BENCH $1 \([0-9.]*\) .*/\1/p" "$OUT/arm64/figures.txt" | head -1; }
{
	fail=0
	echo "| program | processed amd64 | processed arm64 | equal | JIT bytes amd64 | JIT bytes arm64 | arm64/amd64 |"
	echo "|---|---|---|---|---|---|---|"
	for p in spsec_ingress spsec_egress; do
		pa=$(prog "$OUT/amd64/guest.log" $p 3) ja=$(prog "$OUT/amd64/guest.log" $p 2)
		pr=$(prog "$OUT/arm64/figures.txt" $p 3) jr=$(prog "$OUT/arm64/figures.txt" $p 2)
		if [ -z "$pa" ] || [ -z "$pr" ] || [ -z "$ja" ] || [ -z "$jr" ]; then
			echo "FAIL arm64_figures: no figures of $p (amd64 '$pa' '$ja', arm64 '$pr' '$jr')" >&2
			fail=1
			continue
		fi
		eq=no
		[ "$pa" = "$pr" ] && eq=yes
		echo "| $p | $pa | $pr | $eq | $ja | $jr | $(awk -v a="$ja" -v r="$jr" 'BEGIN { printf "%.2f", r / a }') |"
	done
	echo
	echo "| per frame, 48-byte payload, arm64 VM (TCG) | BPF ns | codec ns | BPF / codec |"
	echo "|---|---|---|---|"
	for aead in aesgcm chachapoly ascon; do
		for what in rx_auth rx_dec tx_seal; do
			b=$(bench "${what}_${aead}_bpf") c=$(bench "${what}_${aead}_codec") r=$(bench "${what}_${aead}_bpf_over_codec")
			if [ -z "$r" ]; then
				echo "FAIL arm64_figures: no BENCH ${what}_${aead}_bpf_over_codec" >&2
				fail=1
				continue
			fi
			echo "| $what $aead | $b | $c | $r |"
		done
	done
	exit $fail # the block is a subshell (the pipe): its status carries the verdict
} | tee "$OUT/figures.md"
[ "${PIPESTATUS[0]}" = 0 ] || exit 1
echo "arm64_figures: $OUT/figures.md"
