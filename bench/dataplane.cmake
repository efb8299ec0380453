# data plane benchmark: BPF (BPF_PROG_TEST_RUN on the test-only object) vs the codec vs the BPF
# AEAD cores compiled natively, 48-byte payload, per AEAD. Needs root; not a test.
add_executable(spsec_bench_dataplane ${CMAKE_CURRENT_LIST_DIR}/dataplane_bench.cpp)
target_include_directories(spsec_bench_dataplane PRIVATE ${PROJECT_SOURCE_DIR}/tests/bpf)
target_include_directories(spsec_bench_dataplane SYSTEM PRIVATE ${PROJECT_BINARY_DIR}/tests/bpf)
target_link_libraries(spsec_bench_dataplane PRIVATE spsec_bpf spsec_test_skel spsec_core
                                                    spsec_bpfcrypto_native)
spsec_warnings(spsec_bench_dataplane)
# A short run in the bpf tier: the benchmark's own checks (BPF opens the codec's frames, egress
# seals byte for byte as the codec does) keep it working; its timings are not judged there.
add_test(NAME bpf_bench_dataplane COMMAND spsec_bench_dataplane 20 1 200)
set_tests_properties(bpf_bench_dataplane PROPERTIES LABELS bpf SKIP_RETURN_CODE 77 TIMEOUT 300)
