#!/usr/bin/env bash
# Many streams held open at once on ONE client thread against nginx over TLS, in one run:
# HTTP/2 (streams share connections) and HTTP/1.1 (a connection per stream). nginx serves a
# recorded-style 64-token stream to each request at `limit_rate`, so every stream stays open for
# several seconds and all of them are in flight together. Prints one JSON line per protocol:
# llmstream-bench load's object plus "protocol", "connections" (distinct connections in nginx's
# log), "rss_kb_per_connection" and "rss_kb_per_stream" ((peak RSS - RSS of a one-stream run) /
# connections, / streams), and "streaming_rss_kb_per_connection": the same from the resident set
# while every stream was streaming (without the transient peak of 10,000 TLS handshakes at once).
# Usage: benchmarks/h2_streams.sh [build-dir=build] [streams=10000] [rate=2k] [requests=streams]
#   PROTOCOLS="2 1.1" (the default) picks the runs; KEEPALIVE_REQUESTS (default 100000) is nginx's
#   keepalive_requests: streams per connection before its GOAWAY. LOAD_ARGS: more arguments for
#   `llmstream-bench load` (e.g. --no-tls-resume).
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
streams=${2:-10000}
rate=${3:-2k}
requests=${4:-$streams}
protocols=${PROTOCOLS:-2 1.1}
keepalive=${KEEPALIVE_REQUESTS:-100000}
bench=$build/benchmarks/llmstream-bench
[ -x "$bench" ] || { echo "build $bench first (cmake --build $build)" >&2; exit 2; }
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
[ "$(ulimit -n)" -gt $((streams + 100)) ] || { echo "need more than $streams open files (ulimit -n)" >&2; exit 2; }

work=$(mktemp -d)
pid=""
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
keep_log() { [ -f "$work/error.log" ] && tail -n 5 "$work/error.log" >&2; }

# A throwaway CA and a certificate for localhost.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj "/CN=bench CA" \
  -keyout "$work/ca.key" -out "$work/ca.pem" 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=localhost" \
  -keyout "$work/server.key" -out "$work/server.csr" 2>/dev/null
printf 'subjectAltName=DNS:localhost\n' >"$work/ext"
openssl x509 -req -in "$work/server.csr" -CA "$work/ca.pem" -CAkey "$work/ca.key" -CAcreateserial -days 1 \
  -extfile "$work/ext" -out "$work/server.pem" 2>/dev/null

. benchmarks/start_nginx.sh
mkdir -p "$work/www/v1/chat"
openai_stream 64 >"$work/www/v1/chat/completions"
LISTEN_FLAGS="ssl http2" start_nginx "$work" $((streams * 2 + 100)) \
  "log_format conn '\$connection \$server_protocol'; access_log $work/access.log conn;
  keepalive_requests $keepalive; http2_max_concurrent_streams 128;" \
  "ssl_certificate $work/server.pem; ssl_certificate_key $work/server.key; limit_rate $rate;"
pid=$nginx_pid
url="https://localhost:$nginx_port/v1"
run() {  # protocol concurrency requests
  "$bench" load --base-url "$url" --ca-file "$work/ca.pem" --http "$1" --concurrency "$2" --requests "$3" \
    --model bench ${LOAD_ARGS:-}
}
for proto in $protocols; do
  one=$(run "$proto" 1 1) || { keep_log; exit 1; }
  baseline=$(sed -E 's/.*"peak_rss_mb":([0-9.]+).*/\1/' <<<"$one")
  : >"$work/access.log"
  out=$(run "$proto" "$streams" "$requests") || { keep_log; exit 1; }
  connections=$(cut -d' ' -f1 "$work/access.log" | sort -u | wc -l)
  peak=$(sed -E 's/.*"peak_rss_mb":([0-9.]+).*/\1/' <<<"$out")
  per=$(awk -v p="$peak" -v b="$baseline" -v c="$connections" 'BEGIN { printf "%.1f", c ? (p - b) * 1024 / c : 0 }')
  per_stream=$(awk -v p="$peak" -v b="$baseline" -v n="$streams" 'BEGIN { printf "%.1f", (p - b) * 1024 / n }')
  streaming=$(sed -E 's/.*"all_streaming_rss_mb":(-?[0-9.]+).*/\1/' <<<"$out")
  per_streaming=$(awk -v p="$streaming" -v b="$baseline" -v c="$connections" 'BEGIN { printf "%.1f", ((c && p > 0) ? (p - b) * 1024 / c : -1) }')
  echo "{\"protocol\":\"$proto\",\"streams\":$streams,\"keepalive_requests\":$keepalive,\"connections\":$connections,\"rss_kb_per_connection\":$per,\"streaming_rss_kb_per_connection\":$per_streaming,\"rss_kb_per_stream\":$per_stream,${out#\{}"
done
