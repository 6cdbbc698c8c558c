#!/usr/bin/env bash
# Fuzzes the HTTP response decoder (corio::http::ResponseDecoder) with
# cargo-fuzz / libFuzzer: the `decode_response` target in fuzz/, which
# feeds arbitrary bytes to the decoder in client-like reads and checks its
# invariants (no panic, no loop, no NeedMore at eof, same body however the
# bytes are split, ...). This is a manual tool, outside CI.
#
# Usage: scripts/fuzz.sh [SECONDS]   (default: 300)
# Needs the nightly toolchain (rustup toolchain install nightly); installs
# cargo-fuzz if it is missing. One fuzz job. The corpus grows in
# fuzz/corpus/decode_response (seeded from fuzz/seeds/decode_response);
# crashing inputs land in fuzz/artifacts/decode_response.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"

seconds="${1:-300}"
# libFuzzer reads a bad number as 0, which means "no limit".
[[ "$seconds" =~ ^[1-9][0-9]*$ ]] || { echo "usage: scripts/fuzz.sh [SECONDS]  (a whole number above 0, got '$seconds')" >&2; exit 2; }
target=decode_response

command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked

mkdir -p "corpus/$target"
cp "seeds/$target"/* "corpus/$target/"

status=0
cargo +nightly fuzz run "$target" "corpus/$target" -- -max_total_time="$seconds" || status=$?

echo
echo "fuzzed $target for up to ${seconds}s (exit status $status)"
echo "crashing inputs, if any, are in $(pwd)/artifacts/$target/"
echo "minimize one with: (cd fuzz && cargo +nightly fuzz tmin $target artifacts/$target/<file>)"
exit "$status"
