# fuzz target: the control socket's request parser (what a local client sends spsecd). The JSON
# helpers and the parser are compiled into the target so the coverage instrumentation reaches
# them; spsec_daemon supplies the rest.
spsec_fuzz_target(fuzz_control_request
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/fuzz_control_request.cpp
          ${PROJECT_SOURCE_DIR}/userspace/common/json.cpp
          ${PROJECT_SOURCE_DIR}/userspace/daemon/control_socket.cpp
  LIBS spsec_daemon)
