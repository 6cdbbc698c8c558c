#!/usr/bin/env bash
# Instructions per operation, corio beside its peers, counted by
# `valgrind --tool=callgrind` — repeatable run to run, unlike wall time on a
# shared machine. Each figure is a difference of two run sizes, so that
# start-up and teardown cancel out (the last column, "safe floor", is
# benches/peers/src/floor.rs: the contract alone, in safe code):
#   (instructions at 2n - instructions at n) / (n operations more, ×2 runs)
#
# Usage: scripts/callgrind.sh [WORKLOAD ...]   (default: W1 W2 W3 W4 W4c)
# Needs valgrind (Debian: apt-get install valgrind); builds benches/peers.
set -euo pipefail
case "${1:-}" in -h|--help) echo "usage: scripts/callgrind.sh [WORKLOAD ...]   (W1 W2 W3 W4 W4c; default: all five)"; exit 0 ;; esac
cd "$(dirname "$0")/../benches/peers"
command -v valgrind >/dev/null || { echo "valgrind is not installed (apt-get install valgrind)" >&2; exit 2; }
for w in "$@"; do
  case "$w" in W1|W2|W3|W4|W4c) ;; *) echo "unknown workload $w (W1 W2 W3 W4 W4c)" >&2; exit 2 ;; esac
done
cargo build --release --quiet
bin=${CARGO_TARGET_DIR:-target}/release/corio-peers # where cargo just built it

workloads=("$@")
[ ${#workloads[@]} -gt 0 ] || workloads=(W1 W2 W3 W4 W4c)

count() { # runtime workload n -> instructions of one process (warm-up + 1 rep)
  local out
  out=$(valgrind --tool=callgrind --callgrind-out-file=/dev/null "$bin" run "$1" "$2" --n "$3" --reps 1 2>&1) \
    || { echo "callgrind.sh: $1 $2 failed:" >&2; grep -v '^==' <<<"$out" | tail -n 5 >&2; exit 1; }
  awk '/Collected/ {print $4}' <<<"$out"
}

printf '| workload | n | corio | tokio | smol | monoio | safe floor |\n|---|---|---|---|---|---|---|\n'
for w in "${workloads[@]}"; do
  case "$w" in
    W1|W4c) n=100000 ;;
    W2|W3) n=200000 ;;
    W4) n=50000 ;;
    *) echo "unknown workload $w" >&2; exit 2 ;;
  esac
  row="| $w | $n"
  for rt in corio tokio smol monoio floor; do
    # The safe floor (benches/peers/src/floor.rs) has no timers.
    if [ "$rt" = floor ] && [ "${w#W4}" != "$w" ]; then row="$row | —"; continue; fi
    a=$(count "$rt" "$w" "$n"); b=$(count "$rt" "$w" $((2 * n)))
    # Two runs per process (warm-up + 1 rep): 2n more operations.
    row="$row | $(( (b - a) / (2 * n) ))"
  done
  echo "$row |"
done
