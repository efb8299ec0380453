# idle spsecd benchmark on the host: N daemons on an in-process bus, plus the kernel's per-wake-up
# cost measured on real fds; the native counterpart of the VM's idle figure.
add_executable(spsec_bench_daemon_idle ${CMAKE_CURRENT_LIST_DIR}/daemon_idle_bench.cpp)
target_link_libraries(spsec_bench_daemon_idle PRIVATE spsec_daemon spsec_test_support)
spsec_warnings(spsec_bench_daemon_idle)
