# vm tier: spsecd with the real data plane on a vxcan pair (CAN_RAW socket, filter, SO_MARK), its
# control socket, reload, signals and the Sync role's persisted T. Included by
# tests/vm/CMakeLists.txt.
spsec_vm_test(daemon SCRIPT ${CMAKE_CURRENT_LIST_DIR}/daemon.sh TIMEOUT 300
              DEPENDS spsecd spsecctl)
