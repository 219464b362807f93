#!/usr/bin/env bash
# End-to-end streaming load, llmstream vs the official openai Node SDK, against the same local
# llmstream-mock in one run, plus the socket floor (`llmstream-bench floor`: plain epoll and recv,
# no parsing): what any client pays this kernel to receive the same streams. llmstream runs twice:
# with async_next (a completion per delta) and with async_next_batch (every ready delta per
# completion). Prints one JSON line per client, the CPU-per-event ratios against the SDK, and each
# client's CPU per event over the floor's.
# Usage: benchmarks/compare_load.sh [build-dir=build] [concurrency=100] [requests=2000] [model=mock?tokens=64]
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
concurrency=${2:-100}
requests=${3:-2000}
model=${4:-mock?tokens=64}
[ -x "$build/llmstream-mock" ] && [ -x "$build/benchmarks/llmstream-bench" ] || { echo "build $build first" >&2; exit 2; }
command -v node >/dev/null || { echo "node and npm are needed for the peer" >&2; exit 2; }
(cd benchmarks/peers && npm ci --no-audit --no-fund --silent >/dev/null 2>&1 || npm install --no-audit --no-fund --silent >/dev/null)

. benchmarks/start_mock.sh
start_mock "$build/llmstream-mock"
url=$mock_url

ours=$("$build/benchmarks/llmstream-bench" load --base-url "$url" --concurrency "$concurrency" --requests "$requests" --model "$model")
batch=$("$build/benchmarks/llmstream-bench" load --base-url "$url" --concurrency "$concurrency" --requests "$requests" --model "$model" --batch)
peer=$(cd benchmarks/peers && node load_peer.mjs --base-url "$url" --concurrency "$concurrency" --requests "$requests" --model "$model")
floor=$("$build/benchmarks/llmstream-bench" floor --base-url "$url" --concurrency "$concurrency" --requests "$requests" --model "$model")
echo "{\"client\":\"llmstream\",${ours#\{}"
echo "{\"client\":\"llmstream-batch\",${batch#\{}"
echo "{\"client\":\"openai-node\",${peer#\{}"
echo "{\"client\":\"socket-floor\",${floor#\{}"
node -e 'const [a,b,f,g]=process.argv.slice(1).map(JSON.parse); console.log(JSON.stringify({cpu_per_event_ratio:+(b.cpu_ns_per_event/a.cpu_ns_per_event).toFixed(1),
  batch_cpu_per_event_ratio:+(b.cpu_ns_per_event/g.cpu_ns_per_event).toFixed(1),
  llmstream_over_floor:+(a.cpu_ns_per_event/f.cpu_ns_per_event).toFixed(2),
  batch_over_floor:+(g.cpu_ns_per_event/f.cpu_ns_per_event).toFixed(2),
  best_possible_ratio:+(b.cpu_ns_per_event/f.cpu_ns_per_event).toFixed(1)}))' "$ours" "$peer" "$floor" "$batch"
