# unit tests: bpfcrypto — the BPF AEAD cores (bpf/crypto/) compiled natively, checked against
# OpenSSL EVP and the Ascon KAT, plus the key-slot preparation.
spsec_unit_test(spsec_bpfcrypto_test
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/bpfcrypto_native_test.cpp
  LIBS spsec_bpf OpenSSL::Crypto)

# bpf tier: the same checks on the cores compiled for BPF (probe object, BPF_PROG_TEST_RUN), plus
# the verifier's figures. Needs bpf/crypto in the build (bpf/CMakeLists.txt: add_subdirectory).
if(TARGET spsec_aead_probe_skel)
  get_target_property(_spsec_probe_obj spsec_aead_probe_skel SPSEC_BPF_OBJECT)
  spsec_bpf_test(spsec_bpfcrypto_bpf_test
    SOURCES ${CMAKE_CURRENT_LIST_DIR}/bpfcrypto_bpf_test.cpp
    LIBS spsec_bpf spsec_aead_probe_skel OpenSSL::Crypto)
  target_compile_definitions(spsec_bpfcrypto_bpf_test PRIVATE
    SPSEC_AEAD_PROBE_OBJ="${_spsec_probe_obj}")
endif()
