# Configurator session + register map sources
target_sources(spsec_core PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/registers.cpp
  ${CMAKE_CURRENT_LIST_DIR}/session_event.cpp
  ${CMAKE_CURRENT_LIST_DIR}/session_server.cpp
  ${CMAKE_CURRENT_LIST_DIR}/session_client.cpp)

# The participant protocol engine (PA, Sync broadcast, heartbeats, key roll-over) and the
# synchronized clock it runs on
target_sources(spsec_core PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/sync_time.cpp
  ${CMAKE_CURRENT_LIST_DIR}/participant.cpp)
