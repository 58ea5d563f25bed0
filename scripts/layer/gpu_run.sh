#!/bin/bash
# Runs on the GPU machine from the repo root (the bundle made by scripts/layer/gpu_bundle.sh): the
# [cuda] tests, the layer comparison against PyTorch (scripts/layer/compare_gpu.py), the layer
# benchmark with the cuBLAS product rates, and compute-sanitizer memcheck over the layer's [cuda]
# tests. Each step has a time limit and its own log in OUTDIR; a failed step does not stop the others.
#   usage: <bundle>/run.sh OUTDIR
set -u
out=${1:?usage: run.sh OUTDIR}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
mkdir -p "$out"
for z in "$here"/bin/*.xz "$here"/lib/*.xz; do [ -e "$z" ] && xz -d -f "$z"; done
chmod +x "$here"/bin/*
export LD_LIBRARY_PATH="$here/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
summary=()
step() {  # step NAME TIMEOUT_S COMMAND...
  local name=$1 limit=$2
  shift 2
  local t0=$SECONDS
  timeout "$limit" "$@" >"$out/$name.log" 2>&1
  local rc=$?
  summary+=("$(printf '%-9s rc=%-3s %4ss  %s' "$name" "$rc" "$((SECONDS - t0))" "$(tail -n 1 "$out/$name.log" | cut -c1-100)")")
}
cd "$root"
{ nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader; lscpu | grep -m1 'Model name'; } \
  >"$out/summary.txt" 2>&1
step tests 240 "$here/bin/diffuser_tests" "[cuda]" --durations yes
step compare 300 env PYTHONUNBUFFERED=1 python3 scripts/layer/compare_gpu.py --diffuser "$here/bin/diffuser" \
  --n 4096 16384 --out "$out/layer_gpu.json"
cat >"$out/c768.json" <<'EOJ'
{"hidden_size": 768, "num_attention_heads": 12, "num_hidden_layers": 1, "intermediate_size": 3072,
 "attention_window": 64, "num_rand": 64, "num_glob": 64, "hidden_dropout_prob": 0.1,
 "attention_probs_dropout_prob": 0.1, "diffusion_hops": 5, "diffusion_alpha": 0.1}
EOJ
step bench 120 "$here/bin/diffuser" layer --config "$out/c768.json" --bench --backend cuda --n 16384 --reps 3 \
  --gemm-compare
rm -f "$out/c768.json"
step memcheck 150 compute-sanitizer --tool memcheck --error-exitcode 9 "$here/bin/diffuser_tests" \
  "[cuda][attention]~[large]"
printf '%s\n' "${summary[@]}" | tee -a "$out/summary.txt"
