# The loader: RAII skeleton, tc attachment, ring buffer, typed map writers, DataPlane.
target_sources(spsec_bpf PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/data_plane.cpp
  ${CMAKE_CURRENT_LIST_DIR}/libbpf_log.cpp
  ${CMAKE_CURRENT_LIST_DIR}/ring_buffer.cpp
  ${CMAKE_CURRENT_LIST_DIR}/skeleton.cpp
  ${CMAKE_CURRENT_LIST_DIR}/tc_attachment.cpp)
target_link_libraries(spsec_bpf PUBLIC spsec_dp_skel)
