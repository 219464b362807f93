#!/usr/bin/env bash
# A fleet against one rate-limited provider: 4 processes (llmstream-bench load), each one client
# with 50 requests in flight, 600 requests in all, against llmstream-mock --rpm 3000 (a burst of one
# second; DashScope's throttle 429 without Retry-After past it). Default retries (2).
# Prints one JSON line per configuration:
#   {"config", "requests_ok", "requests_failed", "throttled" (429s met), "throttled_share" (429s /
#    requests), "attempts", "wall_s", "requests_per_minute", "share_of_limit",
#    "admission_wait_ms_p99" (the worst process's)}
# Configurations: no limits; local limits, each process told the whole limit; local limits
# divided by --expected-instances 4; adaptive (no limit given), local; and shared on Redis (a
# redis-server this script starts on a loopback port): the limit, and adaptive.
# Usage: benchmarks/fleet_limits.sh [build-dir=build]
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
bench=$build/benchmarks/llmstream-bench
mock=$build/llmstream-mock
[ -x "$bench" ] && [ -x "$mock" ] || { echo "build $bench and $mock first" >&2; exit 2; }
. benchmarks/start_mock.sh
limit=3000
processes=4
work=$(mktemp -d)
redis_pid=
trap 'stop_mock; [ -z "$redis_pid" ] || kill "$redis_pid" 2>/dev/null; rm -rf "$work"' EXIT
command -v redis-server >/dev/null || { echo "redis-server is needed (scripts/install-deps)" >&2; exit 2; }
redis_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
redis-server --port "$redis_port" --bind 127.0.0.1 --save "" --appendonly no --dir "$work" >"$work/redis.log" 2>&1 &
redis_pid=$!
for _ in $(seq 1 100); do redis-cli -p "$redis_port" ping >/dev/null 2>&1 && break; sleep 0.05; done
redis_url=redis://127.0.0.1:$redis_port

run() {  # name, bench flags...
  local name=$1
  shift
  start_mock "$mock" --rpm "$limit"
  local pids=()
  for p in $(seq 1 "$processes"); do
    "$bench" load --base-url "$mock_url" --model "mock?tokens=8" --concurrency 50 --requests $((600 / processes)) \
      --http 1.1 "$@" >"$work/$p.json" 2>"$work/$p.err" &
    pids+=($!)
  done
  for pid in "${pids[@]}"; do wait "$pid" || true; done
  stop_mock
  cat "$work"/[0-9]*.json | python3 -c '
import json, sys
name, limit = sys.argv[1], float(sys.argv[2])
rs = [json.loads(line) for line in sys.stdin if line.strip()]
ok = sum(r["requests_ok"] for r in rs)
failed = sum(r["requests_failed"] for r in rs)
throttled = sum(r["throttled"] for r in rs)
wall = max(r["wall_s"] for r in rs)
rpm = ok / wall * 60 if wall else 0
print(json.dumps({"config": name, "requests_ok": ok, "requests_failed": failed, "throttled": throttled,
                  "throttled_share": round(throttled / (ok + failed), 4), "attempts": sum(r["attempts"] for r in rs),
                  "wall_s": wall, "requests_per_minute": round(rpm), "share_of_limit": round(rpm / limit, 3),
                  "admission_wait_ms_p99": max(r["admission_wait_ms_p99"] for r in rs)}))
' "$name" "$limit"
}

run no_limits
run local_whole_limit_each --rpm "$limit"
run local_divided --rpm "$limit" --expected-instances "$processes"
run adaptive --adaptive
redis-cli -p "$redis_port" flushall >/dev/null
run redis_shared --rpm "$limit" --redis "$redis_url" --limit-key fleet
redis-cli -p "$redis_port" flushall >/dev/null
run redis_adaptive --adaptive --redis "$redis_url" --limit-key fleet
