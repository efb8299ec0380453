# codec benchmark: seal/open of a 48-byte payload per AEAD vs raw OpenSSL EVP in the same run.
add_executable(spsec_bench_codec ${CMAKE_CURRENT_LIST_DIR}/codec_bench.cpp)
target_link_libraries(spsec_bench_codec PRIVATE spsec_core OpenSSL::Crypto)
spsec_warnings(spsec_bench_codec)
