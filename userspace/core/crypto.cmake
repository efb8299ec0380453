target_sources(spsec_core PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/result.cpp)
