#!/usr/bin/env bash
# Smoke test of llmstream-bench's output contracts (run by ctest): `parse` on a golden stream,
# `load` and `floor` against an llmstream-mock this script starts and stops. Small sizes: this
# checks that the commands work and print what other tools read, not how fast they are.
# Usage: benchmarks/smoke.sh BENCH MOCK GOLDEN_DIR
set -euo pipefail
bench=$1 mock=$2 golden=$3
. "$(dirname "$0")/start_mock.sh"
start_mock "$mock"
url=$mock_url

require() {  # require NAME JSON KEY... : every key present, with a number or string value
  local name=$1 json=$2; shift 2
  for key in "$@"; do
    grep -Eq "\"$key\":(-?[0-9.]+|\"[^\"]*\")" <<<"$json" || { echo "$name: no \"$key\" in $json"; exit 1; }
  done
  echo "$name: $json"
}
equals() {  # equals NAME JSON KEY VALUE
  grep -q "\"$3\":$4[,}]" <<<"$2" || { echo "$1: expected \"$3\":$4 in $2"; exit 1; }
}

out=$(timeout 60 "$bench" parse "$golden/openai_basic.sse" --repeat 3)
require parse "$out" events bytes content_bytes ns_per_event mb_per_s
out=$(timeout 60 "$bench" parse "$golden/dashscope_native.sse" --dialect dashscope --repeat 3 --warmup 1)
require parse-dashscope "$out" events bytes content_bytes ns_per_event mb_per_s
# The new dialects, and the simdjson anchor reading the same text as the library's decoder.
for case in anthropic_thinking_tool_use.sse:anthropic openai_responses_reasoning_text.sse:responses openai_basic.sse:openai; do
  file=${case%%:*} dialect=${case##*:}
  ours=$(timeout 60 "$bench" parse "$golden/$file" --dialect "$dialect" --repeat 2)
  anchor=$(timeout 60 "$bench" parse "$golden/$file" --dialect "$dialect" --decoder simdjson --repeat 2)
  require "parse-$dialect" "$ours" events content_bytes reasoning_bytes ns_per_event
  for key in events content_bytes reasoning_bytes; do
    value=$(grep -Eo "\"$key\":[0-9]+" <<<"$ours" | cut -d: -f2)
    equals "parse-$dialect-simdjson" "$anchor" "$key" "$value"
  done
done

out=$(timeout 60 "$bench" load --base-url "$url" --concurrency 8 --requests 40 --model 'mock?tokens=16')
require load "$out" requests_ok requests_failed events content_bytes wall_s cpu_s cpu_ns_per_event events_per_s \
  peak_rss_mb ttft_ms_p50 ttft_ms_p99
equals load "$out" requests_ok 40
equals load "$out" requests_failed 0
# The same over HTTP/2 (h2c to the mock): one connection carries all eight streams.
out=$(timeout 60 "$bench" load --base-url "$url" --http 2 --concurrency 8 --requests 40 --model 'mock?tokens=16')
equals load-h2 "$out" requests_ok 40
equals load-h2 "$out" connections_peak 1

out=$(timeout 60 "$bench" floor --base-url "$url" --concurrency 8 --requests 40 --model 'mock?tokens=16')
require floor "$out" requests_ok events wall_s cpu_s cpu_ns_per_event recv_calls
equals floor "$out" requests_ok 40
