# Cross-compiling for aarch64 Linux (Grace-Hopper, Graviton) on a Debian x86-64 host with
# g++-aarch64-linux-gnu and the arm64 -dev packages installed through multiarch
# (scripts/build_aarch64.sh). Programs run under qemu-aarch64 (also at build time, to list tests).
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)
set(CMAKE_LIBRARY_ARCHITECTURE aarch64-linux-gnu)
# OPENBLAS_NUM_THREADS=1: OpenBLAS's thread server spins at start-up under qemu-user.
set(CMAKE_CROSSCOMPILING_EMULATOR qemu-aarch64;-E;OPENBLAS_NUM_THREADS=1;-L;/usr/aarch64-linux-gnu)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
