# unit tests: model (config [config], control-plane messages [messages], state machine [state])
spsec_unit_test(test_model
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/model_config.cpp
          ${CMAKE_CURRENT_LIST_DIR}/model_messages.cpp
          ${CMAKE_CURRENT_LIST_DIR}/model_state.cpp
          ${CMAKE_CURRENT_LIST_DIR}/model_hex.cpp
  LIBS spsec_core)
target_compile_definitions(test_model PRIVATE SPSEC_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
