#!/usr/bin/env bash
# Renders the `timeline` example's SVG to a PNG with headless Chromium, to
# look at (outside CI: Chromium is not on a fresh machine).
#
# Usage: scripts/timeline_png.sh [SECONDS per request, 0.01 to 10; default 0.5]
# Writes target/timeline/timeline.svg and target/timeline/timeline.png;
# installs Debian's chromium package if it is missing (needs root).
set -euo pipefail
cd "$(dirname "$0")/.."
usage="usage: scripts/timeline_png.sh [SECONDS per request, 0.01 to 10; default 0.5]"
case "${1:-}" in -h|--help) echo "$usage"; exit 0 ;; esac
[ $# -le 1 ] || { echo "$usage" >&2; exit 2; }
secs=${1:-0.5}
# Checked here, before Chromium is installed (the example checks it again).
awk -v s="$secs" 'BEGIN { exit !(s ~ /^[0-9]*\.?[0-9]+$/ && s >= 0.01 && s <= 10) }' \
  || { echo "$usage (got '$secs')" >&2; exit 2; }
out=target/timeline
mkdir -p "$out"
if ! command -v chromium >/dev/null; then
  echo "installing chromium (Debian package)..."
  apt-get update -qq # a fresh image has empty package lists
  apt-get install -y -q chromium >/dev/null
fi
cargo run --release --quiet --example timeline -- --secs "$secs" --out "$out/timeline.svg"
# The SVG's own size, so the screenshot has no margins to crop.
size=$(sed -n 's/.*<svg[^>]* width="\([0-9.]*\)" height="\([0-9.]*\)".*/\1,\2/p' "$out/timeline.svg")
rm -f "$out/timeline.png"
# Chromium's chatter goes to a log, shown if it fails.
if ! chromium --headless --no-sandbox --disable-gpu --hide-scrollbars \
  --window-size="$size" --screenshot="$PWD/$out/timeline.png" \
  "file://$PWD/$out/timeline.svg" 2>"$out/chromium.log" || [ ! -s "$out/timeline.png" ]; then
  echo "timeline_png: chromium wrote no PNG; its output:" >&2
  cat "$out/chromium.log" >&2
  exit 1
fi
echo "wrote $out/timeline.png ($size)"
