# aarch64-linux-gnu.cmake — cross-compiling aesthete for 64-bit ARM Linux on a Debian host
# with Debian's cross compiler and the arm64 libraries of a multiarch install:
#   dpkg --add-architecture arm64; apt-get install gcc-aarch64-linux-gnu libjpeg62-turbo-dev:arm64 ...
#   cmake -S . -B build-arm64 -DCMAKE_TOOLCHAIN_FILE=cmake/aarch64-linux-gnu.cmake
# scripts/test-arm64.sh does all of it and runs the tests under qemu-aarch64.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)

set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
# libraries of the target: with the library architecture set, find_library searches
# /usr/lib/aarch64-linux-gnu (where Debian's :arm64 packages put them) and not the host's
# x86_64 directory; headers in /usr/include are shared by both architectures
set(CMAKE_LIBRARY_ARCHITECTURE aarch64-linux-gnu)

# pkg-config of the target's .pc files, not the host's
set(ENV{PKG_CONFIG_LIBDIR} "/usr/lib/aarch64-linux-gnu/pkgconfig:/usr/share/pkgconfig")
set(ENV{PKG_CONFIG_PATH} "")
set(ENV{PKG_CONFIG_SYSROOT_DIR} "")

# tests run through qemu-user (ctest, add_test) on the multiarch arm64 runtime, the loader
# and libc of libc6:arm64 that the :arm64 libraries come with. Not -L /usr/aarch64-linux-gnu:
# that takes the loader of the cross toolchain's libc (another build of glibc, 2.36-8cross1
# in Debian 12) but still finds the multiarch libc.so.6 (2.36-9+deb12uN), and the mix hangs
# in pthread_create.
set(CMAKE_CROSSCOMPILING_EMULATOR qemu-aarch64 -L /)
