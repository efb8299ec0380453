# Per-key material for the data plane (AES-256 round keys, GHASH table) and the native build of the
# BPF AEAD cores in bpf/crypto/. The cores are C: they get their own small library with C warnings,
# since the project's C++ warning set (-Wold-style-cast, ...) does not apply to C.
add_library(spsec_bpfcrypto_native STATIC ${PROJECT_SOURCE_DIR}/bpf/crypto/spsec_aead_native.c)
target_include_directories(spsec_bpfcrypto_native PUBLIC ${PROJECT_SOURCE_DIR}/bpf
                                                         ${PROJECT_SOURCE_DIR}/bpf/crypto)
target_link_libraries(spsec_bpfcrypto_native PUBLIC spsec_abi)
target_compile_options(spsec_bpfcrypto_native PRIVATE
  -std=gnu11 -Wall -Wextra -Wshadow -Wconversion -Wsign-conversion -Werror=undef)
if(SPSEC_WERROR)
  target_compile_options(spsec_bpfcrypto_native PRIVATE -Werror)
endif()
set_target_properties(spsec_bpfcrypto_native PROPERTIES POSITION_INDEPENDENT_CODE ON)

target_sources(spsec_bpf PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/key_material.cpp
  ${CMAKE_CURRENT_LIST_DIR}/key_material.h)
target_link_libraries(spsec_bpf PUBLIC spsec_bpfcrypto_native)
