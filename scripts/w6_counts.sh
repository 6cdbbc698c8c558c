#!/usr/bin/env bash
# W6's numbers that do not drift: instructions per request (valgrind's
# callgrind) and system calls per request (perf's syscall tracepoints) for
# each HTTP client, 64 keep-alive connections to a local nginx (the same
# server and file as scripts/w6.sh).
#
#   instructions: (40,000-request run − 20,000-request run) / 20,000
#     (start-up and the connections' setup cancel out).
#   system calls: counts over 20,000 requests, divided by 20,000.
#
# Usage: scripts/w6_counts.sh [CLIENT ...]   (default: raw corio tokio hyper)
# Needs nginx (scripts/w6.sh installs it), valgrind and perf (Debian:
# valgrind, linux-perf) with access to the syscalls tracepoints (root, or
# kernel.perf_event_paranoid ≤ 1).
set -euo pipefail
case "${1:-}" in -h|--help) echo "usage: scripts/w6_counts.sh [CLIENT ...]   (raw corio tokio hyper corio-hand; default: raw corio tokio hyper)"; exit 0 ;; esac
cd "$(dirname "$0")/../benches/peers"
for tool in valgrind perf; do
  command -v "$tool" >/dev/null || { echo "$tool is not installed" >&2; exit 2; }
done
for c in "$@"; do
  case "$c" in raw|corio|tokio|hyper|corio-hand) ;; *) echo "unknown client $c (raw corio tokio hyper corio-hand)" >&2; exit 2 ;; esac
done
cargo build --release --quiet
bin=${CARGO_TARGET_DIR:-target}/release/corio-peers # where cargo just built it
clients=("$@")
[ ${#clients[@]} -gt 0 ] || clients=(raw corio tokio hyper)
work=$(mktemp -d)
# nginx serves until its stdin closes: hold it open with a fifo we own.
mkfifo "$work/hold"
"$bin" nginx <"$work/hold" >"$work/nginx.log" 2>&1 &
npid=$!
exec 3>"$work/hold"
cleanup() { exec 3>&-; wait "$npid" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
for _ in $(seq 100); do grep -q '^127\.' "$work/nginx.log" && break; sleep 0.1; done
addr=$(grep -m1 '^127\.' "$work/nginx.log") || { echo "nginx did not start: $(cat "$work/nginx.log")" >&2; exit 1; }

events=syscalls:sys_enter_recvfrom,syscalls:sys_enter_sendto,syscalls:sys_enter_epoll_wait,syscalls:sys_enter_epoll_ctl,syscalls:sys_enter_read,syscalls:sys_enter_write

count() { # a failing client says why (its output went to awk before)
  local out
  out=$(valgrind --tool=callgrind --callgrind-out-file=/dev/null "$bin" http-client "$1" "$addr" 64 "$2" /1k.bin 2>&1) \
    || { echo "w6_counts: the $1 client failed:" >&2; grep -v '^==' <<<"$out" | tail -n 5 >&2; exit 1; }
  awk '/Collected/ {print $4}' <<<"$out"
}

echo "| client | instructions per request | system calls per request |"
echo "|---|---|---|"
for c in "${clients[@]}"; do
  a=$(count "$c" 20000); b=$(count "$c" 40000)
  perf stat -x, -e "$events" -o "$work/client.perf" "$bin" http-client "$c" "$addr" 64 20000 /1k.bin >/dev/null
  calls=$(awk -F, '/sys_enter/ {split($3, a, "sys_enter_"); printf "%s=%.3f ", a[2], $1 / 20000}' "$work/client.perf")
  echo "| $c | $(( (b - a) / 20000 )) | $calls|"
done
