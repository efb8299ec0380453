# unit tests: daemon (event loop, key store, control socket, clock, daemon start-up with fakes)
spsec_unit_test(unit_daemon
  SOURCES
    ${CMAKE_CURRENT_LIST_DIR}/daemon_event_loop_test.cpp
    ${CMAKE_CURRENT_LIST_DIR}/daemon_key_store_test.cpp
    ${CMAKE_CURRENT_LIST_DIR}/daemon_json_test.cpp
    ${CMAKE_CURRENT_LIST_DIR}/daemon_control_socket_test.cpp
    ${CMAKE_CURRENT_LIST_DIR}/daemon_sync_clock_test.cpp
    ${CMAKE_CURRENT_LIST_DIR}/daemon_misc_test.cpp
    ${CMAKE_CURRENT_LIST_DIR}/daemon_run_test.cpp
    ${CMAKE_CURRENT_LIST_DIR}/daemon_protocol_test.cpp
    ${CMAKE_CURRENT_LIST_DIR}/daemon_time_test.cpp
    ${CMAKE_CURRENT_LIST_DIR}/daemon_senders_test.cpp
    ${CMAKE_CURRENT_LIST_DIR}/daemon_gateway_relay_test.cpp
  LIBS spsec_daemon spsec_ctl spsec_test_support)

# bpf tier (root): `spsecctl stats`'s reader against a real pinned PERCPU_ARRAY.
spsec_bpf_test(bpf_daemon_counters
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/daemon_bpf_counters_test.cpp
  LIBS spsec_bpf)

# unit tests: spsecd's side of Configurator sessions, driven by the real `spsecctl configure`
# (spsec_ctl) through a FrameLink onto the daemons' fake bus.
spsec_unit_test(unit_daemon_configurator
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/daemon_configurator_test.cpp
  LIBS spsec_daemon spsec_ctl spsec_test_support)
