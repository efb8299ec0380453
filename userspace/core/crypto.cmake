# AEADs (OpenSSL EVP + Ascon-AEAD128), HKDF, Secret.
# result.cpp (spsec::Error) lives here too: every area of spsec_core depends on it.
target_sources(spsec_core PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/result.cpp
  ${CMAKE_CURRENT_LIST_DIR}/secret.cpp
  ${CMAKE_CURRENT_LIST_DIR}/aead.cpp
  ${CMAKE_CURRENT_LIST_DIR}/aead_evp.cpp
  ${CMAKE_CURRENT_LIST_DIR}/ascon.cpp
  ${CMAKE_CURRENT_LIST_DIR}/hkdf.cpp)
