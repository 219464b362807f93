#!/usr/bin/env bash
# Measures `llmstream-bench parse` (SSE framing + the dialect's decoder) on recorded-style streams
# of all four dialects, side by side in one run with:
#   simdjson-ondemand    the C++ anchor: the same SSE framing, each event decoded by simdjson
#                        On-Demand into the same delta fields (`llmstream-bench-simdjson parse --decoder
#                        simdjson`: built for this machine, so that On-Demand runs its best kernels;
#                        without that binary, the portable llmstream-bench's fallback kernels);
#   eventsource-parser   eventsource-parser v4 + JSON.parse (JavaScript);
#   the provider's SDK   the Stream decoding of the official Node SDK: openai-node for chat completions,
#                        DashScope and Responses events, @anthropic-ai/sdk for Anthropic Messages events.
# Corpora (benchmarks/corpus/generate.mjs): openai_chunks, openai_obfuscated (as api.openai.com sends
# chunks: with obfuscation padding), qwen_thinking_zh_crlf, dashscope_native,
# anthropic_messages, openai_responses (~3000 short events each) and long_deltas (300 events of ~4 KiB).
# Installs the peers from npm (benchmarks/peers), generates the corpus, then runs ROUNDS rounds;
# each round measures every implementation on every file (median of REPEAT passes). The machine
# this project runs on is shared: a neighbour's burst only ever adds time, so for each
# implementation and file the best round is kept, the same rule for every implementation.
# Every implementation's time per pass is divided by the same count, the file's SSE events.
# Prints one JSON line per (file, implementation); llmstream_speedup is that implementation's time
# over llmstream's. A warning line flags an implementation that saw other text than llmstream
# (content_bytes: the answer, reasoning_bytes: the thinking).
# Usage: benchmarks/compare_parse.sh [build-dir=build] [repeat=30] [rounds=3]
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
repeat=${2:-30}
rounds=${3:-3}
bench=$build/benchmarks/llmstream-bench
[ -x "$bench" ] || { echo "build $bench first (cmake --build $build)" >&2; exit 2; }
anchor_bench=$build/benchmarks/llmstream-bench-simdjson
[ -x "$anchor_bench" ] || anchor_bench=$bench
command -v node >/dev/null || { echo "node and npm are needed for the peers (apt-get install nodejs npm)" >&2; exit 2; }

(cd benchmarks/peers && npm ci --no-audit --no-fund --silent >/dev/null 2>&1 || npm install --no-audit --no-fund --silent >/dev/null)
corpus=$(realpath -m "$build/bench-corpus")  # absolute: the peers run in benchmarks/peers
node benchmarks/corpus/generate.mjs "$corpus"

dialect_of() {  # corpus file -> --dialect
  case $1 in
    dashscope_native) echo dashscope ;;
    anthropic_messages) echo anthropic ;;
    openai_responses) echo responses ;;
    *) echo openai ;;
  esac
}

node --version | sed 's/^/# node /'
echo "# $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores, best of $rounds rounds"
results=$(mktemp)
trap 'rm -f "$results"' EXIT
for round in $(seq 1 "$rounds"); do
  for file in openai_chunks openai_obfuscated qwen_thinking_zh_crlf dashscope_native anthropic_messages openai_responses long_deltas; do
    dialect=$(dialect_of "$file")
    ours=$("$bench" parse "$corpus/$file.sse" --dialect "$dialect" --repeat "$repeat")
    echo "{\"file\":\"$file\",\"impl\":\"llmstream\",${ours#\{}" >>"$results"
    anchor=$("$anchor_bench" parse "$corpus/$file.sse" --dialect "$dialect" --decoder simdjson --repeat "$repeat")
    echo "{\"file\":\"$file\",\"impl\":\"simdjson-ondemand\",${anchor#\{}" >>"$results"
    (cd benchmarks/peers && node parse_peers.mjs "$corpus/$file.sse" --dialect "$dialect" --repeat "$repeat") |
      sed "s/^{/{\"file\":\"$file\",/" >>"$results"
  done
done
node -e '
  const lines = require("fs").readFileSync(process.argv[1], "utf8").trim().split("\n").map(JSON.parse);
  // Time per pass: llmstream-bench prints it per event (of its own count), the peers per pass.
  const best = new Map();
  for (const l of lines) {
    const impl = l.impl ?? l.peer;
    const pass_ns = l.ns_per_pass ?? l.ns_per_event * l.events;
    const key = l.file + "\t" + impl;
    if (!best.has(key) || pass_ns < best.get(key).pass_ns) best.set(key, {...l, impl, pass_ns});
  }
  const kernels = lines.find(l => l.simdjson_kernels)?.simdjson_kernels;
  if (kernels) console.log(`# simdjson ${kernels} (stage 1 chosen at run time, On-Demand at compile time)`);
  for (const file of [...new Set(lines.map(l => l.file))]) {
    const ours = best.get(file + "\tllmstream");
    const row = (p) => ({file, impl: p.impl, events: ours.events, bytes: p.bytes, content_bytes: p.content_bytes,
      reasoning_bytes: p.reasoning_bytes, ns_per_event: +(p.pass_ns / ours.events).toFixed(1),
      mb_per_s: +(p.bytes / p.pass_ns * 1e3).toFixed(1)});
    console.log(JSON.stringify(row(ours)));
    for (const [key, p] of best) {
      if (!key.startsWith(file + "\t") || p.impl === "llmstream") continue;
      for (const field of ["content_bytes", "reasoning_bytes"])
        if (p[field] !== ours[field]) console.log(`# WARNING: ${file}: ${p.impl} saw ${p[field]} ${field}, llmstream ${ours[field]}`);
      console.log(JSON.stringify({...row(p), llmstream_speedup: +(p.pass_ns / ours.pass_ns).toFixed(1)}));
    }
  }' "$results"
