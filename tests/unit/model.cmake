# unit tests: model (config [config], control-plane messages [messages], state machine [state])
spsec_unit_test(unit_model
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/model_config_test.cpp
          ${CMAKE_CURRENT_LIST_DIR}/model_messages_test.cpp
          ${CMAKE_CURRENT_LIST_DIR}/model_state_test.cpp
          ${CMAKE_CURRENT_LIST_DIR}/model_hex_test.cpp
          ${CMAKE_CURRENT_LIST_DIR}/model_gateway_test.cpp
          ${CMAKE_CURRENT_LIST_DIR}/model_senders_test.cpp
  LIBS spsec_core)
target_compile_definitions(unit_model PRIVATE SPSEC_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
