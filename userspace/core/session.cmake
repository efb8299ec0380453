# Configurator session + register map sources
target_sources(spsec_core PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/registers.cpp
  ${CMAKE_CURRENT_LIST_DIR}/session.cpp)
