#!/usr/bin/env bash
# Guest script: the production data plane's verifier figures and load time on the guest kernel,
# for the per-kernel table in docs/data-plane.md. Attaches the object N times (default 5) with
# tests/tools/spsec_dp_driver to a vcan without and one with IFF_ECHO (echo=1 is a module
# parameter, so two boots: pass "echo" as the second argument) and prints each run's figures and
# the median load time. Informational; it fails only when an attach fails.
#
#   vm/run.sh --kernel 6.12 --script vm/load-figures.sh 5 [echo]
set -uo pipefail
N=${1:-5}
ECHO=${2:-}
DRV=${SPSEC_BUILD_DIR:?}/tests/tools/spsec_dp_driver
[ -x "$DRV" ] || {
	echo "load-figures: build spsec_dp_driver and spsec_dp_bpf first ($DRV)"
	exit 1
}
modprobe -a can can_raw can_dev sch_ingress cls_bpf || exit 1
if [ "$ECHO" = echo ]; then modprobe vcan echo=1; else modprobe vcan; fi || exit 1
ip link add dev vc0 mtu 72 type vcan && ip link set dev vc0 up || exit 1
echo "kernel $(uname -r), device echo ${ECHO:-off}, $N attaches"
times=()
for i in $(seq "$N"); do
	out=$("$DRV" attach vc0 --aead chacha20-poly1305 --mode encrypt --policy 123:so,7FF:rt 2>&1) || {
		echo "$out"
		echo "load-figures: attach $i failed"
		exit 1
	}
	echo "$out" | grep -E '^(program|load time)' | sed "s/^/$i: /"
	times+=("$(echo "$out" | sed -n 's/^load time \([0-9.]*\) ms.*/\1/p')")
done
printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {printf "load time median %s ms, min %s, max %s (%d runs)\n", a[int((NR+1)/2)], a[1], a[NR], NR}'
