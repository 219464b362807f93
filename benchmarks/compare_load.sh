#!/usr/bin/env bash
# End-to-end streaming load, llmstream vs the official openai Node SDK, against the same local
# llmstream-mock in one run, plus the socket floor (`llmstream-bench floor`: plain epoll and recv,
# no parsing): what any client pays this kernel to receive the same streams. llmstream runs twice:
# with async_next (a completion per delta) and with async_next_batch (every ready delta per
# completion). Prints one JSON line per client run, the CPU-per-event ratios against the SDK, and
# each client's CPU per event over the floor's.
#
# ROUNDS=N (default 1) runs llmstream, llmstream --batch and the floor N times, in turn, and
# adds the median of the per-round ratios: the floor's own cost moves by 10-20% between minutes
# on a shared VM, so one round's ratio to it says little; a ratio within one round, and the
# median over rounds, say more. The SDK (4 s a run) runs once.
# Usage: [ROUNDS=N] benchmarks/compare_load.sh [build-dir=build] [concurrency=100] [requests=2000] [model=mock?tokens=64]
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
concurrency=${2:-100}
requests=${3:-2000}
model=${4:-mock?tokens=64}
rounds=${ROUNDS:-1}
[ -x "$build/llmstream-mock" ] && [ -x "$build/benchmarks/llmstream-bench" ] || { echo "build $build first" >&2; exit 2; }
command -v node >/dev/null || { echo "node and npm are needed for the peer" >&2; exit 2; }
(cd benchmarks/peers && npm ci --no-audit --no-fund --silent >/dev/null 2>&1 || npm install --no-audit --no-fund --silent >/dev/null)

. benchmarks/start_mock.sh
start_mock "$build/llmstream-mock"
url=$mock_url
args=(--base-url "$url" --concurrency "$concurrency" --requests "$requests" --model "$model")

runs=()  # one JSON object per round: {"ours":..., "batch":..., "floor":...}
for round in $(seq 1 "$rounds"); do
  # Each round starts with the next of the three, so that none always runs first or last.
  for k in 0 1 2; do
    case $(( (round - 1 + k) % 3 )) in
      0) ours=$("$build/benchmarks/llmstream-bench" load "${args[@]}") ;;
      1) batch=$("$build/benchmarks/llmstream-bench" load "${args[@]}" --batch) ;;
      2) floor=$("$build/benchmarks/llmstream-bench" floor "${args[@]}") ;;
    esac
  done
  echo "{\"client\":\"llmstream\",${ours#\{}"
  echo "{\"client\":\"llmstream-batch\",${batch#\{}"
  echo "{\"client\":\"socket-floor\",${floor#\{}"
  runs+=("{\"ours\":$ours,\"batch\":$batch,\"floor\":$floor}")
done
peer=$(cd benchmarks/peers && node load_peer.mjs "${args[@]}")
echo "{\"client\":\"openai-node\",${peer#\{}"
node -e '
const peer = JSON.parse(process.argv[1]);
const runs = process.argv.slice(2).map(JSON.parse);
const median = (xs) => { const s = [...xs].sort((a, b) => a - b), m = s.length >> 1;
                         return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2; };
const r2 = (x) => +x.toFixed(2), r1 = (x) => +x.toFixed(1);
const over = runs.map((r) => r.ours.cpu_ns_per_event / r.floor.cpu_ns_per_event);
const batchOver = runs.map((r) => r.batch.cpu_ns_per_event / r.floor.cpu_ns_per_event);
const last = runs[runs.length - 1];
const out = {
  cpu_per_event_ratio: r1(peer.cpu_ns_per_event / last.ours.cpu_ns_per_event),
  batch_cpu_per_event_ratio: r1(peer.cpu_ns_per_event / last.batch.cpu_ns_per_event),
  llmstream_over_floor: r2(over[over.length - 1]),
  batch_over_floor: r2(batchOver[batchOver.length - 1]),
  best_possible_ratio: r1(peer.cpu_ns_per_event / last.floor.cpu_ns_per_event),
};
if (runs.length > 1) {
  out.rounds = runs.length;
  out.llmstream_over_floor_each = over.map(r2);
  out.batch_over_floor_each = batchOver.map(r2);
  out.llmstream_over_floor_median = r2(median(over));
  out.batch_over_floor_median = r2(median(batchOver));
}
console.log(JSON.stringify(out));' "$peer" "${runs[@]}"
