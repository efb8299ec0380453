# unit tests: spsecctl configure/provision [ctl]. The command sources are compiled in directly and
# driven against in-memory SessionServers through the FrameLink interface (no root, no CAN).
spsec_unit_test(unit_ctl
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/ctl_configure_test.cpp
          ${CMAKE_CURRENT_LIST_DIR}/ctl_provision_test.cpp
          ${PROJECT_SOURCE_DIR}/userspace/ctl/cmd_configure.cpp
          ${PROJECT_SOURCE_DIR}/userspace/ctl/cmd_provision.cpp
          ${PROJECT_SOURCE_DIR}/userspace/ctl/can_link.cpp
  LIBS spsec_daemon spsec_core)
