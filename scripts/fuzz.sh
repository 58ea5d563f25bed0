#!/usr/bin/env bash
# Builds the libFuzzer targets of fuzz/ (clang, ASan + UBSan, DIFFUSER_ASSERTs on) and runs each
# one in turn from its seed corpus fuzz/corpus/<target> (new inputs go to a scratch copy in the
# build folder, never into the repository).
#
#   scripts/fuzz.sh                      every target for 60 s
#   scripts/fuzz.sh -t 300 dot graphml   those targets for 300 s each
#   scripts/fuzz.sh -r 1000000           every target for 1,000,000 executions
#
# Environment: BUILD_DIR (default build-fuzz), CC/CXX (default clang-14/clang++-14), JOBS (build
# jobs, default all cores). One line per target: executions, seconds, executions per second, corpus
# size. A crash, sanitizer report, leak, timeout or out-of-memory stops that target: the input is
# kept in $BUILD_DIR/findings/<target>/, the run goes on with the next target and the script ends
# with exit status 1. Every finding becomes a regression test in tests/ (docs/RELIABILITY.md).
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=60
runs=""
while getopts "t:r:" opt; do
  case "$opt" in
    t) seconds=$OPTARG ;;
    r) runs=$OPTARG ;;
    *) echo "usage: scripts/fuzz.sh [-t SECONDS | -r EXECUTIONS] [TARGET...]" >&2; exit 2 ;;
  esac
done
shift $((OPTIND - 1))
all=(npy edge_list matrix_market dot graphml safetensors config pattern plugin_args plugin_frames cli_numbers)
targets=("$@")
((${#targets[@]})) || targets=("${all[@]}")

build=${BUILD_DIR:-build-fuzz}
jobs=${JOBS:-$(nproc)}
export CC=${CC:-clang-14} CXX=${CXX:-clang++-14}
command -v "$CXX" >/dev/null ||
  { echo "fuzz.sh: $CXX not found (apt-get install clang-14 libclang-rt-14-dev)" >&2; exit 2; }

echo "== configuring $build ($CXX, libFuzzer + ASan + UBSan)"
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DDIFFUSER_CUDA=OFF -DDIFFUSER_TESTS=OFF \
      -DDIFFUSER_FUZZ=ON -DDIFFUSER_ASSERTS=ON >/dev/null
echo "== building ${#targets[@]} target(s) with $jobs jobs"
built=$(date +%s)
cmake --build "$build" -j "$jobs" --target $(printf 'fuzz_%s ' "${targets[@]}") >/dev/null
echo "== built in $(($(date +%s) - built)) s"

limit=(-max_total_time="$seconds")
[ -n "$runs" ] && limit=(-runs="$runs")
status=0
printf '%-15s %14s %9s %9s %8s\n' target executions seconds exec/s corpus
for t in "${targets[@]}"; do
  corpus="$build/corpus/$t" findings="$build/findings/$t" log="$build/logs/$t.log"
  mkdir -p "$corpus" "$findings" "$(dirname "$log")"
  cp -n fuzz/corpus/"$t"/* "$corpus"/ 2>/dev/null || true
  start=$(date +%s.%N)
  # -timeout: one input may take at most 10 s; -rss_limit_mb: the targets cap their memory budget
  # at 512 MiB, so 2 GiB of RSS means something allocated around the budget.
  if ! "$build/fuzz/fuzz_$t" "${limit[@]}" -timeout=10 -rss_limit_mb=2048 -max_len=16384 \
       -print_final_stats=1 -artifact_prefix="$findings/" "$corpus" >"$log" 2>&1; then
    status=1
    echo "$t: FINDING (see $log and $findings/)" >&2
  fi
  end=$(date +%s.%N)
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  awk -v t="$t" -v n="${execs:-0}" -v a="$start" -v b="$end" -v c="$(ls "$corpus" | wc -l)" \
      'BEGIN { s = b - a; printf "%-15s %14d %9.0f %9.0f %8d\n", t, n, s, n / (s > 0 ? s : 1), c }'
done
echo "== fuzzing done, exit status $status"
exit $status
