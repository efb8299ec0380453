# Cross-build for arm64 (aarch64) with Debian's cross toolchain (crossbuild-essential-arm64) and
# multiarch :arm64 -dev packages installed beside the native ones (scripts/cross-arm64.sh sets all
# of it up; docs/packaging.md, "arm64").
#
#   cmake -S . -B build-arm64 -G Ninja -DCMAKE_TOOLCHAIN_FILE=cmake/toolchain-aarch64.cmake \
#         -Dyaml-cpp_DIR=<libyaml-cpp-dev:arm64 unpacked>/usr/lib/aarch64-linux-gnu/cmake/yaml-cpp
#
# No sysroot: multiarch keeps the arm64 libraries in /usr/lib/aarch64-linux-gnu, which CMake
# searches first once it knows the compiler's library architecture. Headers of /usr/include are
# shared; the arch-specific ones are in /usr/include/aarch64-linux-gnu, which the cross compiler
# reads itself.
#
# The BPF objects are not touched by this file: they are built by the host's clang for the BPF
# target exactly as in a native build (cmake/BpfObject.cmake), so the data plane is the same
# object on both architectures (scripts/cross-arm64.sh checks their sha256).
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)
set(CMAKE_LIBRARY_ARCHITECTURE aarch64-linux-gnu)

# pkg-config (libbpf): only the arm64 .pc files and the arch-independent ones; without this the
# host's x86-64 libbpf.pc would be found and linked.
set(ENV{PKG_CONFIG_LIBDIR} "/usr/lib/aarch64-linux-gnu/pkgconfig:/usr/share/pkgconfig")
set(ENV{PKG_CONFIG_PATH} "")

# Programs (clang, bpftool, python3) are the host's. Libraries: with the library architecture set,
# find_library and find_package look in /usr/lib/aarch64-linux-gnu (then /usr/lib), never in the
# host's /usr/lib/x86_64-linux-gnu.
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
