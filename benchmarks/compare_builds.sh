#!/usr/bin/env bash
# CPU per event of two builds of the client against the socket floor, side by side: each round
# runs `llmstream-bench floor`, this build's `load` and the other build's `load` against the same
# llmstream-mock (one token per write), rotating their order from round to round, and reports
# each build's CPU per event over the floor's of that round and the new build's over the old's.
# The floor's own cost moves by 10-20% between minutes on a shared VM: a ratio within one round,
# and the median over many rounds, are what compare. Instruction counts
# (benchmarks/load_instructions.sh) are the exact A/B; this says what shows in CPU time.
# Prints one JSON line per round and a last line with the medians.
# Usage: benchmarks/compare_builds.sh OLD_BUILD [NEW_BUILD=build] [rounds=12] [concurrency=100] [requests=2000] [model=mock?tokens=64]
# (OLD_BUILD: e.g. a `git worktree add /tmp/old REV` configured and built with
# `ninja -C /tmp/old/build llmstream-bench llmstream-mock`.)
set -euo pipefail
cd "$(dirname "$0")/.."
old=${1:?usage: benchmarks/compare_builds.sh OLD_BUILD [NEW_BUILD] [rounds] [concurrency] [requests] [model]}
new=${2:-build}
rounds=${3:-12}
concurrency=${4:-100}
requests=${5:-2000}
model=${6:-mock?tokens=64}
for b in "$old" "$new"; do
  [ -x "$b/benchmarks/llmstream-bench" ] || { echo "build $b/benchmarks/llmstream-bench first" >&2; exit 2; }
done
[ -x "$new/llmstream-mock" ] || { echo "build $new/llmstream-mock first" >&2; exit 2; }

. benchmarks/start_mock.sh
start_mock "$new/llmstream-mock"
args=(--base-url "$mock_url" --concurrency "$concurrency" --requests "$requests" --model "$model")
cpu() { sed -E 's/.*"cpu_ns_per_event":([0-9.]+).*/\1/'; }

new_over_floor=(); old_over_floor=(); new_over_old=()
for r in $(seq 1 "$rounds"); do
  floor='' now='' before=''
  for k in 0 1 2; do
    case $(( (r - 1 + k) % 3 )) in
      0) floor=$("$new/benchmarks/llmstream-bench" floor "${args[@]}" | cpu) ;;
      1) now=$("$new/benchmarks/llmstream-bench" load "${args[@]}" | cpu) ;;
      2) before=$("$old/benchmarks/llmstream-bench" load "${args[@]}" | cpu) ;;
    esac
  done
  n=$(awk -v a="$now" -v b="$floor" 'BEGIN { printf "%.3f", a / b }')
  o=$(awk -v a="$before" -v b="$floor" 'BEGIN { printf "%.3f", a / b }')
  x=$(awk -v a="$now" -v b="$before" 'BEGIN { printf "%.3f", a / b }')
  new_over_floor+=("$n"); old_over_floor+=("$o"); new_over_old+=("$x")
  printf '{"round":%d,"floor_ns":%s,"new_ns":%s,"old_ns":%s,"new_over_floor":%s,"old_over_floor":%s,"new_over_old":%s}\n' \
    "$r" "$floor" "$now" "$before" "$n" "$o" "$x"
done
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
printf '{"rounds":%d,"new_over_floor_median":%s,"old_over_floor_median":%s,"new_over_old_median":%s,"new_cheaper_rounds":%d}\n' \
  "$rounds" "$(median "${new_over_floor[@]}")" "$(median "${old_over_floor[@]}")" "$(median "${new_over_old[@]}")" \
  "$(printf '%s\n' "${new_over_old[@]}" | awk '$1 < 1 { n++ } END { print n + 0 }')"
