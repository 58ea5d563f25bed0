#!/usr/bin/env bash
# `diffuser attend|bench --distributed` under mpirun (ctest): the same Z and gradients as one
# process, and bad launches that end every rank with one clear line, no hang, no output file.
# usage: check_cli.sh DIFFUSER "MPIRUN ARGS..." [PYTHON]
set -uo pipefail
diffuser=$1
read -r -a mpirun <<<"$2"
python=${3:-python3}
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
run() { timeout 120 "${mpirun[@]}" "$@"; }

"$python" "$here/npy_tool.py" make 601 5 8 q.npy k.npy v.npy dz.npy m.npy
graph=(--pattern "blocks:16+random:8+global-at:0,400" --n 601 --seed 3)
ins=(--q q.npy --k k.npy --v v.npy --mask m.npy --hops 4 --threads 1)

"$diffuser" attend "${graph[@]}" "${ins[@]}" --out z1.npy --grad-out dz.npy --grads-dir g1 >/dev/null || fail "one process"

# heads: bitwise, forward and gradients, 2 and 3 ranks (uneven rows and heads)
for p in 2 3; do
  run -np $p "$diffuser" attend "${graph[@]}" "${ins[@]}" --out zh$p.npy --grad-out dz.npy --grads-dir gh$p \
    --distributed heads >out.txt 2>&1 || { cat out.txt; fail "heads with $p ranks"; }
  cmp -s z1.npy zh$p.npy || fail "heads with $p ranks: Z differs from one process"
  for g in dQ dK dV; do cmp -s g1/$g.npy gh$p/$g.npy || fail "heads with $p ranks: $g differs"; done
  grep -q "rank $((p - 1)) backward" out.txt || fail "heads with $p ranks: no per-rank backward line"
done

# tokens: Z within 1e-6, gradients within 5e-6 (sums across ranks in another order)
for p in 2 3; do
  run -np $p "$diffuser" attend "${graph[@]}" "${ins[@]}" --out zt$p.npy --grad-out dz.npy --grads-dir gt$p \
    --distributed tokens >out.txt 2>&1 || { cat out.txt; fail "tokens with $p ranks"; }
  "$python" "$here/npy_tool.py" compare z1.npy zt$p.npy 1e-6 || fail "tokens with $p ranks: Z not within 1e-6"
  for g in dQ dK dV; do
    "$python" "$here/npy_tool.py" compare g1/$g.npy gt$p/$g.npy 5e-6 || fail "tokens with $p ranks: $g not within 5e-6"
  done
  grep -q "halo rows per hop" out.txt || fail "tokens with $p ranks: no partition lines"
done

# bad launches: exit status, one line per rank naming the cause, no output
expect_error() {  # expect_error RANKS PATTERN OUTPUT -- command...
  local ranks=$1 pattern=$2 output=$3
  shift 4
  run "$@" >out.txt 2>&1
  local rc=$?
  [ $rc -ne 0 ] && [ $rc -ne 124 ] || { cat out.txt; fail "expected an error ($pattern), got exit $rc"; return; }
  local lines
  lines=$(grep -c "diffuser attend: error: .*$pattern" out.txt)
  [ "$lines" = "$ranks" ] || { cat out.txt; fail "expected $ranks lines matching '$pattern', got $lines"; }
  [ ! -e "$output" ] || fail "a failed run left $output"
  ls | grep -q "tmp-" && fail "a failed run left a temporary file: $(ls | grep tmp-)"
}
expect_error 2 "rank 0: .*missing.npy" bad1.npy -- -np 2 "$diffuser" attend "${graph[@]}" --q missing.npy --k k.npy \
  --v v.npy --out bad1.npy --distributed heads
expect_error 3 "3 ranks for 2 tokens" bad2.npy -- -np 3 "$diffuser" attend --pattern window:1 --n 2 --q q2.npy \
  --k q2.npy --v q2.npy --out bad2.npy --distributed tokens
expect_error 2 "arguments differ across the 2 ranks" bad3.npy -- -np 1 "$diffuser" attend "${graph[@]}" "${ins[@]}" \
  --out bad3.npy --distributed tokens : -np 1 "$diffuser" attend "${graph[@]}" "${ins[@]}" --alpha 0.3 --out bad3.npy \
  --distributed tokens
expect_error 3 "needs at least 3 heads" bad4.npy -- -np 3 "$diffuser" attend --pattern window:1 --n 4 --q q4.npy \
  --k q4.npy --v q4.npy --out bad4.npy --distributed heads
expect_error 2 "not supported with --distributed" bad5.npy -- -np 2 "$diffuser" attend "${graph[@]}" \
  "${ins[@]}" --out bad5.npy --weights-out w5.npy --distributed tokens
expect_error 2 "N mismatch" bad6.npy -- -np 2 "$diffuser" attend --pattern window:1 --n 600 "${ins[@]}" --out bad6.npy \
  --distributed tokens

# bench: per-rank lines with the compute / communication split and bytes
for mode in heads tokens; do
  run -np 2 "$diffuser" bench --distributed $mode --sizes 512 --heads 4 --dim 8 --hops 2 --reps 1 --threads 1 \
    >out.txt 2>&1 || { cat out.txt; fail "bench $mode"; }
  grep -q "rank 1 forward: .*communication .*received" out.txt || { cat out.txt; fail "bench $mode: no rank lines"; }
done

[ $failures -eq 0 ] && echo "distributed CLI: all checks passed"
exit $((failures > 0))
