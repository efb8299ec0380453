# stamp codec, CAN frame notation, key schedule
target_sources(spsec_core PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/can_frame.cpp
  ${CMAKE_CURRENT_LIST_DIR}/key_schedule.cpp
  ${CMAKE_CURRENT_LIST_DIR}/reasons.cpp
  ${CMAKE_CURRENT_LIST_DIR}/stamp.cpp
  ${CMAKE_CURRENT_LIST_DIR}/timestamp.cpp)
