#!/bin/bash
# Runs on the GPU machine, from the unpacked bundle (.gpu-bundle): the [cuda] tests, the
# compute-sanitizer passes, the kernel-variant sweep, the benchmark sweep and the PyTorch peers.
# Every step writes its log (and JSON) to OUTDIR and is bounded by a timeout; a failed step does
# not stop the later ones. The last lines printed are a summary.
#   usage: gpu_session.sh OUTDIR STEP...   steps: info tests hub memcheck racecheck sweep ncu bench peers
#   cli layer cpu blocks big python context pycpu pytrain pymemcheck
#   (python: the Python package on CUDA tensors, python/tests/test_cuda.py, with torch.compile;
#   context: the execution-context tests under compute-sanitizer racecheck;
#   pycpu: the package's CPU tests (test_torch.py, test_module.py, test_attend.py) under the machine's
#   torch, so on the custom-op path torch.compile and opcheck test (Debian's pytest from the bundle
#   when the machine has none);
#   pytrain: python/benchmarks/bench_python.py's training step on CUDA tensors at PYTRAIN_SIZES,
#   DiffuserAttention against projections alone and PyTorch dense masked attention + diffusion;
#   pymemcheck: test_cuda.py's eager tests under compute-sanitizer memcheck, with PyTorch's caching
#   allocator off so that every allocation is exact; not the allocation-count test, whose counters
#   that mode does not keep, nor torch.compile)
#   (blocks: the block-random recipe diffuser-blocks at BLOCK_SIZES; big: the bf16 recipe forward at
#   BIG_SIZES, default 4,194,304 tokens)
#   (cpu: the CPU benchmark of the portable binary on two cores of the GPU machine's host, at the
#   avx2 and avx512 levels, with the naive loops and PyTorch's dense attention on the same cores)
#   environment: SIZES (bench), PEER_SIZES (peers), SWEEP_N (sweep), VARIANTS (sweep), and the
#   LAYER_SIZES (layer), and the per-step time limits T_TESTS T_MEMCHECK T_RACECHECK T_SWEEP T_NCU
#   T_BENCH T_PEERS T_CLI T_LAYER (seconds);
#   STOP_ON_FAIL=1 ends the session at the first failing step
set -u
out=${1:?usage: gpu_session.sh OUTDIR STEP...}
shift
here=$(cd "$(dirname "$0")" && pwd)
cd "$here"
for z in lib/*.xz; do [ -e "$z" ] && xz -d "$z"; done  # run_gpu.sh compresses the largest library
. ./env.sh
mkdir -p "$out"
summary=()
step() {  # step NAME TIMEOUT_S COMMAND...
  local name=$1 limit=$2
  shift 2
  local t0=$SECONDS
  timeout "$limit" "$@" >"$out/$name.log" 2>&1
  local rc=$?
  summary+=("$(printf '%-10s rc=%-3s %4ss  %s' "$name" "$rc" "$((SECONDS - t0))" "$(tail -n 1 "$out/$name.log" | cut -c1-90)")")
  if [[ $rc != 0 && -n ${STOP_ON_FAIL:-} ]]; then
    printf '%s\n' "${summary[@]}" "stopped: $name failed (STOP_ON_FAIL)"
    tail -n 40 "$out/$name.log"
    exit 1
  fi
}
SIZES=${SIZES:-4096,16384,65536,131072,1048576}
PEER_SIZES=${PEER_SIZES:-4096,16384,65536,131072}
SWEEP_N=${SWEEP_N:-65536}
VARIANTS=${VARIANTS:-"hop=w32;hop=w16;hop=w8;hop=h2;hop=row,layout=em;hop=w16,layout=em;score=s16;score=s32;chunk=64;chunk=512;hub=-1"}
for s in "$@"; do
  case $s in
    python) step python ${T_PYTHON:-420} env PYTHONPATH="$here/python" PYTHONUNBUFFERED=1 bash -c \
              'python3 -c "import sys, torch; print(sys.version.split()[0], torch.__version__, torch.version.cuda)" &&
               python3 -c "import diffuser, diffuser.torch as dt; print(diffuser._core.build_info(), dt.OP_PATH)" &&
               python3 "$0"' "$here/python/tests/test_cuda.py" ;;
    pycpu) step pycpu ${T_PYCPU:-300} env PYTHONUNBUFFERED=1 bash -c \
             'pp="$0/python:$0/python/tests"; python3 -c "import pytest" 2>/dev/null || pp="$pp:$0/pylib"
              PYTHONPATH="$pp" python3 -m pytest -q -p no:cacheprovider "$0/python/tests/test_torch.py" \
                "$0/python/tests/test_module.py" "$0/python/tests/test_attend.py"' "$here" ;;
    pytrain) step pytrain ${T_PYTRAIN:-300} env PYTHONPATH="$here/python" PYTHONUNBUFFERED=1 bash -c \
               'for n in ${PYTRAIN_SIZES:-4096 16384}; do python3 "$0" --only train --device cuda --n $n --steps 10 \
                  --peer-steps 5 --variants ${PYTRAIN_VARIANTS:-diffuser,diffuser-keep,diffuser-nocheck,diffuser-keep-nocheck,projections,dense} --json "$1/pytrain-$n.json" || true; done' \
               "$here/python/benchmarks/bench_python.py" "$out" ;;
    pymemcheck) step pymemcheck ${T_PYMEMCHECK:-400} env PYTHONPATH="$here/python" PYTHONUNBUFFERED=1 \
                  PYTORCH_NO_CUDA_MEMORY_CACHING=1 compute-sanitizer --tool memcheck --error-exitcode 9 \
                  python3 "$here/python/tests/test_cuda.py" forward matches_the_cpu packed in_place errors stream module training ;;
    context) step context ${T_CONTEXT:-240} compute-sanitizer --tool racecheck --error-exitcode 9 \
               ./bin/diffuser_tests "CUDA: *" ;;
    info) step info 60 bash -c 'nvidia-smi; nvidia-smi -q | grep -iE "clocks|MHz" | head -20' ;;
    tests) step tests ${T_TESTS:-200} ./bin/diffuser_tests "[cuda]" --durations yes ;;
    memcheck) step memcheck ${T_MEMCHECK:-300} compute-sanitizer --tool memcheck --error-exitcode 9 ./bin/diffuser_tests "[cuda]~[large]~[concurrency]" ;;
    racecheck) step racecheck ${T_RACECHECK:-240} compute-sanitizer --tool racecheck --error-exitcode 9 ./bin/diffuser_tests "[cuda][engine]~[concurrency]" ;;
    sweep) step sweep ${T_SWEEP:-300} ./bin/diffuser bench --backend cuda --sizes "$SWEEP_N" --dtype fp32,bf16 --baselines none \
             --reps 7 --variants "$VARIANTS" --json "$out/sweep.json" ;;
    bench) step bench ${T_BENCH:-420} ./bin/diffuser bench --backend cuda --sizes "$SIZES" --dtype fp32,bf16 --reps 7 \
             --device-graph --json "$out/bench.json" ;;
    ncu) step ncu ${T_NCU:-240} ncu --clock-control none --section SpeedOfLight --section MemoryWorkloadAnalysis \
           --section Occupancy --section LaunchStats --section WarpStateStats -k 'regex:score_warp|hop_warp|hub_' \
           --launch-count "${NCU_KERNELS:-5}" ./bin/diffuser bench --backend cuda --sizes "${NCU_N:-65536}" --reps 1 \
           --baselines none --dtype "${NCU_DTYPE:-fp32}" ;;
    peers) step peers ${T_PEERS:-300} env PYTHONUNBUFFERED=1 python3 peers/diffuser_peers.py --sizes "$PEER_SIZES" \
             --peers cusparse,scatter,dense,sdpa --out "$out/peers.json" ;;
    hub) step hub ${T_HUB:-200} env DIFFUSER_CUDA_SCHEDULE=hub=8 ./bin/diffuser_tests "[cuda][attention]" ;;  # hub paths on small graphs
    cli) step cli ${T_CLI:-180} "$here/cli_check.sh" "$out" ;;  # demo, attend and bench through the CLI on the GPU
    layer) step layer ${T_LAYER:-300} env PYTHONUNBUFFERED=1 python3 "$here/compare_gpu.py" --diffuser ./bin/diffuser \
             --n ${LAYER_SIZES:-4096 16384} --out "$out/layer_gpu.json" ;;
    blocks) step blocks ${T_BLOCKS:-200} ./bin/diffuser bench --backend cuda --pattern diffuser-blocks \
              --sizes "${BLOCK_SIZES:-16384,65536}" --dtype fp32,bf16 --reps 7 --baselines none --json "$out/blocks.json" ;;
    big) step big ${T_BIG:-240} ./bin/diffuser bench --backend cuda --sizes "${BIG_SIZES:-4194304}" --dtype bf16 \
           --reps 3 --baselines none --json "$out/big.json" ;;
    cpu) step cpu ${T_CPU:-300} bash -c "lscpu | grep -E 'Model name|^CPU\(s\)|Flags' | cut -c1-200; \
           for isa in avx2 avx512; do DIFFUSER_CPU_ISA=\$isa taskset -c 2,3 ./bin/diffuser bench --sizes 4096 \
           --threads 2 --reps 7 --json $out/cpu-\$isa.json; done; \
           OMP_NUM_THREADS=2 taskset -c 2,3 python3 peers/diffuser_peers.py --device cpu --threads 2 --peers dense \
           --sizes 4096 --reps 3 --out $out/cpu-torch-dense.json | tail -3" ;;
    *) echo "unknown step $s" >&2 ;;
  esac
done
printf '%s\n' "${summary[@]}"
