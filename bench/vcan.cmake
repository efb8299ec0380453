# End-to-end CAN FD benchmark in the test VM (bench/vm_bench.sh, bench/run-vm-bench.sh): the
# application pair (sender + receiver, frames/s and latency) and the classic user-space gateway
# it is compared with (core codec + OpenSSL AEAD). Not tests; the vm tier runs a bounded smoke of
# them (tests/vm/bench.cmake).
add_executable(spsec_bench_vcan ${CMAKE_CURRENT_LIST_DIR}/vcan_bench.cpp)
find_package(Threads REQUIRED)
target_link_libraries(spsec_bench_vcan PRIVATE spsec_common Threads::Threads)
spsec_warnings(spsec_bench_vcan)
add_executable(spsec_bench_gw ${CMAKE_CURRENT_LIST_DIR}/vcan_gateway.cpp)
target_link_libraries(spsec_bench_gw PRIVATE spsec_common spsec_core OpenSSL::Crypto)
spsec_warnings(spsec_bench_gw)
# The gateway benchmark's probe object (bench/gw/gw_probe.bpf.c): can tc convert classical CAN?
spsec_bpf_object(spsec_gw_probe SOURCE ${CMAKE_CURRENT_LIST_DIR}/gw/gw_probe.bpf.c)
# bench/gw_bench.sh needs both: a plain build makes the probe with the user-space gateway
add_dependencies(spsec_bench_gw spsec_gw_probe_bpf)
