#!/usr/bin/env bash
# Atomic read-modify-write operations per operation (W1, W2, W3): corio
# beside tokio, monoio and the safe floor. callgrind counts each one as a
# single instruction, but a `lock`-prefixed instruction costs tens of
# cycles — 8 to 12 ns apiece on our VM in session 25 — so these counts say
# how much a runtime's wall time depends on the host's price of an atomic.
#
# How: the `lock`-prefixed instructions (and `xchg` with memory) of the
# benchmark binary, from objdump, matched against callgrind's
# per-instruction counts; each figure is the difference of two run sizes,
# so that start-up and teardown cancel out.
#
# Usage: scripts/atomics.sh [WORKLOAD ...]   (default: W1 W2 W3)
# Needs valgrind and objdump (binutils); builds benches/peers.
set -euo pipefail
case "${1:-}" in -h|--help) echo "usage: scripts/atomics.sh [WORKLOAD ...]   (W1 W2 W3; default: all three)"; exit 0 ;; esac
for w in "$@"; do
  case "$w" in W1|W2|W3) ;; *) echo "unknown workload $w (W1 W2 W3)" >&2; exit 2 ;; esac
done
for tool in valgrind objdump python3; do
  command -v "$tool" >/dev/null || { echo "atomics.sh needs $tool" >&2; exit 2; }
done
cd "$(dirname "$0")/../benches/peers"
cargo build --release --quiet
bin=${CARGO_TARGET_DIR:-target}/release/corio-peers
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

objdump -d --no-show-raw-insn "$bin" |
  awk '/^ +[0-9a-f]+:\t/ { if ($2 ~ /^lock/ || ($2 ~ /^xchg/ && $0 ~ /\(/)) { sub(":", "", $1); print $1 } }' \
  > "$tmp/locked"

count() { # runtime workload n -> locked operations executed by one process
  valgrind --tool=callgrind --dump-instr=yes --dump-line=no --compress-pos=no \
    --callgrind-out-file="$tmp/out" "$bin" run "$1" "$2" --n "$3" --reps 1 >/dev/null 2>&1 \
    || { echo "atomics.sh: $1 $2 failed" >&2; exit 1; }
  python3 - "$tmp/locked" "$tmp/out" <<'EOF'
import sys
locked = {int(a, 16) for a in open(sys.argv[1])}
total, skip = 0, False
for line in open(sys.argv[2]):
    if line.startswith("calls="):
        skip = True  # the next cost line is the call's inclusive cost
        continue
    if line.startswith("0x"):
        if skip:
            skip = False
            continue
        addr, cost = line.split()[:2]
        # (callgrind gives the binary's own addresses, as objdump does)
        if int(addr, 16) in locked:
            total += int(cost)
print(total)
EOF
}

workloads=("$@")
[ ${#workloads[@]} -gt 0 ] || workloads=(W1 W2 W3)
printf '| locked operations per operation | n | corio | tokio | monoio | safe floor |\n|---|---|---|---|---|---|\n'
for w in "${workloads[@]}"; do
  case "$w" in W1) n=50000 ;; *) n=100000 ;; esac
  row="| $w | $n"
  for rt in corio tokio monoio floor; do
    a=$(count "$rt" "$w" "$n"); b=$(count "$rt" "$w" $((2 * n)))
    # Two runs per process (warm-up + 1 rep): 2n more operations.
    row="$row | $(python3 -c "print(f'{($b - $a) / (2 * $n):.2f}'.replace('-0.00', '0.00'))")"
  done
  echo "$row |"
done
