#!/usr/bin/env bash
# Regenerates the pictures of docs/ANALYSIS.md with the diffuser CLI: the four patterns at equal
# edge budget (N = 4,096), their reachability, one receptive field, the HTML report and, when
# Chromium is installed, a screenshot of the report.
#   scripts/analysis/make_docs_images.sh [path/to/diffuser]
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
diffuser=${1:-$root/build-analysis/tools/diffuser}
out=$root/docs/images
mkdir -p "$out"
N=4096
# Equal edge budget: the recipe has 1,145,482 edges at N = 4,096 (279.7 per token); window:140
# has 2*140+1 = 281 per token less the ends (1,131,236, -1.2%); bigbird:32:4:1 has 3 + 4 blocks of
# 32 plus one global block (1,146,880, +0.1%); Longformer trades 4 window offsets for 4 global
# tokens (window:136+global:4: 1,131,236, -1.2%).
patterns=(recipe=diffuser window=window:140 bigbird=bigbird:32:4:1 longformer=window:136+global:4)
args=()
for p in "${patterns[@]}"; do args+=(--pattern "$p"); done
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$diffuser" report "${args[@]}" --n $N --out "$tmp/report_n4096.html" --quiet
for p in "${patterns[@]}"; do
  label=${p%%=*}
  spec=${p#*=}
  "$diffuser" viz --pattern "$spec" --n $N --size 320 --title "$label ($spec), N = 4,096" --out "$out/pattern_${label}.png"
done
for label in recipe window; do
  spec=$([ $label = recipe ] && echo diffuser || echo window:140)
  "$diffuser" viz --pattern "$spec" --n $N --kind reach --hops 2 --size 320 \
    --title "$label: pairs within 2 hops" --out "$out/reach2_${label}.png"
done
"$diffuser" viz --pattern diffuser --n 1024 --kind field --token 512 --hops 3 --size 600 \
  --title "recipe (diffuser), N = 1,024: receptive field of token 512" --out "$out/field_recipe_n1024.png"
"$diffuser" viz --pattern window:70 --n 1024 --kind field --token 512 --hops 8 --size 600 \
  --title "window:70, N = 1,024: receptive field of token 512" --out "$out/field_window_n1024.png"
"$diffuser" viz --pattern 'blocks:4+random:1+global-random:1' --n 24 --kind graph \
  --title "blocks:4+random:1+global-random:1, N = 24" --out "$out/graph_small_recipe.png"
if command -v chromium > /dev/null; then
  "$root/scripts/analysis/render_html.sh" "$tmp/report_n4096.html" "$out/report_n4096.png" 1400 1150
fi
ls -la "$out"
