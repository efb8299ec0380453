# Builds a BPF object and its libbpf skeleton, mirroring libbpf-bootstrap's bpf_object():
#   1. clang -target bpf -O2 -mcpu=v3 -g, warnings as errors, UAPI headers only;
#   2. bpftool gen object (links and strips DWARF, keeps BTF);
#   3. bpftool gen skeleton -> <name>.skel.h in the build tree;
#   4. an INTERFACE target <name>_skel carrying the include dir and libbpf.
#
# spsec_bpf_object(<name> SOURCE <file.bpf.c> [DEPENDS <headers>...] [INCLUDES <dirs>...]
#                  [DEFINES <macros>...] [BTF_KPTR <struct> <member>])
#   DEFINES: -D<macro> for clang; only for the kernel-AES build of the data plane
#   (SPSEC_KERNEL_AES, docs/kernels.md), which a kernel without the crypto kfuncs cannot load.
#   BTF_KPTR: after step 2, cmake/btf_kptr_fix.py makes <struct>.<member> a referenced kptr in the
#   BTF (clang 14 drops btf_type_tag on struct members; see that script). Needs python3.
find_program(BPF_CLANG NAMES clang-16 clang-14 clang REQUIRED)
find_program(BPFTOOL NAMES bpftool PATHS /usr/sbin /sbin REQUIRED)
execute_process(COMMAND ${CMAKE_C_COMPILER} -print-multiarch
                OUTPUT_VARIABLE SPSEC_MULTIARCH OUTPUT_STRIP_TRAILING_WHITESPACE)
if(NOT SPSEC_MULTIARCH)
  set(SPSEC_MULTIARCH x86_64-linux-gnu)
endif()

function(spsec_bpf_object name)
  cmake_parse_arguments(BPF "" "SOURCE" "DEPENDS;INCLUDES;DEFINES;BTF_KPTR" ${ARGN})
  set(out_dir ${CMAKE_CURRENT_BINARY_DIR})
  set(raw ${out_dir}/${name}.tmp.o)
  set(obj ${out_dir}/${name}.bpf.o)
  set(skel ${out_dir}/${name}.skel.h)
  set(kptr_fix "")
  set(kptr_dep "")
  if(BPF_BTF_KPTR)
    set(kptr_dep ${PROJECT_SOURCE_DIR}/cmake/btf_kptr_fix.py)
    find_package(Python3 REQUIRED COMPONENTS Interpreter)
    set(kptr_fix COMMAND ${Python3_EXECUTABLE} ${PROJECT_SOURCE_DIR}/cmake/btf_kptr_fix.py ${obj}
                 ${BPF_BTF_KPTR})
  endif()
  set(incs -I${PROJECT_SOURCE_DIR}/include -I${PROJECT_SOURCE_DIR}/bpf
           -idirafter /usr/include/${SPSEC_MULTIARCH})
  foreach(d ${BPF_INCLUDES})
    list(APPEND incs -I${d})
  endforeach()
  foreach(d ${BPF_DEFINES})
    list(APPEND incs -D${d})
  endforeach()
  add_custom_command(
    OUTPUT ${obj} ${skel}
    COMMAND ${BPF_CLANG} -g -O2 -mcpu=v3 -target bpf -D__TARGET_ARCH_x86
            -Wall -Wextra -Werror -Wno-unused-parameter ${incs}
            -c ${BPF_SOURCE} -o ${raw}
    COMMAND ${BPFTOOL} gen object ${obj} ${raw}
    ${kptr_fix}
    COMMAND ${BPFTOOL} gen skeleton ${obj} name ${name} > ${skel}
    DEPENDS ${BPF_SOURCE} ${BPF_DEPENDS} ${PROJECT_SOURCE_DIR}/include/spsec/abi.h ${kptr_dep}
    COMMENT "BPF ${name}"
    VERBATIM)
  add_custom_target(${name}_bpf DEPENDS ${obj} ${skel})
  add_library(${name}_skel INTERFACE)
  add_dependencies(${name}_skel ${name}_bpf)
  # SYSTEM: the bpftool-generated skeleton does not pass our C++ warning set.
  target_include_directories(${name}_skel SYSTEM INTERFACE ${out_dir})
  target_link_libraries(${name}_skel INTERFACE PkgConfig::LIBBPF)
  set_property(TARGET ${name}_skel PROPERTY SPSEC_BPF_OBJECT ${obj})
endfunction()
