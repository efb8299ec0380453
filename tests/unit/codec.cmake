# unit tests: codec (CAN frame notation, stamp codec, time, key schedule, spsecctl frame tools)
spsec_unit_test(spsec_codec_test
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/codec_frame_test.cpp
          ${CMAKE_CURRENT_LIST_DIR}/codec_stamp_test.cpp
          ${CMAKE_CURRENT_LIST_DIR}/codec_time_test.cpp
          ${CMAKE_CURRENT_LIST_DIR}/codec_ctl_test.cpp
          ${PROJECT_SOURCE_DIR}/userspace/ctl/cmd_frames.cpp
  LIBS spsec_core OpenSSL::Crypto)
# The worked examples are read from the doc itself (docs/wire-format.md).
target_compile_definitions(spsec_codec_test PRIVATE SPSEC_DOCS_DIR="${PROJECT_SOURCE_DIR}/docs")
