# fuzz targets: codec. The codec sources are compiled into each target so libFuzzer's coverage
# instrumentation reaches them (spsec_core itself is built without it); spsec_core supplies the
# rest (AEADs, Error).
set(SPSEC_CODEC_FUZZ_SOURCES
    ${PROJECT_SOURCE_DIR}/userspace/core/can_frame.cpp
    ${PROJECT_SOURCE_DIR}/userspace/core/stamp.cpp
    ${PROJECT_SOURCE_DIR}/userspace/core/timestamp.cpp)
spsec_fuzz_target(fuzz_frame_parse
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/fuzz_frame_parse.cpp ${SPSEC_CODEC_FUZZ_SOURCES}
  LIBS spsec_core)
spsec_fuzz_target(fuzz_frame_open
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/fuzz_frame_open.cpp ${SPSEC_CODEC_FUZZ_SOURCES}
  LIBS spsec_core)
