#!/usr/bin/env bash
# W6 (../shared/BENCHMARKS.md): 100,000 keep-alive GETs of a 1 KiB file from
# a local nginx (one worker, tcp_nopush on) over 64 connections; the figure
# is the client's CPU time per request. Compares corio's http::Client with a
# raw mio + httparse client (the limit), a hand-written httparse client on
# tokio, and hyper on tokio — each in a fresh process, rounds interleaved.
#
# nginx is not on a fresh machine, so this stays outside `cargo test` and CI
# (CI keeps tests/http.rs, which runs the same client code against local
# servers). This script installs nginx (the Debian package) if it is
# missing, then runs the benchmark, which starts and stops nginx itself with
# a temporary configuration on a free loopback port.
#
# Usage: scripts/w6.sh [--rounds 5] [--requests 100000] [--conns 64] [--runtimes raw,corio,tokio,hyper]
#   (also corio-hand: the hand-written tokio client on corio's runtime, when named)
# (`--server demo` serves the file from corio's own demo server instead of
# nginx: the same clients, on a machine without nginx.)
set -euo pipefail
cd "$(dirname "$0")/.."
for arg in "$@"; do
  case "$arg" in -h|--help) sed -n 's/^# \{0,1\}//; /^Usage:/,/without nginx/p' "$0"; exit 0 ;; esac
done

# (Not for `--server demo`, which needs no nginx.)
needs_nginx=true
for arg in "$@"; do [ "$arg" = demo ] && needs_nginx=false; done
if $needs_nginx && [ ! -x /usr/sbin/nginx ] && [ ! -x /usr/local/sbin/nginx ] && [ ! -x /usr/bin/nginx ]; then
    echo "installing nginx (Debian package)..."
    apt-get update -qq # a fresh image has empty package lists
    apt-get install -y nginx-light >/dev/null 2>&1 || apt-get install -y nginx
fi

cd benches/peers
cargo build --release
exec timeout 3600 "${CARGO_TARGET_DIR:-target}/release/corio-peers" w6 "$@"
