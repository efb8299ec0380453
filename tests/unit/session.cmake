# unit tests: Configurator sessions and the register map [session]
spsec_unit_test(unit_session
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/session_registers_test.cpp
          ${CMAKE_CURRENT_LIST_DIR}/session_flow_test.cpp
  LIBS spsec_core)
