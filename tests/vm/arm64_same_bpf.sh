#!/usr/bin/env bash
# arm64 tier, ctest arm64_bpf_object: the cross build's BPF objects (the data plane and the bpf
# tier's test object) are byte for byte those of the native build. The host's clang builds them
# for the BPF target in both trees, so the data plane an arm64 node loads is the one every amd64
# test ran. 77 (SKIP) when either tree lacks them.
# usage: arm64_same_bpf.sh NATIVE_BUILD ARM64_BUILD
set -uo pipefail
[ $# -eq 2 ] || { echo "usage: $0 NATIVE_BUILD ARM64_BUILD" >&2; exit 2; }
rc=0
for o in bpf/spsec_dp.bpf.o tests/bpf/spsec_test.bpf.o; do
	for d in "$1" "$2"; do
		[ -f "$d/$o" ] || { echo "SKIP arm64: no $d/$o (build both trees: scripts/test.sh --tier arm64)"; exit 77; }
	done
	a=$(sha256sum "$1/$o" | cut -d' ' -f1) b=$(sha256sum "$2/$o" | cut -d' ' -f1)
	if [ "$a" = "$b" ]; then
		echo "ok - $o: the same object in both builds (sha256 $a)"
	else
		echo "not ok - $o differs: native $a, arm64 $b"
		rc=1
	fi
done
exit $rc
