// Peers of `llmstream-bench parse`, measured on the same file the same way: the body is fed in
// 4 KiB pieces, each pass decodes every event's JSON, and one JSON object is printed per peer.
// Each dialect has eventsource-parser v4 + JSON.parse, and the official Node SDK of its provider
// (its own SSE decoding, the Stream class its streaming calls return): the openai SDK for chat
// completions, DashScope (compatible JSON shapes, read the same way) and Responses events, the
// @anthropic-ai/sdk for Anthropic Messages events.
// content_bytes counts the answer text (what llmstream hands out as delta.content) and
// reasoning_bytes the thinking text (delta.reasoning_content), in UTF-8 bytes.
// Usage: node parse_peers.mjs FILE --dialect openai|dashscope|anthropic|responses --repeat N
import { readFileSync } from 'node:fs';
import { createParser } from 'eventsource-parser';
import { Stream as OpenAIStream } from 'openai/streaming';
import { Stream as AnthropicStream } from '@anthropic-ai/sdk/core/streaming';

const args = process.argv.slice(2);
const file = args[0];
const dialect = args.includes('--dialect') ? args[args.indexOf('--dialect') + 1] : 'openai';
const repeat = args.includes('--repeat') ? Number(args[args.indexOf('--repeat') + 1]) : 20;
const body = readFileSync(file);
const pieces = [];
for (let off = 0; off < body.length; off += 4096) pieces.push(new Uint8Array(body.subarray(off, off + 4096)));

// The answer and thinking text of one decoded event, per dialect (undefined when it has none).
const readers = {
  openai: { content: (j) => j?.choices?.[0]?.delta?.content, reasoning: (j) => j?.choices?.[0]?.delta?.reasoning_content },
  dashscope: { content: (j) => j?.output?.choices?.[0]?.message?.content,
               reasoning: (j) => j?.output?.choices?.[0]?.message?.reasoning_content },
  // content_block_delta: {"delta":{"type":"text_delta","text"}} or {"type":"thinking_delta","thinking"}
  anthropic: { content: (j) => j?.delta?.text, reasoning: (j) => j?.delta?.thinking },
  responses: { content: (j) => j?.type === 'response.output_text.delta' ? j.delta : undefined,
               reasoning: (j) => j?.type === 'response.reasoning_summary_text.delta' || j?.type === 'response.reasoning_text.delta'
                 ? j.delta : undefined },
};
const reader = readers[dialect];
if (!reader) { console.error(`--dialect must be one of ${Object.keys(readers).join(', ')}`); process.exit(2); }
const { content: contentOf, reasoning: reasoningOf } = reader;
const SdkStream = dialect === 'anthropic' ? AnthropicStream : OpenAIStream;
const sdkName = dialect === 'anthropic' ? '@anthropic-ai/sdk Stream' : 'openai-node Stream';

function eventsourceParserPass() {
  let events = 0, content = 0, reasoning = 0;
  const decoder = new TextDecoder();
  const parser = createParser({
    onEvent(e) {
      ++events;
      if (e.data === '[DONE]') return;
      const j = JSON.parse(e.data);
      const c = contentOf(j), r = reasoningOf(j);
      if (c) content += Buffer.byteLength(c);
      if (r) reasoning += Buffer.byteLength(r);
    },
  });
  for (const p of pieces) parser.feed(decoder.decode(p, { stream: true }));
  return { events, content, reasoning };
}

// The SDK's Stream over a Response whose body yields the file's pieces, as its streaming calls
// build one over the fetch response.
async function sdkPass() {
  let items = 0, content = 0, reasoning = 0;
  const response = new Response(new ReadableStream({
    start(controller) { for (const p of pieces) controller.enqueue(p); controller.close(); },
  }), { headers: { 'content-type': 'text/event-stream' } });
  for await (const j of SdkStream.fromSSEResponse(response, new AbortController())) {
    ++items;
    const c = contentOf(j), r = reasoningOf(j);
    if (c) content += Buffer.byteLength(c);
    if (r) reasoning += Buffer.byteLength(r);
  }
  return { events: items, content, reasoning };
}

async function measure(name, pass) {
  for (let i = 0; i < 3; ++i) await pass();  // warm up the JIT
  const times = [];
  let last;
  for (let i = 0; i < repeat; ++i) {
    const t0 = process.hrtime.bigint();
    last = await pass();
    times.push(Number(process.hrtime.bigint() - t0));
  }
  times.sort((a, b) => a - b);
  const median = times[Math.floor(times.length / 2)];
  return { peer: name, events: last.events, bytes: body.length, content_bytes: last.content, reasoning_bytes: last.reasoning,
           ns_per_pass: median, mb_per_s: body.length / (median / 1e9) / 1e6 };
}

const results = [await measure('eventsource-parser+JSON.parse', eventsourceParserPass),
                 await measure(sdkName, sdkPass)];
for (const r of results) console.log(JSON.stringify(r));
