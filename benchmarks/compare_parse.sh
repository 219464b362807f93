#!/usr/bin/env bash
# Measures `llmstream-bench parse` against its JavaScript peers on the same corpus in one run:
# eventsource-parser v4 + JSON.parse, and the official openai Node SDK's Stream decoding.
# Installs the peers from npm (benchmarks/peers), generates the corpus, then runs ROUNDS rounds;
# each round measures every implementation on every file (median of REPEAT passes). The machine
# this project runs on is shared: a neighbour's burst only ever adds time, so for each
# implementation and file the best round is kept, the same rule for every implementation.
# Prints one JSON line per (file, implementation) with the per-event ratio.
# Usage: benchmarks/compare_parse.sh [build-dir=build] [repeat=30] [rounds=3]
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
repeat=${2:-30}
rounds=${3:-3}
bench=$build/benchmarks/llmstream-bench
[ -x "$bench" ] || { echo "build $bench first (cmake --build $build)" >&2; exit 2; }
command -v node >/dev/null || { echo "node and npm are needed for the peers (apt-get install nodejs npm)" >&2; exit 2; }

(cd benchmarks/peers && npm ci --no-audit --no-fund --silent >/dev/null 2>&1 || npm install --no-audit --no-fund --silent >/dev/null)
corpus=$build/bench-corpus
node benchmarks/corpus/generate.mjs "$corpus"

node --version | sed 's/^/# node /'
echo "# $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores, best of $rounds rounds"
results=$(mktemp)
trap 'rm -f "$results"' EXIT
for round in $(seq 1 "$rounds"); do
  for file in openai_chunks qwen_thinking_zh_crlf dashscope_native long_deltas; do
    dialect=openai; [ "$file" = dashscope_native ] && dialect=dashscope
    ours=$("$bench" parse "$corpus/$file.sse" --dialect "$dialect" --repeat "$repeat")
    echo "{\"file\":\"$file\",\"impl\":\"llmstream\",${ours#\{}" >>"$results"
    (cd benchmarks/peers && node parse_peers.mjs "../../$corpus/$file.sse" --dialect "$dialect" --repeat "$repeat") |
      sed "s/^{/{\"file\":\"$file\",/" >>"$results"
  done
done
node -e '
  const lines = require("fs").readFileSync(process.argv[1], "utf8").trim().split("\n").map(JSON.parse);
  const best = new Map();
  for (const l of lines) {
    const impl = l.impl ?? l.peer;
    const events = l.events;
    const ns = l.ns_per_event ?? l.ns_per_pass / events;
    const key = l.file + "\t" + impl;
    if (!best.has(key) || ns < best.get(key).ns) best.set(key, {...l, impl, ns});
  }
  for (const file of [...new Set(lines.map(l => l.file))]) {
    const ours = best.get(file + "\tllmstream");
    console.log(JSON.stringify({file, impl: "llmstream", events: ours.events, bytes: ours.bytes, content_bytes: ours.content_bytes,
      ns_per_event: +ours.ns.toFixed(1), mb_per_s: +(ours.bytes / ours.ns / ours.events * 1e3).toFixed(1)}));
    for (const [key, p] of best) {
      if (!key.startsWith(file + "\t") || p.impl === "llmstream") continue;
      if (p.content_bytes !== ours.content_bytes) console.log(`# WARNING: ${p.impl} saw ${p.content_bytes} content bytes, llmstream ${ours.content_bytes}`);
      console.log(JSON.stringify({file, impl: p.impl, events: ours.events, bytes: p.bytes, content_bytes: p.content_bytes,
        ns_per_event: +p.ns.toFixed(1), mb_per_s: +(p.bytes / p.ns / ours.events * 1e3).toFixed(1),
        llmstream_speedup: +(p.ns / ours.ns).toFixed(1)}));
    }
  }' "$results"
