#!/usr/bin/env bash
# CPU benchmarks of the foundation issue, in one go on one machine: `diffuser bench` over the N
# sweep (with its in-process triad, FMA peak and naive single-threaded loop), the N = 4096 target
# row with the naive loop at that N, `attend` peak RSS at N = 65,536, and the PyTorch peers on the
# CPU (dense masked attention at N = 4096, torch.sparse at N = 1024) for the ratios.
# The N = 4096 row runs three times with the dense panels on and three times off
# (DIFFUSER_PANELS=off), alternating, so their ratio comes from the same minutes.
#   usage: scripts/bench_cpu.sh [OUTDIR]     (default out/bench-cpu; needs a Release build and /usr/bin/python3)
#   environment: BUILD (default build), THREADS (default 2)
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-out/bench-cpu}
mkdir -p "$out"
d=${BUILD:-build}/tools/diffuser
threads=${THREADS:-2}
echo "== machine"; (lscpu | grep -E "Model name|^CPU\(s\)"; date -u; uptime) | tee "$out/machine.txt"

echo "== N = 4096, panels on / off, alternating"
for i in 1 2 3; do
  for panels in on off; do
    DIFFUSER_PANELS=$panels $d bench --sizes 4096 --threads "$threads" --reps 5 --no-naive \
      --json "$out/panels-$panels-$i.json" | grep -E "^ +4096" | sed "s/^/panels $panels: /"
  done
done

echo "== N = 4096 target row (naive loop at this N)"
$d bench --sizes 4096 --threads "$threads" --reps 7 --json "$out/bench-4096.json" | tee "$out/bench-4096.txt"

echo "== sweep"
$d bench --threads "$threads" --reps 5 --no-naive --json "$out/bench-sweep.json" | tee "$out/bench-sweep.txt"

echo "== attend peak RSS at N = 65536"
/usr/bin/python3 - "$out" <<'PY'
import sys, numpy as np
rng = np.random.default_rng(0)
for name in "qkv":
    np.save(f"{sys.argv[1]}/{name}.npy", rng.standard_normal((65536, 12, 64), dtype=np.float32))
PY
/usr/bin/time -v $d attend --pattern diffuser --n 65536 --threads "$threads" \
  --q "$out/q.npy" --k "$out/k.npy" --v "$out/v.npy" --out "$out/z.npy" 2>&1 | tee "$out/attend-65536.txt" \
  | grep -E "budget|forward|Maximum resident"
rm -f "$out"/[qkvz].npy

echo "== PyTorch peers on the CPU ($threads threads)"
OMP_NUM_THREADS=$threads /usr/bin/python3 ../shared/peers/diffuser_peers.py --device cpu --threads "$threads" \
  --peers dense --sizes 4096 --reps 3 --out "$out/torch-dense-4096.json" | tail -2
OMP_NUM_THREADS=$threads /usr/bin/python3 ../shared/peers/diffuser_peers.py --device cpu --threads "$threads" \
  --peers cusparse --sizes 1024 --reps 3 --out "$out/torch-sparse-1024.json" | tail -2
