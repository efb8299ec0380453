# vm tier: the data plane end to end on Debian's 6.1 kernel (tests/vm/dataplane.sh): two nodes in
# network namespaces joined through a "wire" namespace, the production object attached by the test
# driver (tests/tools/spsec_dp_driver).
spsec_vm_test(dataplane SCRIPT ${CMAKE_CURRENT_LIST_DIR}/dataplane.sh TIMEOUT 400
              DEPENDS spsec_dp_driver spsec_dp_bpf KERNELS)
# The bpf tier's test binary on the 6.1 kernel (verifier and BPF_PROG_TEST_RUN there).
spsec_vm_test(dataplane_bpf SCRIPT ${CMAKE_CURRENT_LIST_DIR}/dataplane_bpf.sh TIMEOUT 900
              DEPENDS bpf_dataplane bpf_dataplane_kaes KERNELS)
# A device with IFF_ECHO (vcan echo=1, as real CAN drivers): the stamped echo is opened for local
# sockets (tests/vm/echo.sh).
spsec_vm_test(dataplane_echo SCRIPT ${CMAKE_CURRENT_LIST_DIR}/echo.sh TIMEOUT 300
              DEPENDS spsec_dp_driver spsec_dp_bpf KERNELS)
