# vm tier: the README's demo (vm/demo.sh) runs as a test too, so what a user sees first is checked
# in CI with numbers: after every phase each node's books balance (valid frames delivered, attack
# frames dropped, by reason). The full scenario once (ChaCha20-Poly1305, encryption), a short one
# (traffic, forgery, tampering) for Ascon in authentication-only mode; AES-GCM runs the soak.
spsec_vm_test(demo SCRIPT ${PROJECT_SOURCE_DIR}/vm/demo.sh TIMEOUT 510
              DEPENDS spsecd spsecctl)
spsec_vm_test(demo_ascon_auth SCRIPT ${PROJECT_SOURCE_DIR}/vm/demo.sh TIMEOUT 300
              ARGS --aead ascon --auth-only --short DEPENDS spsecd spsecctl KERNELS)
