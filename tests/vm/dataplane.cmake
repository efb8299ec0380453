# vm tier: the data plane end to end on Debian's 6.1 kernel (tests/vm/dataplane.sh): two nodes in
# network namespaces joined through a "wire" namespace, the production object attached by the test
# driver (tests/tools/spsec_dp_driver).
if(NOT TARGET spsec_dp_driver)
  add_subdirectory(${PROJECT_SOURCE_DIR}/tests/tools ${PROJECT_BINARY_DIR}/tests/tools)
endif()
spsec_vm_test(dataplane SCRIPT ${CMAKE_CURRENT_LIST_DIR}/dataplane.sh TIMEOUT 400
              DEPENDS spsec_dp_driver spsec_dp_bpf)
