#!/bin/bash
# Builds diffuser for the GPU machine and packs it: build-gpu (CUDA on, sm_90; the default portable
# build, whose CPU kernels pick the host's level at run time), the bundle through
# ../shared/gpu/bundle.sh into .gpu-bundle (git-ignored), then prints the exact commands to run
# there. The steps themselves live in tools/gpu/gpu_session.sh (in the bundle).
#   usage: tools/gpu/run_gpu.sh [--no-build]
#   environment: BUILD_DIR (default build-gpu), SHARED (default ../shared), JOBS (default nproc),
#   NO_CLI=1 (leave the CLI out: the bundle must stay under 64 MiB), PYTHON (default: the package
#   when BUILD_DIR has it, built for the GPU machine's Python 3.12: configure with
#   -DPython_EXECUTABLE=<a 3.12 interpreter with its headers>; PYTHON=0 leaves it out)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${BUILD_DIR:-$root/build-gpu}
shared=${SHARED:-$root/../shared}
if [[ ${1:-} != --no-build ]]; then
  cmake -S "$root" -B "$build" -DDIFFUSER_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90 -DCMAKE_BUILD_TYPE=Release
  cmake --build "$build" -j"${JOBS:-$(nproc)}" --target diffuser diffuser_tests
fi
exes=("$build/tests/diffuser_tests")
[[ ${NO_CLI:-} == 1 ]] || exes+=("$build/tools/diffuser")
module=$(ls "$build"/python/diffuser/_core*.so 2>/dev/null | head -n 1 || true)
[[ ${PYTHON:-1} == 0 ]] && module=""
[[ -n $module ]] && exes+=("$module")  # for the libraries it needs
"$shared/gpu/bundle.sh" "$root/.gpu-bundle" "${exes[@]}"
cp "$root/tools/gpu/gpu_session.sh" "$root/tools/gpu/cli_check.sh" "$root/scripts/layer/compare_gpu.py" "$root/.gpu-bundle/"
if [[ -n $module ]]; then  # the package (the module moved out of bin/) and its tests
  mkdir -p "$root/.gpu-bundle/python"
  cp -r "$build/python/diffuser" "$root/.gpu-bundle/python/"
  rm -f "$root/.gpu-bundle/bin/$(basename "$module")"
  cp -r "$root/python/tests" "$root/.gpu-bundle/python/tests"
  cp -r "$root/python/benchmarks" "$root/.gpu-bundle/python/benchmarks"
  strip --strip-unneeded "$root/.gpu-bundle/python/diffuser/"_core*.so
  # pytest for the pycpu step (pure Python; the GPU machine may have none)
  mkdir -p "$root/.gpu-bundle/pylib"
  for m in pytest _pytest pluggy iniconfig packaging py py.py; do
    src=/usr/lib/python3/dist-packages/$m
    if [[ -e $src ]]; then cp -r "$src" "$root/.gpu-bundle/pylib/"; fi
  done
fi
# The machine takes 64 MiB with the working tree: strip, and compress the large libraries (ICU's
# data, OpenBLAS); gpu_session.sh unpacks them.
strip "$root/.gpu-bundle/bin/"*
for f in "$root/.gpu-bundle/lib/"*; do
  if [ "$(stat -c %s "$f")" -gt 2000000 ]; then xz -T0 -6 "$f"; fi
done
du -sh "$root/.gpu-bundle"
cat <<EOS

On the GPU machine (the run tool: carry .gpu-bundle; logs and JSON land in \$OUT), from the repo root:

  # [cuda] tests, compute-sanitizer memcheck + racecheck, and the kernel-variant sweep at N = 65536:
  .gpu-bundle/gpu_session.sh \$OUT info tests memcheck racecheck sweep

  # the Python package on CUDA tensors (python/tests/test_cuda.py, torch.compile included) and the
  # execution-context tests under racecheck:
  .gpu-bundle/gpu_session.sh \$OUT python context

  # the training step of DiffuserAttention on CUDA tensors against PyTorch dense on the same GPU:
  .gpu-bundle/gpu_session.sh \$OUT pytrain

  # the CLI on the GPU (demo, attend --backend cuda against the CPU, bench with the default schedule)
  # and the Transformer layer against PyTorch (scripts/layer/compare_gpu.py):
  .gpu-bundle/gpu_session.sh \$OUT cli layer

  # the benchmark sweep (ours fp32 + bf16, in-process cuSPARSE and cuBLAS baselines) and the peers:
  SIZES=4096,16384,65536,131072,1048576 PEER_SIZES=4096,16384,65536,131072 \\
    .gpu-bundle/gpu_session.sh \$OUT bench peers

  # the same by hand:
  cd .gpu-bundle && . ./env.sh
  ./bin/diffuser_tests "[cuda]"
  compute-sanitizer --tool memcheck --error-exitcode 9 ./bin/diffuser_tests "[cuda]~[large]~[concurrency]"
  compute-sanitizer --tool racecheck --error-exitcode 9 ./bin/diffuser_tests "[cuda][engine]~[concurrency]"
  ./bin/diffuser bench --backend cuda --sizes 4096,16384,65536,131072,1048576 --dtype fp32,bf16 \\
      --device-graph --json \$OUT/bench.json
  python3 peers/diffuser_peers.py --sizes 4096,16384,65536,131072 --peers cusparse,scatter,dense,sdpa \\
      --out \$OUT/peers.json
EOS
