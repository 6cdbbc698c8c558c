#!/usr/bin/env bash
# Renders the `timeline` example's SVG to a PNG with headless Chromium, to
# look at (outside CI: Chromium is not on a fresh machine).
#
# Usage: scripts/timeline_png.sh [SECONDS per request, default 0.5]
# Writes target/timeline/timeline.svg and target/timeline/timeline.png;
# installs Debian's chromium package if it is missing (needs root).
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-0.5}
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
