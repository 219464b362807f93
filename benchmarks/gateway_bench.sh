#!/usr/bin/env bash
# llmstream-gateway relaying many streams held open at once on ONE gateway thread: llmstream-mock
# upstream (its own process; tokens stamped with the time they were written, paced, each stream
# starting at a random point of the first interval so that they do not tick in step), the gateway
# (its own process, HTTP/2 upstream so that 10,000 streams share a few connections), and
# `llmstream-bench relay` as the browsers (a third process). Prints the relay's JSON line: clients,
# events, latency from the upstream write to the browser-side read (p50/p99/max), the gateway's CPU
# per relayed event and its peak RSS.
# Usage: benchmarks/gateway_bench.sh [build-dir=build] [clients=10000] [tokens=20] [pace_ms=500]
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
clients=${2:-10000}
tokens=${3:-20}
pace=${4:-500}
for p in "$build/llmstream-mock" "$build/examples/llmstream-gateway" "$build/benchmarks/llmstream-bench"; do
  [ -x "$p" ] || { echo "build $p first (cmake --build $build)" >&2; exit 2; }
done
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
[ "$(ulimit -n)" -gt $((clients + 200)) ] || { echo "need more than $clients open files (ulimit -n)" >&2; exit 2; }

work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

listening() {  # log-file -> URL, waiting up to 5 s
  for _ in $(seq 1 100); do
    url=$(grep -o 'listening on http://[^ ]*' "$1" 2>/dev/null | head -n 1 | cut -d' ' -f3) && [ -n "$url" ] && { echo "$url"; return; }
    sleep 0.05
  done
  echo "nothing listening: $(cat "$1")" >&2; exit 1
}

"$build/llmstream-mock" --port 0 >"$work/mock.log" 2>&1 &
pids+=($!)
mock=$(listening "$work/mock.log")
"$build/examples/llmstream-gateway" --port 0 --base-url "$mock/v1" --api-key bench --http 2 \
  --max-streams $((clients + 10)) >"$work/gateway.log" 2>&1 &
gateway_pid=$!
pids+=("$gateway_pid")
gateway=$(listening "$work/gateway.log")

"$build/benchmarks/llmstream-bench" relay --url "$gateway" --clients "$clients" \
  --model "mock?stamp=1&tokens=$tokens&pace_ms=$pace&spread_ms=$pace" --gateway-pid "$gateway_pid"
