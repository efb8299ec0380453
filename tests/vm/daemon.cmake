# vm tier: spsecd with the real data plane on a vxcan pair (CAN_RAW socket, filter, SO_MARK), its
# control socket, reload, signals and the Sync role's persisted T. Included by
# tests/vm/CMakeLists.txt.
spsec_vm_test(daemon SCRIPT ${CMAKE_CURRENT_LIST_DIR}/daemon.sh TIMEOUT 300
              DEPENDS spsecd spsecctl)
# vm tier: a Sync and two participants on one bus (namespaces joined by can-gw): Parameter
# Authentication, secured data end to end, heartbeats, kill -9 and resume, a stopped node reported
# missing, Sync loss -> abort -> recovery.
spsec_vm_test(daemon_bus SCRIPT ${CMAKE_CURRENT_LIST_DIR}/daemon_bus.sh TIMEOUT 400
              DEPENDS spsecd spsecctl KERNELS)
# vm tier: sender rules on A's egress: cansend as other uids and in other cgroups, permitted
# frames stamped, refused ones counted exactly (tx_sender_denied, per rule), a re-made cgroup's
# new id installed by spsecd's re-check.
spsec_vm_test(senders SCRIPT ${CMAKE_CURRENT_LIST_DIR}/senders.sh TIMEOUT 300
              DEPENDS spsecd spsecctl)
