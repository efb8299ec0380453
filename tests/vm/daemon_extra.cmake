# vm tier: exact frame counting on the three-node bus of daemon_bus (tests/vm/lib.sh).
# Included by tests/vm/CMakeLists.txt.
# Key roll-over under continuous traffic: the persisted T places the Sync's boot just before a
# key-window boundary, then just before a window's middle (K(e+1) derived ahead).
spsec_vm_test(daemon_rollover SCRIPT ${CMAKE_CURRENT_LIST_DIR}/daemon_rollover.sh TIMEOUT 600
              DEPENDS spsecd spsecctl)
# kill -9 of a participant's spsecd (receiver B, then sender A) and its restart during a
# continuous stream: every frame sent arrives, the restarted daemon resumes and runs its own PA.
spsec_vm_test(daemon_restart SCRIPT ${CMAKE_CURRENT_LIST_DIR}/daemon_restart.sh TIMEOUT 400
              DEPENDS spsecd spsecctl)
# Clock accuracy at the production timing (1 Mbit/s: 100 us tick, W = 150, pa_max_rtt 20 ms):
# every node's measured offset to each peer stays inside W/2 after PA; offsets are printed.
spsec_vm_test(daemon_time SCRIPT ${CMAKE_CURRENT_LIST_DIR}/daemon_time.sh TIMEOUT 400
              DEPENDS spsecd spsecctl)
# The CAN interface deleted and re-created under live traffic and an attacker: detached, then
# re-attached on the same pinned maps; forged/clear frames only inside the measured gap.
spsec_vm_test(daemon_relink SCRIPT ${CMAKE_CURRENT_LIST_DIR}/daemon_relink.sh TIMEOUT 400
              DEPENDS spsecd spsecctl)
# vm tier: the .deb (fixture spsec_deb: ctest packaging_deb builds it) installed with dpkg in the
# VM; the short demo and a vcan0 Sync run from the installed paths; the operator's first run
# (spsec-setup, a configuration with several errors); remove, reinstall, upgrade, purge.
# 113-144 s on a quiet host, 228 s and once more than 300 s with its load at 4-5 (the demo inside).
spsec_vm_test(installed SCRIPT ${CMAKE_CURRENT_LIST_DIR}/installed.sh TIMEOUT 450
              DEPENDS spsecd spsecctl)
set_tests_properties(vm_installed PROPERTIES FIXTURES_REQUIRED spsec_deb)
