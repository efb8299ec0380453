# vm tier: the README's demo (vm/demo.sh) runs as a test too, once per AEAD, so what a user sees
# first is checked in CI: every valid frame delivered, no forged/tampered/replayed one.
spsec_vm_test(demo SCRIPT ${PROJECT_SOURCE_DIR}/vm/demo.sh TIMEOUT 400
              DEPENDS spsec_dp_driver spsec_dp_bpf)
spsec_vm_test(demo_ascon_auth SCRIPT ${PROJECT_SOURCE_DIR}/vm/demo.sh TIMEOUT 400
              ARGS --aead ascon --auth-only DEPENDS spsec_dp_driver spsec_dp_bpf)
spsec_vm_test(demo_aes_gcm SCRIPT ${PROJECT_SOURCE_DIR}/vm/demo.sh TIMEOUT 400
              ARGS --aead aes-gcm DEPENDS spsec_dp_driver spsec_dp_bpf)
