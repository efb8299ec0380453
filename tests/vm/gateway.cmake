# vm tier: the gateway's kernel data path (tests/vm/gateway.sh): can-gw with the data plane on
# the secured interface and the rule programs on a plain segment, legacy <-> secured byte for
# byte, attackers on both sides, exact per-rule counters.
spsec_vm_test(gateway SCRIPT gateway.sh TIMEOUT 300 DEPENDS spsec_dp_driver)
# spsecd sets the gateway up from its configuration, changes it on reload, leaves it on exit
# (also on the other kernels: on a tcx kernel the segment's links must be pinned to stay).
spsec_vm_test(gateway_daemon SCRIPT gateway_daemon.sh TIMEOUT 240
              DEPENDS spsecd spsecctl spsec_dp_driver KERNELS)
# a gateway with sender rules: a rule on a forwarded ID refused (start and reload), can-gw's
# socket-less copies cross, local senders of the node's own ID checked, exact books.
spsec_vm_test(gateway_senders SCRIPT gateway_senders.sh TIMEOUT 240
              DEPENDS spsecd spsecctl spsec_dp_driver)
# a classical segment: spsecd's relay converts (CAN <-> CAN FD) both ways, ISO-TP across it,
# exact books per rule and in the relay, the segment deleted and re-created.
spsec_vm_test(gateway_classic SCRIPT gateway_classic.sh TIMEOUT 240 DEPENDS spsecd spsecctl)
