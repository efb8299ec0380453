# fuzz targets: model (config parser from YAML bytes; control-plane message parsers)
spsec_fuzz_target(fuzz_config SOURCES ${CMAKE_CURRENT_LIST_DIR}/fuzz_config.cpp LIBS spsec_core)
spsec_fuzz_target(fuzz_messages SOURCES ${CMAKE_CURRENT_LIST_DIR}/fuzz_messages.cpp
                  LIBS spsec_core)
