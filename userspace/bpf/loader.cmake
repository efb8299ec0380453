# The loader: RAII skeleton, tc attachment, ring buffer, typed map writers, DataPlane.
target_sources(spsec_bpf PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/data_plane.cpp
  ${CMAKE_CURRENT_LIST_DIR}/gateway_maps.cpp
  ${CMAKE_CURRENT_LIST_DIR}/gateway_setup.cpp
  ${CMAKE_CURRENT_LIST_DIR}/kernel_features.cpp
  ${CMAKE_CURRENT_LIST_DIR}/libbpf_log.cpp
  ${CMAKE_CURRENT_LIST_DIR}/ring_buffer.cpp
  ${CMAKE_CURRENT_LIST_DIR}/skeleton.cpp
  ${CMAKE_CURRENT_LIST_DIR}/tc_attachment.cpp)
target_link_libraries(spsec_bpf PUBLIC spsec_dp_skel spsec_dp_kaes_skel)
# bpftool's generated skeleton is C-style C++ (old-style casts, sign conversions): include it as a
# system header so the project's warning set does not apply to generated code (GCC ignores the -I
# of a directory that is also -isystem).
target_include_directories(spsec_bpf SYSTEM PUBLIC ${PROJECT_BINARY_DIR}/bpf)
