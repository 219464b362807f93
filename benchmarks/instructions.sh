#!/usr/bin/env bash
# Instructions per event of `llmstream-bench parse` on each corpus file, counted by callgrind:
# (the run with --repeat 5) minus (the run with --repeat 1), over 4 passes of the file's events.
# Exact and repeatable on a noisy machine: the measure for A/B comparisons of parse changes.
# Prints one JSON line per file. Usage: benchmarks/instructions.sh [build-dir=build]
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
bench=$build/benchmarks/llmstream-bench
[ -x "$bench" ] || { echo "build $bench first (cmake --build $build)" >&2; exit 2; }
command -v valgrind >/dev/null || { echo "valgrind is needed (apt-get install valgrind)" >&2; exit 2; }
corpus=$build/bench-corpus
[ -f "$corpus/openai_obfuscated.sse" ] || node benchmarks/corpus/generate.mjs "$corpus"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

count() {  # file dialect repeat -> total instructions
  valgrind --tool=callgrind --callgrind-out-file="$work/out" "$bench" parse "$1" --dialect "$2" --repeat "$3" \
    --warmup 0 >"$work/json" 2>"$work/log"
  grep -E '^summary:|^totals:' "$work/out" | head -n 1 | awk '{print $2}'
}

for file in openai_chunks openai_obfuscated qwen_thinking_zh_crlf dashscope_native anthropic_messages openai_responses long_deltas; do
  case $file in
    dashscope_native) dialect=dashscope ;;
    anthropic_messages) dialect=anthropic ;;
    openai_responses) dialect=responses ;;
    *) dialect=openai ;;
  esac
  one=$(count "$corpus/$file.sse" "$dialect" 1)
  five=$(count "$corpus/$file.sse" "$dialect" 5)
  events=$(sed -E 's/.*"events":([0-9]+).*/\1/' "$work/json")
  echo "{\"file\":\"$file\",\"events\":$events,\"instructions_per_event\":$(( (five - one) / 4 / events ))}"
done
