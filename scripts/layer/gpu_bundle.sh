#!/bin/bash
# Packs the layer's GPU run (issue 5) into build-dense-cuda/layer-bundle (git-ignored, under 64 MiB):
# the CUDA build's diffuser and diffuser_tests (portable host code: the GPU host's CPU may lack this
# machine's AVX-512), the shared libraries the GPU machine lacks (../shared/gpu/bundle.sh), stripped,
# the large files xz-compressed, and scripts/layer/gpu_run.sh as run.sh. Prints the command to run there.
#   usage: scripts/layer/gpu_bundle.sh [--no-build]
#   environment: BUILD_DIR (default build-dense-cuda), SHARED (default ../shared), JOBS (default 2)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${BUILD_DIR:-$root/build-dense-cuda}
shared=${SHARED:-$root/../shared}
out="$build/layer-bundle"
if [[ ${1:-} != --no-build ]]; then
  cmake -S "$root" -B "$build" -DDIFFUSER_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90 -DDIFFUSER_NATIVE=OFF \
    -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_FLAGS="-mavx2 -mfma"
  cmake --build "$build" -j"${JOBS:-2}" --target diffuser diffuser_tests
fi
"$shared/gpu/bundle.sh" "$out" "$build/tests/diffuser_tests" "$build/tools/diffuser"
cp "$root/scripts/layer/gpu_run.sh" "$out/run.sh"
chmod +x "$out/run.sh"
strip "$out/bin/"*
for f in "$out/bin/"* "$out/lib/"*; do
  if [ "$(stat -c %s "$f")" -gt 2000000 ]; then xz -T0 -6 "$f"; fi
done
du -sh "$out"
rel=${out#"$root"/}
cat <<EOS

On the GPU machine (the run tool; carry ["$rel"]; timeout 600), from the repo root:

  $rel/run.sh "\$OUT"

It writes to \$OUT: tests.log ([cuda] tests), compare.log + layer_gpu.json (scripts/layer/compare_gpu.py:
the CLI cuda-vs-cpu check, then ours vs torch-sdpa vs torch-sparse at N = 4096 and 16384), bench.log
(diffuser layer --bench --backend cuda --gemm-compare at N = 16384), memcheck.log (compute-sanitizer
on the layer's [cuda] tests), and summary.txt.
EOS
