# unit tests: bpfcrypto — the BPF AEAD cores (bpf/crypto/) compiled natively, checked against
# OpenSSL EVP and the Ascon KAT, plus the key-slot preparation.
# key_material.cpp is compiled in directly rather than through spsec_bpf, so this test does not
# depend on the libbpf loader half of that library.
spsec_unit_test(unit_bpfcrypto
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/bpfcrypto_native_test.cpp
          ${PROJECT_SOURCE_DIR}/userspace/bpf/key_material.cpp
  LIBS spsec_bpfcrypto_native spsec_core OpenSSL::Crypto)

# bpf tier: the cores compiled for BPF (probe object from bpf/crypto/, BPF_PROG_TEST_RUN) must
# equal the native build; also prints the verifier's figures.
get_target_property(_spsec_probe_obj spsec_aead_probe_skel SPSEC_BPF_OBJECT)
spsec_bpf_test(bpf_bpfcrypto
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/bpfcrypto_bpf_test.cpp
          ${PROJECT_SOURCE_DIR}/userspace/bpf/key_material.cpp
  LIBS spsec_bpfcrypto_native spsec_core PkgConfig::LIBBPF)
add_dependencies(bpf_bpfcrypto spsec_aead_probe_bpf)
target_include_directories(bpf_bpfcrypto PRIVATE ${PROJECT_SOURCE_DIR}/tests/bpf)  # host_env.h
target_compile_definitions(bpf_bpfcrypto PRIVATE
  SPSEC_AEAD_PROBE_OBJ="${_spsec_probe_obj}")

