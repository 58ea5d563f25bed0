#!/bin/bash
# The command line on the GPU machine (from the bundle, after env.sh): `demo` picks the GPU by
# itself, `attend --backend cuda` (fp32, bf16, backward) agrees with `--backend cpu` on the same
# files, and `bench --backend cuda` with the default schedule (hop=auto). Fails on the first
# disagreement; prints the relative errors.   usage: cli_check.sh OUTDIR
set -euo pipefail
out=${1:?usage: cli_check.sh OUTDIR}
d=./bin/diffuser
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
n=${CLI_N:-4096}

$d --version
echo "== demo (no --backend: the GPU when one is usable)"
$d demo
echo "== demo --dtype bf16"
$d demo --dtype bf16
echo "== demo --backend cpu (the checksums above should agree to about 1e-6)"
$d demo --backend cpu

python3 - "$work" "$n" <<'PY'
import sys, numpy as np
w, n = sys.argv[1], int(sys.argv[2])
rng = np.random.default_rng(1)
for name in ("q", "k", "v", "dz"):
    np.save(f"{w}/{name}.npy", rng.standard_normal((n, 12, 64), dtype=np.float32))
PY
common=(--pattern diffuser --n "$n" --q "$work/q.npy" --k "$work/k.npy" --v "$work/v.npy")
for be in cpu cuda; do
  echo "== attend --backend $be (fp32, weights, backward)"
  mkdir -p "$work/$be"
  $d attend "${common[@]}" --backend "$be" --out "$work/$be/z.npy" --weights-out "$work/$be/w.npy" \
    --grad-out "$work/dz.npy" --grads-dir "$work/$be"
done
echo "== attend --backend cuda --dtype bf16"
$d attend "${common[@]}" --backend cuda --dtype bf16 --out "$work/z_bf16.npy"

python3 - "$work" <<'PY'
import sys, numpy as np
w = sys.argv[1]
def rel(a, b):
    a, b = np.load(a).astype(np.float64), np.load(b).astype(np.float64)
    return float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-30))
checks = [(f, rel(f"{w}/cuda/{f}", f"{w}/cpu/{f}"), 1e-5) for f in ("z.npy", "w.npy", "dQ.npy", "dK.npy", "dV.npy")]
checks.append(("z bf16 vs fp32 cpu", rel(f"{w}/z_bf16.npy", f"{w}/cpu/z.npy"), 1e-2))
bad = 0
for name, err, tol in checks:
    ok = err <= tol
    bad += not ok
    print(f"cuda vs cpu {name:20s} max rel err {err:.2e} (tolerance {tol:g}) {'ok' if ok else 'FAIL'}")
sys.exit(1 if bad else 0)
PY

echo "== bench --backend cuda, default schedule (hop=auto)"
$d bench --backend cuda --sizes 4096,65536 --dtype fp32,bf16 --reps 7 --baselines none --json "$out/cli_bench.json"
echo "cli check: all passed"
