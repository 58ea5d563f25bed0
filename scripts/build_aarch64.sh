#!/usr/bin/env bash
# Cross-builds diffuser for aarch64 Linux (Grace-Hopper, Graviton) on a Debian 12 x86-64 machine and
# runs the [engine], [diffusion] and [graphs] tests under qemu-aarch64. Installs what it needs
# (as root or through sudo): g++-aarch64-linux-gnu, qemu-user, and the arm64 development packages
# through multiarch. The CPU kernels build at the generic level, which is NEON on aarch64.
#   usage: scripts/build_aarch64.sh [BUILD_DIR]      (default build-aarch64)
#   environment: JOBS (default: all cores), TEST_TIMEOUT (seconds for the emulated tests, default 3600)
# The emulated tests use the arm64 dynamic loader of the multiarch libc6:arm64 package, never the
# cross toolchain's (qemu's -L /usr/aarch64-linux-gnu): that loader is from another glibc build than
# the libc.so.6 it then finds, and pthread_create spins forever in the mismatched stack cache
# (docs/ARCHITECTURE.md, "aarch64").
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build-aarch64}
jobs=${JOBS:-$(nproc)}
sudo=""
[ "$(id -u)" = 0 ] || sudo=sudo

native=(g++-aarch64-linux-gnu qemu-user cmake make pkg-config catch2 libeigen3-dev libspectra-dev nlohmann-json3-dev)
arm=(libc6:arm64 libtbb-dev:arm64 libboost-graph-dev:arm64 libopenblas-dev:arm64 libexpat1-dev:arm64 libcairo2-dev:arm64)
missing=()
for p in "${native[@]}" "${arm[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "== installing: ${missing[*]}"
  dpkg --print-foreign-architectures | grep -qx arm64 || $sudo dpkg --add-architecture arm64
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

echo "== configuring $build (aarch64, Release, no CUDA)"
# pkg-config (Cairo) must read the arm64 .pc files, not the host's.
PKG_CONFIG_LIBDIR=/usr/lib/aarch64-linux-gnu/pkgconfig:/usr/share/pkgconfig \
  cmake -S . -B "$build" -DCMAKE_TOOLCHAIN_FILE=cmake/toolchains/aarch64-linux-gnu.cmake \
  -DCMAKE_BUILD_TYPE=Release -DDIFFUSER_CUDA=OFF -DDIFFUSER_PYTHON=OFF > "$build.configure.log"
echo "== building the tests with $jobs jobs"
cmake --build "$build" -j "$jobs" --target diffuser_tests
file "$build/tests/diffuser_tests" | sed 's/^/== /'
echo "== [engine], [diffusion] and [graphs] under qemu-aarch64 (at most ${TEST_TIMEOUT:-3600} s)"
rc=0
[ -e /lib/ld-linux-aarch64.so.1 ] || { echo "== /lib/ld-linux-aarch64.so.1 missing (libc6:arm64)" >&2; exit 1; }
timeout "${TEST_TIMEOUT:-3600}" qemu-aarch64 "$build/tests/diffuser_tests" "[engine]~[cuda]~[cli],[diffusion]~[cuda]~[cli],[graphs]~[cuda]~[cli]" \
  --durations yes || rc=$?
if ((rc == 124)); then
  echo "== stopped after ${TEST_TIMEOUT:-3600} s: the last case named above did not finish" >&2
fi
exit "$rc"
