# unit tests: crypto (AEADs, Ascon-AEAD128, HKDF, Secret), tag [crypto]. Vectors live in
# tests/data/crypto/ and are read through SPSEC_TEST_DATA_DIR.
spsec_unit_test(unit_crypto
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/crypto_basics_test.cpp
          ${CMAKE_CURRENT_LIST_DIR}/crypto_ascon_test.cpp
          ${CMAKE_CURRENT_LIST_DIR}/crypto_evp_test.cpp
  LIBS spsec_core)
