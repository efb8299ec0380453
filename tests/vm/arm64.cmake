# arm64 tier (label "arm64"): the arm64 package proved in an arm64 VM. NOT part of the default
# suite (scripts/test.sh without --tier, ctest -L vm): the cross build alone takes about 13-19
# minutes on this machine kind. Run it with `scripts/test.sh --tier arm64`, which installs the
# cross toolchain and multiarch packages, cross-builds and packages (scripts/cross-arm64.sh) and
# then runs `ctest -L '^arm64$'` here. docs/packaging.md ("arm64"), docs/testing.md.
#
#   arm64_bpf_object   (host) the cross build's BPF objects are byte for byte the native ones
#   arm64_dataplane    the data-plane vm test (tests/vm/dataplane.sh) in the arm64 VM
#   arm64_bus_attack   three spsecd (Sync and two participants), traffic, an attacker's replayed,
#                      tampered and forged frames dropped, exact books (tests/vm/bus_attack.sh)
#   arm64_figures      (two VMs) verifier and JIT figures arm64 against amd64, the per-frame BPF
#                      cost against the codec in the arm64 VM (tests/vm/arm64_figures_host.sh)
# The two bus/data-plane tests first install the arm64 .deb with dpkg -i in the guest (lib.sh
# vm_install_deb), so spsecd and spsecctl run from /usr/sbin and /usr/bin.
# Without a cross build in SPSEC_ARM64_BUILD_DIR every test is skipped, naming the reason.
set(SPSEC_ARM64_BUILD_DIR ${PROJECT_SOURCE_DIR}/build-arm64 CACHE PATH
    "The arm64 cross build (scripts/cross-arm64.sh) that the arm64 tier tests")
set(arm64_deb ${SPSEC_ARM64_BUILD_DIR}/deb/spsec-linux_${PROJECT_VERSION}_arm64.deb)
set(arm64_out ${PROJECT_BINARY_DIR}/tests/vm/out)

function(spsec_arm64_vm_test name script timeout)
  cmake_parse_arguments(A "" "" "ENV" ${ARGN})
  add_test(NAME arm64_${name}
           COMMAND ${PROJECT_SOURCE_DIR}/vm/run.sh --arch arm64 --timeout ${timeout}
                   --out ${arm64_out}/arm64_${name} --script ${script})
  # plus boot, and building the arm64 root on first use (about 2 min)
  math(EXPR ctest_timeout "${timeout} + 300")
  set_tests_properties(arm64_${name} PROPERTIES
    LABELS arm64
    SKIP_RETURN_CODE 77
    RUN_SERIAL TRUE
    TIMEOUT ${ctest_timeout}
    ENVIRONMENT "SPSEC_SOURCE_DIR=${PROJECT_SOURCE_DIR};SPSEC_BUILD_DIR=${SPSEC_ARM64_BUILD_DIR};SPSEC_VM_DEB=${arm64_deb};${A_ENV}")
endfunction()

add_test(NAME arm64_bpf_object
         COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/arm64_same_bpf.sh ${PROJECT_BINARY_DIR}
                 ${SPSEC_ARM64_BUILD_DIR})
set_tests_properties(arm64_bpf_object PROPERTIES LABELS arm64 SKIP_RETURN_CODE 77 TIMEOUT 60)
# A 500 ms tick: the run is slow enough under emulation to leave the 100 ms tick's window
# (tests/vm/dataplane.sh, SPSEC_DP_TICK_NS)
spsec_arm64_vm_test(dataplane ${CMAKE_CURRENT_SOURCE_DIR}/dataplane.sh 900
                    ENV SPSEC_DP_TICK_NS=500000000)
spsec_arm64_vm_test(bus_attack ${CMAKE_CURRENT_SOURCE_DIR}/bus_attack.sh 900)
add_test(NAME arm64_figures
         COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/arm64_figures_host.sh ${arm64_out}/arm64_figures
                 ${PROJECT_BINARY_DIR} ${SPSEC_ARM64_BUILD_DIR})
set_tests_properties(arm64_figures PROPERTIES LABELS arm64 SKIP_RETURN_CODE 77 RUN_SERIAL TRUE
                     TIMEOUT 1800 ENVIRONMENT "SPSEC_SOURCE_DIR=${PROJECT_SOURCE_DIR}")
