# vm tier: the README's demo (vm/demo.sh) runs as a test too, so what a user sees first is checked
# in CI with numbers: after every phase each node's books balance (valid frames delivered, attack
# frames dropped, by reason). The full scenario once (ChaCha20-Poly1305, encryption), a short one
# (traffic, forgery, tampering) for Ascon in authentication-only mode; AES-GCM runs the soak.
spsec_vm_test(demo SCRIPT ${PROJECT_SOURCE_DIR}/vm/demo.sh TIMEOUT 510
              DEPENDS spsecd spsecctl)
spsec_vm_test(demo_ascon_auth SCRIPT ${PROJECT_SOURCE_DIR}/vm/demo.sh TIMEOUT 300
              ARGS --aead ascon --auth-only --short DEPENDS spsecd spsecctl KERNELS)
# The gateway demo (scripts/demo.sh --gateway, vm/demo_gateway.sh): S, G and B as spsecd on the
# secured bus, a CAN FD and a classical legacy segment behind G, attackers on both sides; after
# every phase the bus's and the gateway's books balance exactly, and G's per-rule counters are
# checked against what was sent. It is also the vm test of a CAN FD segment under spsecd.
spsec_vm_test(demo_gateway SCRIPT ${PROJECT_SOURCE_DIR}/vm/demo_gateway.sh TIMEOUT 600
              DEPENDS spsecd spsecctl)
