# unit tests: spsecctl configure/provision [ctl]. The commands (spsec_ctl) are driven against
# in-memory SessionServers through the FrameLink interface (no root, no CAN).
spsec_unit_test(unit_ctl
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/ctl_configure_test.cpp
          ${CMAKE_CURRENT_LIST_DIR}/ctl_provision_test.cpp
  LIBS spsec_ctl)

# unit tests: the one command-line parser (core/cli.h) and every verb's use of it [cli].
spsec_unit_test(unit_ctl_cli
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/ctl_cli_test.cpp
  LIBS spsec_ctl)
# ... and the installed binaries' exit codes and messages, spsecd included.
add_test(NAME ctl_cli_exit_codes
  COMMAND ${CMAKE_CURRENT_LIST_DIR}/ctl_cli_exit_test.sh $<TARGET_FILE:spsecd>
          $<TARGET_FILE:spsecctl>)
set_tests_properties(ctl_cli_exit_codes PROPERTIES LABELS unit)
