# config model, control-plane messages, participant state machine
target_sources(spsec_core PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/hex.cpp
  ${CMAKE_CURRENT_LIST_DIR}/config.cpp
  ${CMAKE_CURRENT_LIST_DIR}/gateway_rules.cpp
  ${CMAKE_CURRENT_LIST_DIR}/sender_rules.cpp
  ${CMAKE_CURRENT_LIST_DIR}/messages.cpp
  ${CMAKE_CURRENT_LIST_DIR}/state_machine.cpp)
