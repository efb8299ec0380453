# vm tier: soak (tests/vm/soak.sh): continuous traffic from a Sync and two participants with
# random attacks, exact books per node and bounded spsecd memory. 40 s in CI; run it longer by
# hand with `vm/run.sh --script tests/vm/soak.sh 600` (see docs/testing.md).
spsec_vm_test(soak SCRIPT ${CMAKE_CURRENT_LIST_DIR}/soak.sh TIMEOUT 300 ARGS 40
              DEPENDS spsecd spsecctl)
