# unit tests: codec (CAN frame notation, stamp codec, time, key schedule, spsecctl frame tools)
spsec_unit_test(unit_codec
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/codec_frame_test.cpp
          ${CMAKE_CURRENT_LIST_DIR}/codec_stamp_test.cpp
          ${CMAKE_CURRENT_LIST_DIR}/codec_time_test.cpp
          ${CMAKE_CURRENT_LIST_DIR}/codec_ctl_test.cpp
  LIBS spsec_ctl spsec_core OpenSSL::Crypto)
# The worked examples are read from the doc itself (docs/wire-format.md).
target_compile_definitions(unit_codec PRIVATE SPSEC_DOCS_DIR="${PROJECT_SOURCE_DIR}/docs")

# The installed tool itself, end to end: the worked example of docs/wire-format.md and a rejection.
# (PASS_REGULAR_EXPRESSION makes ctest judge the output, not the exit code.)
add_test(NAME spsecctl_seal_worked_example
  COMMAND spsecctl seal --aead aes-gcm
          --key 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f
          --salt 0001020304050607 --t 0x1234 "123##1DEADBEEF")
set_tests_properties(spsecctl_seal_worked_example PROPERTIES LABELS unit
  PASS_REGULAR_EXPRESSION "^123##1733D9551E9763422D776EC84BCD60955\n$")
add_test(NAME spsecctl_open_rejects_tampered_frame
  COMMAND spsecctl open --aead aes-gcm
          --key 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f
          --salt 0001020304050607 --t 0x1240 "123##1733D9551E9763422D776EC84BCD60956")
set_tests_properties(spsecctl_open_rejects_tampered_frame PROPERTIES LABELS unit
  PASS_REGULAR_EXPRESSION "rejected: rx_bad_tag")
