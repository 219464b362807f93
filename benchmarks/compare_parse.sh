#!/usr/bin/env bash
# Measures `llmstream-bench parse` against its JavaScript peers on the same corpus in one run:
# eventsource-parser v4 + JSON.parse, and the official openai Node SDK's Stream decoding.
# Installs the peers from npm (benchmarks/peers), generates the corpus, prints one JSON line per
# (file, implementation) and a summary of per-event ratios.
# Usage: benchmarks/compare_parse.sh [build-dir=build] [repeat=30]
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
repeat=${2:-30}
bench=$build/benchmarks/llmstream-bench
[ -x "$bench" ] || { echo "build $bench first (cmake --build $build)" >&2; exit 2; }
command -v node >/dev/null || { echo "node and npm are needed for the peers (apt-get install nodejs npm)" >&2; exit 2; }

(cd benchmarks/peers && npm ci --no-audit --no-fund --silent >/dev/null 2>&1 || npm install --no-audit --no-fund --silent >/dev/null)
corpus=$build/bench-corpus
node benchmarks/corpus/generate.mjs "$corpus"

node --version | sed 's/^/# node /'
echo "# $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores"
for file in openai_chunks qwen_thinking_zh_crlf dashscope_native long_deltas; do
  dialect=openai; [ "$file" = dashscope_native ] && dialect=dashscope
  ours=$("$bench" parse "$corpus/$file.sse" --dialect "$dialect" --repeat "$repeat")
  peers=$(cd benchmarks/peers && node parse_peers.mjs "../../$corpus/$file.sse" --dialect "$dialect" --repeat "$repeat")
  node -e '
    const [file, ours, peersText] = process.argv.slice(1);
    const o = JSON.parse(ours);
    console.log(JSON.stringify({file, impl: "llmstream", ...o}));
    for (const line of peersText.trim().split("\n")) {
      const p = JSON.parse(line);
      const nsPerEvent = p.ns_per_pass / o.events;
      if (p.content_bytes !== o.content_bytes) console.log(`# WARNING: ${p.peer} saw ${p.content_bytes} content bytes, llmstream ${o.content_bytes}`);
      console.log(JSON.stringify({file, impl: p.peer, events: o.events, bytes: p.bytes, content_bytes: p.content_bytes,
        ns_per_event: +nsPerEvent.toFixed(1), mb_per_s: +p.mb_per_s.toFixed(1), llmstream_speedup: +(nsPerEvent / o.ns_per_event).toFixed(1)}));
    }' "$file" "$ours" "$peers"
done
