#!/usr/bin/env bash
# Installs this build into a temporary prefix, then configures, builds and runs
# examples/cmake-consumer against it (find_package(diffuser) from the installed tree only).
#   usage: check_consumer.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build=$1
src=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cmake --install "$build" --prefix "$work/prefix" > "$work/install.log"
test -f "$work/prefix/lib/cmake/diffuser/diffuserConfig.cmake"
test -f "$work/prefix/include/diffuser/engine/context.hpp"
cmake -S "$src/examples/cmake-consumer" -B "$work/consumer" -DCMAKE_PREFIX_PATH="$work/prefix" \
  -DCMAKE_BUILD_TYPE=Release > "$work/configure.log"
cmake --build "$work/consumer" > "$work/build.log"
out=$("$work/consumer/diffuser_consumer")
echo "$out"
grep -q "checksum" <<< "$out"
