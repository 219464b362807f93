#!/usr/bin/env bash
# Instructions per streamed event of `llmstream-bench load` end to end (socket read, framing,
# SSE, decoding, hand-out to the reader), counted by callgrind: the run with 128 tokens per
# stream minus the run with 64, divided by the extra events. The mock paces its tokens
# (pace_ms=5) so that each token is its own socket read even under valgrind, as on a real
# stream. Exact and repeatable on a noisy machine: the measure for A/B comparisons of the read
# path (the wall-clock ratio to the floor is `llmstream-bench floor`/`load`, see RESULTS.md).
# Prints one JSON line. Usage: benchmarks/load_instructions.sh [build-dir=build] [load args...]
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
bench=$build/benchmarks/llmstream-bench
[ -x "$bench" ] && [ -x "$build/llmstream-mock" ] || { echo "build $bench and $build/llmstream-mock first" >&2; exit 2; }
command -v valgrind >/dev/null || { echo "valgrind is needed (apt-get install valgrind)" >&2; exit 2; }
. benchmarks/start_mock.sh
start_mock "$build/llmstream-mock"
work=$(mktemp -d)
trap '[ -n "${KEEP:-}" ] && cp "$work"/out.* /tmp/ ; rm -rf "$work"; stop_mock' EXIT

run() {  # tokens -> "instructions events"
  valgrind --tool=callgrind --callgrind-out-file="$work/out.$1" "$bench" load --base-url "$mock_url" \
    --concurrency 20 --requests 100 --model "mock?tokens=$1&pace_ms=5" "${@:2}" >"$work/json.$1" 2>"$work/log.$1"
  local total events
  total=$(grep -E '^summary:|^totals:' "$work/out.$1" | head -n 1 | awk '{print $2}')
  events=$(sed -E 's/.*"events":([0-9]+).*/\1/' "$work/json.$1")
  echo "$total $events"
}

read -r short short_events < <(run 64 "${@:2}")
read -r long long_events < <(run 128 "${@:2}")
extra=$(( long_events - short_events ))
[ "$extra" -gt 0 ] || { echo "no extra events: $short_events then $long_events" >&2; exit 1; }
echo "{\"events_64\":$short_events,\"events_128\":$long_events,\"instructions_64\":$short,\"instructions_128\":$long,\"instructions_per_event\":$(( (long - short) / extra ))}"
