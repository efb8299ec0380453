#!/usr/bin/env bash
# vm tier: the bpf tier's data-plane tests (tests/bpf/dataplane_test.cpp, and the sender rules'
# dataplane_senders_test.cpp) on Debian's 6.1 kernel, so the 6.1 verifier loads the test object
# and BPF_PROG_TEST_RUN checks every verdict there too (and the 6.1 kernel's socket helpers);
# and the attach test (tests/bpf/attach_test.cpp): tc on 6.1, tcx links on 6.12 (label kernels);
# and, where the kernel has the crypto kfuncs, the same data-plane tests against the kernel-AES
# object (bpf_dataplane_kaes); its SKIP where it has not.
# The differential cases are sized for the host; under TCG the whole binary takes a few minutes.
# shellcheck source=tests/vm/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
BIN=$SPSEC_BUILD_DIR/tests/bpf/bpf_dataplane
vm_modprobe_can >/dev/null 2>&1 || true # veth/tc modules for the loader case
modprobe -a veth sch_ingress cls_bpf >/dev/null 2>&1 || true
if out=$("$BIN" 2>&1); then
	ok "bpf_dataplane passes on $(uname -r)"
	echo "$out" | tail -3 | sed 's/^/# /'
else
	not_ok "bpf_dataplane passes on $(uname -r)" "$(echo "$out" | tail -40)"
fi
SENDERS=$SPSEC_BUILD_DIR/tests/bpf/bpf_dataplane_senders
if out=$("$SENDERS" 2>&1); then
	ok "bpf_dataplane_senders passes on $(uname -r)"
	echo "$out" | tail -3 | sed 's/^/# /'
else
	not_ok "bpf_dataplane_senders passes on $(uname -r)" "$(echo "$out" | tail -40)"
fi
# How the loader attaches on this kernel (tcx links from 6.6, netlink tc before; forced modes).
if out=$("$SPSEC_BUILD_DIR/tests/bpf/bpf_attach" 2>&1); then
	ok "bpf_attach passes on $(uname -r) (attach $(expected_attach))"
	echo "$out" | tail -3 | sed 's/^/# /'
else
	not_ok "bpf_attach passes on $(uname -r) (attach $(expected_attach))" "$(echo "$out" | tail -40)"
fi
# The kernel-AES object (bpf/spsec_kaes.h) where the kernel has the crypto kfuncs (6.10+): its
# own cases of bpf_dataplane_kaes (this kernel's verifier loads it; contexts made, released and
# re-made; no or stale context drops; frames open with the T-table round keys zeroed; the
# loader's choice). Only those: the differential cases that binary shares with bpf_dataplane run
# on the host (bpf tier), and under TCG they would add minutes. Its SKIP, naming why, on 6.1.
KAES=$SPSEC_BUILD_DIR/tests/bpf/bpf_dataplane_kaes
out=$("$KAES" '[kaes]' 2>&1)
rc=$?
if [ "$(expected_crypto_kfuncs)" = true ]; then
	if [ "$rc" = 0 ]; then
		ok "bpf_dataplane_kaes passes on $(uname -r) (the kernel-AES data-plane object)"
		echo "$out" | tail -3 | sed 's/^/# /'
	else
		not_ok "bpf_dataplane_kaes passes on $(uname -r) (the kernel-AES data-plane object)" \
			"$(echo "$out" | tail -40)"
	fi
else
	check "bpf_dataplane_kaes skips on $(uname -r) (no crypto kfuncs), exit 77: got $rc" \
		test "$rc" = 77 -a -n "$(echo "$out" | grep 'SKIP bpf: the kernel has no BPF crypto kfuncs')"
fi
vm_finish
