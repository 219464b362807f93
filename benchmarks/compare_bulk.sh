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
nginx=$(command -v nginx || echo /usr/sbin/nginx)
[ -x "$nginx" ] || { echo "nginx is needed (scripts/install-deps installs nginx-light)" >&2; exit 2; }
command -v node >/dev/null || { echo "node and npm are needed for the peer" >&2; exit 2; }
(cd benchmarks/peers && npm ci --no-audit --no-fund --silent >/dev/null 2>&1 || npm install --no-audit --no-fund --silent >/dev/null)

work=$(mktemp -d)
pid=""
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

mkdir -p "$work/www/v1/chat" "$work/tmp"
{
  printf 'data: {"id":"chatcmpl-b","object":"chat.completion.chunk","created":1732000000,"model":"m","choices":[{"index":0,"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}]}\n\n'
  for i in $(seq 0 399); do
    printf 'data: {"id":"chatcmpl-b","object":"chat.completion.chunk","created":1732000000,"model":"m","choices":[{"index":0,"delta":{"content":" tok%d"},"logprobs":null,"finish_reason":null}]}\n\n' "$i"
  done
  printf 'data: {"id":"chatcmpl-b","object":"chat.completion.chunk","created":1732000000,"model":"m","choices":[{"index":0,"delta":{},"logprobs":null,"finish_reason":"stop"}]}\n\n'
  printf 'data: [DONE]\n\n'
} >"$work/www/v1/chat/completions"

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat >"$work/nginx.conf" <<EOF
daemon off;
master_process off;
worker_processes 1;
error_log $work/error.log warn;
pid $work/nginx.pid;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $work/tmp/body;
  proxy_temp_path $work/tmp/proxy;
  keepalive_requests 100000;
  open_file_cache max=16;
  default_type text/event-stream;
  server {
    listen 127.0.0.1:$port;
    root $work/www;
    location / { error_page 405 =200 \$uri; }
  }
}
EOF
"$nginx" -p "$work" -c "$work/nginx.conf" >"$work/nginx.out" 2>&1 &
pid=$!
for _ in $(seq 1 100); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.05; done
url="http://127.0.0.1:$port/v1"

ours=$("$bench" load --base-url "$url" --concurrency "$concurrency" --requests "$requests" --model bench)
batch=$("$bench" load --base-url "$url" --concurrency "$concurrency" --requests "$requests" --model bench --batch)
peer=$(cd benchmarks/peers && node load_peer.mjs --base-url "$url" --concurrency "$concurrency" --requests "$requests" --model bench)
echo "{\"client\":\"llmstream\",${ours#\{}"
echo "{\"client\":\"llmstream-batch\",${batch#\{}"
echo "{\"client\":\"openai-node\",${peer#\{}"
node -e 'const [a,g,b]=process.argv.slice(1).map(JSON.parse); console.log(JSON.stringify({
  cpu_per_event_ratio:+(b.cpu_ns_per_event/a.cpu_ns_per_event).toFixed(1),
  batch_cpu_per_event_ratio:+(b.cpu_ns_per_event/g.cpu_ns_per_event).toFixed(1)}))' "$ours" "$batch" "$peer"
