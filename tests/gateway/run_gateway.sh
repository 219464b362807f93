#!/usr/bin/env bash
# The llmstream-gateway program itself, with --threads 2 and its embedded mock: it says where it
# listens, serves /healthz, relays a whole event stream on each of several connections (spread
# over both threads by the kernel), and stops on SIGTERM. Usage: run_gateway.sh PATH-TO-GATEWAY
set -euo pipefail
gateway=$1
log=$(mktemp)
"$gateway" --port 0 --threads 2 --model 'mock?tokens=12' >"$log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true; rm -f "$log"' EXIT
url=""
for _ in $(seq 1 100); do
  url=$(grep -o 'listening on http://[^ ]*' "$log" | head -n 1 | cut -d' ' -f3 || true)
  [ -n "$url" ] && break
  sleep 0.05
done
[ -n "$url" ] || { echo "the gateway did not say where it listens: $(cat "$log")"; exit 1; }
hostport=${url#http://}
host=${hostport%:*}
port=${hostport##*:}

get() {  # target -> the whole answer
  exec 3<>"/dev/tcp/$host/$port"
  printf 'GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n' "$1" "$hostport" >&3
  timeout 10 cat <&3
  exec 3<&-
}

health=$(get /healthz)
grep -q '^ok' <<<"$(tr -d '\r' <<<"$health" | tail -n 1)" || { echo "healthz: $health"; exit 1; }
for i in 1 2 3 4 5 6; do
  body=$(get '/v1/stream?prompt=hi')
  grep -q 'event: done' <<<"$body" || { echo "stream $i did not end with done: $body"; exit 1; }
  grep -q '"content":" tok11"' <<<"$body" || { echo "stream $i is missing its last token: $body"; exit 1; }
done
kill -TERM $pid
for _ in $(seq 1 100); do kill -0 $pid 2>/dev/null || break; sleep 0.05; done
if kill -0 $pid 2>/dev/null; then echo "the gateway did not stop on SIGTERM"; exit 1; fi
echo "llmstream-gateway --threads 2: healthz, 6 streams relayed whole, stopped on SIGTERM"
