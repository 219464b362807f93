// Peers of `llmstream-bench parse`, measured on the same file the same way: the body is fed in
// 4 KiB pieces, each pass decodes every event's JSON, and one JSON object is printed per peer.
// Usage: node parse_peers.mjs FILE --dialect openai|dashscope --repeat N
import { readFileSync } from 'node:fs';
import { createParser } from 'eventsource-parser';
import { Stream } from 'openai/streaming';

const args = process.argv.slice(2);
const file = args[0];
const dialect = args.includes('--dialect') ? args[args.indexOf('--dialect') + 1] : 'openai';
const repeat = args.includes('--repeat') ? Number(args[args.indexOf('--repeat') + 1]) : 20;
const body = readFileSync(file);
const pieces = [];
for (let off = 0; off < body.length; off += 4096) pieces.push(new Uint8Array(body.subarray(off, off + 4096)));

const contentOf = (j) => dialect === 'openai' ? j?.choices?.[0]?.delta?.content : j?.output?.choices?.[0]?.message?.content;

function eventsourceParserPass() {
  let events = 0, content = 0;
  const decoder = new TextDecoder();
  const parser = createParser({
    onEvent(e) {
      ++events;
      if (e.data === '[DONE]') return;
      const c = contentOf(JSON.parse(e.data));
      if (c) content += Buffer.byteLength(c);
    },
  });
  for (const p of pieces) parser.feed(decoder.decode(p, { stream: true }));
  return { events, content };
}

async function openaiSdkPass() {
  let items = 0, content = 0;
  const response = new Response(new ReadableStream({
    start(controller) { for (const p of pieces) controller.enqueue(p); controller.close(); },
  }), { headers: { 'content-type': 'text/event-stream' } });
  for await (const j of Stream.fromSSEResponse(response, new AbortController())) {
    ++items;
    const c = contentOf(j);
    if (c) content += Buffer.byteLength(c);
  }
  return { events: items, content };
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
  return { peer: name, events: last.events, bytes: body.length, content_bytes: last.content,
           ns_per_pass: median, mb_per_s: body.length / (median / 1e9) / 1e6 };
}

const results = [await measure('eventsource-parser+JSON.parse', eventsourceParserPass),
                 await measure('openai-node Stream', openaiSdkPass)];
for (const r of results) console.log(JSON.stringify(r));
