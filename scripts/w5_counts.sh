#!/usr/bin/env bash
# W5's numbers that do not drift: instructions per round trip (valgrind's
# callgrind) and system calls per round trip (perf's syscall tracepoints),
# for each runtime's echo server (driven by the raw-mio client) and each
# runtime's echo client (against the raw-mio server), 64 connections.
#
#   server instructions: the server runs under callgrind; its counters are
#     dumped after 64 × 1,000 and after 64 × 3,000 more round trips, and
#     the figure is the difference divided by 64 × 2,000 (start-up and the
#     connections' setup cancel out).
#   client instructions: (64 × 3,000 run − 64 × 1,000 run) / (64 × 2,000).
#   system calls: counts over 64 × 5,000 round trips, divided by 320,000.
#
# Usage: scripts/w5_counts.sh [RUNTIME ...]   (default: raw corio tokio smol monoio)
# Needs valgrind and perf (Debian: valgrind, linux-perf) with access to the
# syscalls tracepoints (root, or kernel.perf_event_paranoid ≤ 1).
set -euo pipefail
case "${1:-}" in -h|--help) echo "usage: scripts/w5_counts.sh [RUNTIME ...]   (raw corio tokio smol monoio; default: all)"; exit 0 ;; esac
cd "$(dirname "$0")/../benches/peers"
for tool in valgrind callgrind_control perf; do
  command -v "$tool" >/dev/null || { echo "$tool is not installed" >&2; exit 2; }
done
for rt in "$@"; do
  case "$rt" in raw|corio|tokio|smol|monoio) ;; *) echo "unknown runtime $rt (raw corio tokio smol monoio)" >&2; exit 2 ;; esac
done
cargo build --release --quiet
bin=${CARGO_TARGET_DIR:-target}/release/corio-peers # where cargo just built it
runtimes=("$@")
[ ${#runtimes[@]} -gt 0 ] || runtimes=(raw corio tokio smol monoio)
work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

events=syscalls:sys_enter_recvfrom,syscalls:sys_enter_sendto,syscalls:sys_enter_epoll_wait,syscalls:sys_enter_epoll_ctl,syscalls:sys_enter_read,syscalls:sys_enter_write

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# wait_ready LOG: until the server printed "ready" (at most 20 s).
wait_ready() {
  for _ in $(seq 200); do grep -q ready "$1" && return 0; sleep 0.1; done
  echo "the server did not start: $(cat "$1")" >&2; exit 1
}

# syscalls PERF_OUTPUT ROUND_TRIPS: "recvfrom=… sendto=… …" per round trip.
syscalls() {
  awk -F, -v rt="$2" '/sys_enter/ {split($3, a, "sys_enter_"); printf "%s=%.3f ", a[2], $1 / rt}' "$1"
}

total() { awk '/^(summary|totals):/ {print $2; exit}' "$1"; }

echo "| side | runtime | instructions per round trip | system calls per round trip |"
echo "|---|---|---|---|"
for rt in "${runtimes[@]}"; do
  # Server: instructions.
  port=$(free_port)
  valgrind --tool=callgrind --callgrind-out-file="$work/server.cg" \
    "$bin" echo-server "$rt" "$port" >"$work/server.log" 2>&1 &
  vpid=$!; pids+=("$vpid")
  wait_ready "$work/server.log"
  "$bin" echo-client raw "$port" 64 200 >/dev/null          # warm-up
  callgrind_control -z "$vpid" >/dev/null 2>&1
  "$bin" echo-client raw "$port" 64 1000 >/dev/null
  callgrind_control -d "$vpid" >/dev/null 2>&1; sleep 0.5
  "$bin" echo-client raw "$port" 64 3000 >/dev/null
  callgrind_control -d "$vpid" >/dev/null 2>&1; sleep 0.5
  kill "$vpid"; wait "$vpid" 2>/dev/null || true
  a=$(total "$work/server.cg.1"); b=$(total "$work/server.cg.2")
  server_instr=$(( (b - a) / (64 * 2000) ))
  rm -f "$work"/server.cg*
  # Server: system calls.
  port=$(free_port)
  perf stat -x, -e "$events" -o "$work/server.perf" \
    "$bin" echo-server "$rt" "$port" >"$work/server.log" 2>&1 &
  ppid=$!; pids+=("$ppid")
  wait_ready "$work/server.log"
  "$bin" echo-client raw "$port" 64 5000 >/dev/null
  pkill -INT -f "corio-peers echo-server $rt $port" || true
  wait "$ppid" 2>/dev/null || true
  echo "| server | $rt | $server_instr | $(syscalls "$work/server.perf" 320000)|"

  # Client: against the raw-mio server.
  port=$(free_port)
  "$bin" echo-server raw "$port" >"$work/raw.log" 2>&1 &
  spid=$!; pids+=("$spid")
  wait_ready "$work/raw.log"
  perf stat -x, -e "$events" -o "$work/client.perf" "$bin" echo-client "$rt" "$port" 64 5000 >/dev/null
  count() {
    valgrind --tool=callgrind --callgrind-out-file=/dev/null "$bin" echo-client "$rt" "$port" 64 "$1" 2>&1 \
      | awk '/Collected/ {print $4}'
  }
  a=$(count 1000); b=$(count 3000)
  kill "$spid"; wait "$spid" 2>/dev/null || true
  echo "| client | $rt | $(( (b - a) / (64 * 2000) )) | $(syscalls "$work/client.perf" 320000)|"
done
