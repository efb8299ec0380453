# unit tests: spsecctl configure/provision [ctl]. The commands (spsec_ctl) are driven against in-memory SessionServers through the FrameLink interface (no root, no CAN).
spsec_unit_test(test_ctl
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/ctl_configure_test.cpp
          ${CMAKE_CURRENT_LIST_DIR}/ctl_provision_test.cpp
  LIBS spsec_ctl)
