#!/usr/bin/env bash
# One-command set-up for a fresh Debian 12 machine: installs every dependency (apt-get, as root or
# through sudo), configures a Release build and then either runs the main job or the test suite.
#
#   scripts/run.sh demo     install, build, run `diffuser demo` (N = 4096, the authors' recipe)
#   scripts/run.sh test     install, build, run the whole test suite through ctest
#   scripts/run.sh fuzz     install (with clang-14 and its libFuzzer), build the fuzz targets,
#                           run each for FUZZ_SECONDS (default 10) from its seed corpus (CI's last step)
#
# Environment: BUILD_DIR (default build), DIFFUSER_CUDA (AUTO|ON|OFF, default AUTO: the CUDA backend
# is compiled when nvcc is found; no GPU is needed to build or test), JOBS (default: all cores);
# for fuzz: FUZZ_BUILD_DIR (default build-fuzz), FUZZ_SECONDS (default 10).
set -euo pipefail
cd "$(dirname "$0")/.."

mode=${1:-}
case "$mode" in
  demo|test|fuzz) ;;
  *) echo "usage: scripts/run.sh demo|test|fuzz" >&2; exit 2 ;;
esac
build=${BUILD_DIR:-build}
jobs=${JOBS:-$(nproc)}

packages=(cmake make g++ pkg-config libboost-graph-dev libtbb-dev catch2 libeigen3-dev graphviz
          libopenblas-dev nlohmann-json3-dev libexpat1-dev libcairo2-dev fonts-dejavu-core libspectra-dev
          python3-dev pybind11-dev python3-numpy python3-scipy python3-networkx python3-pytest python3-torch
          libopenmpi-dev openmpi-bin)
# The fuzz targets need clang and its libFuzzer and sanitizer runtimes (Debian 12: clang 14).
[ "$mode" = fuzz ] && packages+=(clang-14 libclang-rt-14-dev)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  sudo=""
  [ "$(id -u)" = 0 ] || sudo=sudo
  echo "== installing: ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ "$mode" = fuzz ]; then
  # Only the fuzz targets and the libraries they link (diffuser_engine, _graphs, _attention),
  # instrumented, the CPU kernels at the generic level (fuzz/CMakeLists.txt, scripts/fuzz.sh).
  BUILD_DIR=${FUZZ_BUILD_DIR:-build-fuzz} JOBS=$jobs exec scripts/fuzz.sh -t "${FUZZ_SECONDS:-10}"
fi

echo "== configuring ($build, Release)"
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DDIFFUSER_CUDA="${DIFFUSER_CUDA:-AUTO}" >/dev/null
echo "== building with $jobs jobs"
cmake --build "$build" -j "$jobs"

if [ "$mode" = demo ]; then
  echo "== diffuser demo"
  "$build/tools/diffuser" demo
else
  echo "== ctest"
  ctest --test-dir "$build" --output-on-failure -j "$jobs"
fi
