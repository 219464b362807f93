#!/usr/bin/env bash
# Bulk delivery: nginx serves a recorded-style 400-token stream (many events arrive in one read),
# C requests in flight, N in all, over plain HTTP/1.1 on loopback. llmstream reads it with
# async_next (a completion per delta) and with async_next_batch (every ready delta per completion);
# the official openai Node SDK reads the same streams from the same nginx, in the same run. Prints
# one JSON line per client and the CPU-per-event ratios against the SDK.
# Usage: benchmarks/compare_bulk.sh [build-dir=build] [concurrency=64] [requests=2000]
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
concurrency=${2:-64}
requests=${3:-2000}
bench=$build/benchmarks/llmstream-bench
[ -x "$bench" ] || { echo "build $bench first (cmake --build $build)" >&2; exit 2; }
command -v node >/dev/null || { echo "node and npm are needed for the peer" >&2; exit 2; }
(cd benchmarks/peers && npm ci --no-audit --no-fund --silent >/dev/null 2>&1 || npm install --no-audit --no-fund --silent >/dev/null)

work=$(mktemp -d)
pid=""
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

. benchmarks/start_nginx.sh
mkdir -p "$work/www/v1/chat"
openai_stream 400 >"$work/www/v1/chat/completions"
start_nginx "$work" 4096 "access_log off; keepalive_requests 100000;" ""
pid=$nginx_pid
url="http://127.0.0.1:$nginx_port/v1"

ours=$("$bench" load --base-url "$url" --concurrency "$concurrency" --requests "$requests" --model bench)
batch=$("$bench" load --base-url "$url" --concurrency "$concurrency" --requests "$requests" --model bench --batch)
peer=$(cd benchmarks/peers && node load_peer.mjs --base-url "$url" --concurrency "$concurrency" --requests "$requests" --model bench)
echo "{\"client\":\"llmstream\",${ours#\{}"
echo "{\"client\":\"llmstream-batch\",${batch#\{}"
echo "{\"client\":\"openai-node\",${peer#\{}"
node -e 'const [a,g,b]=process.argv.slice(1).map(JSON.parse); console.log(JSON.stringify({
  cpu_per_event_ratio:+(b.cpu_ns_per_event/a.cpu_ns_per_event).toFixed(1),
  batch_cpu_per_event_ratio:+(b.cpu_ns_per_event/g.cpu_ns_per_event).toFixed(1)}))' "$ours" "$batch" "$peer"
