#!/usr/bin/env bash
# Renders an HTML file (a `diffuser report`) to a PNG with headless Chromium, to look at it.
# Developer tool only: neither the tests nor CI need Chromium.
#   scripts/analysis/render_html.sh report.html report.png [WIDTH] [HEIGHT]
# Install once with: apt-get install -y --no-install-recommends chromium
set -euo pipefail
if [ $# -lt 2 ]; then
  echo "usage: $0 IN.html OUT.png [WIDTH [HEIGHT]]" >&2
  exit 2
fi
in=$(realpath "$1")
out=$(realpath -m "$2")
width=${3:-1400}
height=${4:-2000}
browser=$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)
if [ -z "$browser" ]; then
  echo "$0: no Chromium found (apt-get install -y --no-install-recommends chromium)" >&2
  exit 1
fi
profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT
"$browser" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run --disable-background-networking \
  --disable-component-update --disable-sync --hide-scrollbars --user-data-dir="$profile" \
  --screenshot="$out" --window-size="${width},${height}" "file://$in" 2>/dev/null
test -s "$out"
echo "wrote $out"
