#!/usr/bin/env bash
# The core benchmarks (W1-W4) of corio at an earlier revision beside the
# working tree, in one run: instructions per operation under callgrind
# (repeatable) and wall time (the best of 7 alternating runs of each: on a
# shared machine run times are bimodal, and the fast mode is the one that
# measures the code). Used to show that debug mode and the trace cost nothing while
# they are off.
#
# Usage: scripts/before_after.sh REV [WORKLOAD ...]   (default: W1 W2 W3 W4)
# Needs git, awk and valgrind; builds benches/peers twice (sharing its target dir).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
usage="usage: scripts/before_after.sh REV [WORKLOAD ...]   (default: W1 W2 W3 W4)"
case "${1:-}" in -h|--help) echo "$usage"; exit 0 ;; "") echo "$usage" >&2; exit 2 ;; esac
rev=$1
shift
if ! git -C "$root" rev-parse --verify --quiet "$rev^{commit}" >/dev/null; then
  echo "before_after.sh: no such revision '$rev'" >&2; echo "$usage" >&2; exit 2
fi
workloads=("$@")
[ ${#workloads[@]} -gt 0 ] || workloads=(W1 W2 W3 W4)
command -v valgrind >/dev/null || { echo "valgrind is not installed (apt-get install valgrind)" >&2; exit 2; }
size() { case "$1" in W1|W4c) echo 100000 ;; W2|W3) echo 200000 ;; W4) echo 50000 ;; *) echo "unknown workload $1 (W1 W2 W3 W4 W4c)" >&2; exit 2 ;; esac; }
for w in "${workloads[@]}"; do size "$w" >/dev/null; done # before two builds, not after

tmp=$(mktemp -d)
cleanup() { git -C "$root" worktree remove --force "$tmp/before" >/dev/null 2>&1 || true; rm -rf "$tmp"; }
trap cleanup EXIT
git -C "$root" worktree add --detach --quiet "$tmp/before" "$rev"
export CARGO_TARGET_DIR="$root/benches/peers/target"
(cd "$tmp/before/benches/peers" && cargo build --release --quiet)
cp "$CARGO_TARGET_DIR/release/corio-peers" "$tmp/before.bin"
(cd "$root/benches/peers" && cargo build --release --quiet)
cp "$CARGO_TARGET_DIR/release/corio-peers" "$tmp/after.bin"

instructions() { # binary workload n
  valgrind --tool=callgrind --callgrind-out-file=/dev/null "$1" run corio "$2" --n "$3" --reps 1 2>&1 \
    | awk '/Collected/ {print $4}'
}
per_op() { # binary workload
  local n a b; n=$(size "$2")
  a=$(instructions "$1" "$2" "$n"); b=$(instructions "$1" "$2" $((2 * n)))
  echo $(( (b - a) / (2 * n) ))
}
best() { sort -g | head -1; }

echo "corio at $(git -C "$root" rev-parse --short "$rev") (before) and the working tree (after)"
printf '| workload | instr/op before | after | ratio | ns/op before | after | ratio |\n|---|---|---|---|---|---|---|\n'
for w in "${workloads[@]}"; do
  ib=$(per_op "$tmp/before.bin" "$w"); ia=$(per_op "$tmp/after.bin" "$w")
  tb=(); ta=()
  for _ in 1 2 3 4 5 6 7; do # alternate, so drift hits both alike
    tb+=("$("$tmp/before.bin" run corio "$w" --reps 3)")
    ta+=("$("$tmp/after.bin" run corio "$w" --reps 3)")
  done
  mb=$(printf '%s\n' "${tb[@]}" | best); ma=$(printf '%s\n' "${ta[@]}" | best)
  awk -v w="$w" -v ib="$ib" -v ia="$ia" -v mb="$mb" -v ma="$ma" \
    'BEGIN { printf "| %s | %d | %d | %.3f | %s | %s | %.3f |\n", w, ib, ia, ia / ib, mb, ma, ma / mb }'
done
