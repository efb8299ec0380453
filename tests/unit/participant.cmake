# unit tests: the participant protocol engine, pure (frames and time passed in) [participant]
spsec_unit_test(unit_participant
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/participant_test.cpp
  LIBS spsec_core)
