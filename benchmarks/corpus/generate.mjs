// Writes the benchmark corpus: recorded-style text/event-stream bodies, deterministic (one seeded
// generator for all files, so a new corpus goes at the end: the ones before it stay byte for byte).
// Usage: node benchmarks/corpus/generate.mjs OUT_DIR
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const out = process.argv[2];
if (!out) { console.error('usage: generate.mjs OUT_DIR'); process.exit(2); }
mkdirSync(out, { recursive: true });

let seed = 20261125;
const rand = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
const pick = (a) => a[Math.floor(rand() * a.length)];

const english = ['The', ' quick', ' brown', ' fox', ' jumps', ' over', ' the', ' lazy', ' dog', '.', ' In', ' C++', ',',
  ' coroutines', ' make', ' asynchronous', ' code', ' read', ' like', ' straight', '-line', ' code', '\n', ' "quoted"', ' tab\t'];
const chinese = ['你好', '，', '我是', '通义', '千问', '。', '这是', '一个', '关于', '异步', '编程', '的', '问题', '：', '首先', '，', '我们', '需要', '考虑', '并发', '\n'];
const created = 1732000000;
const alnum = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
// api.openai.com's `obfuscation` padding: random letters of random length.
const obfuscation = () => { let o = ''; const n = 1 + Math.floor(rand() * 14); while (o.length < n) o += pick([...alnum]); return o; };

function openaiChunk(id, model, delta, finish = null, extra = {}) {
  return JSON.stringify({ id, object: 'chat.completion.chunk', created, model, system_fingerprint: null,
    choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }], ...extra });
}

// 1. OpenAI-style chunks: role, ~3000 short content deltas, finish, usage chunk, [DONE].
{
  const id = 'chatcmpl-9f3c2a71b8e64d2c91a0', model = 'gpt-4o-mini-2024-07-18';
  let s = `data: ${openaiChunk(id, model, { role: 'assistant', content: '', refusal: null })}\n\n`;
  for (let i = 0; i < 3000; ++i) s += `data: ${openaiChunk(id, model, { content: pick(english) })}\n\n`;
  s += `data: ${openaiChunk(id, model, {}, 'stop')}\n\n`;
  s += `data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created, model, choices: [],
    usage: { prompt_tokens: 25, completion_tokens: 3000, total_tokens: 3025 } })}\n\n`;
  s += 'data: [DONE]\n\n';
  writeFileSync(join(out, 'openai_chunks.sse'), s);
}

// 2. Qwen thinking stream in Chinese via DashScope compatible mode, CRLF line ends, keep-alives.
{
  const id = 'chatcmpl-3b1e8f0c-5d8a-9c2b-a1e7-6f4d2c8b9a01', model = 'qwen3-235b-a22b';
  const crlf = (t) => t.replace(/\n/g, '\r\n');
  let s = crlf(`data: ${openaiChunk(id, model, { role: 'assistant', content: '', reasoning_content: '' })}\n\n`);
  for (let i = 0; i < 1500; ++i) {
    if (i % 200 === 0) s += ': keep-alive\r\n\r\n';
    s += crlf(`data: ${openaiChunk(id, model, { content: null, reasoning_content: pick(chinese) })}\n\n`);
  }
  for (let i = 0; i < 1500; ++i)
    s += crlf(`data: ${openaiChunk(id, model, { content: pick(chinese), reasoning_content: null })}\n\n`);
  s += crlf(`data: ${openaiChunk(id, model, { content: '', reasoning_content: null }, 'stop')}\n\n`);
  s += crlf(`data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created, model, choices: [],
    usage: { prompt_tokens: 31, completion_tokens: 3000, total_tokens: 3031,
      completion_tokens_details: { reasoning_tokens: 1500 } } })}\n\n`);
  s += 'data: [DONE]\r\n\r\n';
  writeFileSync(join(out, 'qwen_thinking_zh_crlf.sse'), s);
}

// 3. DashScope native frames (incremental_output: true).
{
  const rid = '5bfd1e5b-0b3a-9d2e-8c71-4f6a2b9e1d03';
  let s = '';
  for (let i = 1; i <= 3000; ++i) {
    const last = i === 3000;
    const text = last ? '' : pick(i % 2 ? chinese : english);
    s += `id:${i}\nevent:result\n:HTTP_STATUS/200\ndata:${JSON.stringify({
      output: { choices: [{ message: { content: text, role: 'assistant' }, finish_reason: last ? 'stop' : 'null' }] },
      usage: { total_tokens: 29 + i, output_tokens: i, input_tokens: 29 }, request_id: rid })}\n\n`;
  }
  writeFileSync(join(out, 'dashscope_native.sse'), s);
}

// 4. Long deltas: ~4 KiB of code per chunk, with JSON escapes.
{
  const id = 'chatcmpl-long', model = 'deepseek-chat';
  let s = '';
  for (let i = 0; i < 300; ++i) {
    let text = '';
    while (text.length < 4000) text += `for (int i = 0; i < n; ++i) {\n\tsum += "值\\" + v[i];\n}\n`;
    s += `data: ${openaiChunk(id, model, { content: text })}\n\n`;
  }
  s += `data: ${openaiChunk(id, model, {}, 'stop')}\n\ndata: [DONE]\n\n`;
  writeFileSync(join(out, 'long_deltas.sse'), s);
}

// 5. Anthropic Messages (Claude with extended thinking), `event:` lines as Anthropic sends them:
// message_start, a thinking block (thinking_delta, then signature_delta), a text block of short
// text_delta events (English with escapes, some Chinese), pings, message_delta, message_stop.
{
  const id = 'msg_01XFDUDYJgAACzvnptvVoYEL', model = 'claude-sonnet-4-5-20250929';
  const ev = (type, data) => `event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`;
  const ping = 'event: ping\ndata: {"type": "ping"}\n\n';  // with the space, as Anthropic sends it
  const base64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
  let signature = '';
  while (signature.length < 344) signature += pick([...base64]);
  let s = ev('message_start', { message: { id, type: 'message', role: 'assistant', model, content: [], stop_reason: null,
    stop_sequence: null, usage: { input_tokens: 472, cache_creation_input_tokens: 0, cache_read_input_tokens: 0,
      cache_creation: { ephemeral_5m_input_tokens: 0, ephemeral_1h_input_tokens: 0 }, output_tokens: 1, service_tier: 'standard' } } });
  s += ev('content_block_start', { index: 0, content_block: { type: 'thinking', thinking: '', signature: '' } });
  s += ping;
  for (let i = 0; i < 1000; ++i) {
    if (i % 200 === 199) s += ping;
    s += ev('content_block_delta', { index: 0, delta: { type: 'thinking_delta', thinking: pick(english) } });
  }
  s += ev('content_block_delta', { index: 0, delta: { type: 'signature_delta', signature } });
  s += ev('content_block_stop', { index: 0 });
  s += ev('content_block_start', { index: 1, content_block: { type: 'text', text: '' } });
  for (let i = 0; i < 2000; ++i) {
    if (i % 200 === 199) s += ping;
    s += ev('content_block_delta', { index: 1, delta: { type: 'text_delta', text: pick(i % 4 === 3 ? chinese : english) } });
  }
  s += ev('content_block_stop', { index: 1 });
  s += ev('message_delta', { delta: { stop_reason: 'end_turn', stop_sequence: null },
    usage: { input_tokens: 472, cache_creation_input_tokens: 0, cache_read_input_tokens: 0, output_tokens: 3001 } });
  s += ev('message_stop', {});
  writeFileSync(join(out, 'anthropic_messages.sse'), s);
}

// 6. OpenAI Responses: response.created/in_progress, output_item.added, content_part.added,
// ~3000 short response.output_text.delta events (with item_id, output_index, content_index,
// sequence_number, logprobs and obfuscation, as api.openai.com sends them), then the .done events
// that repeat the whole text, and response.completed with usage.
{
  const rid = 'resp_68c1f2a9e0b48190a3d5c7e1f2b4a6c80d1e3f5a7b9c1d2e', mid = 'msg_68c1f2aa7c6c8190b6e2d4f6a8c0e2f40d1e3f5a7b9c1d2e';
  const model = 'gpt-4.1-2025-04-14';
  const response = (status, extra) => ({ id: rid, object: 'response', created_at: created, status, background: false, error: null,
    incomplete_details: null, instructions: null, max_output_tokens: null, max_tool_calls: null, model, output: [],
    parallel_tool_calls: true, previous_response_id: null, prompt_cache_key: null, reasoning: { effort: null, summary: null },
    safety_identifier: null, service_tier: 'auto', store: true, temperature: 1.0, text: { format: { type: 'text' }, verbosity: 'medium' },
    tool_choice: 'auto', tools: [], top_logprobs: 0, top_p: 1.0, truncation: 'disabled', usage: null, user: null, metadata: {}, ...extra });
  let seq = 0;
  const ev = (type, data) => `event: ${type}\ndata: ${JSON.stringify({ type, sequence_number: seq++, ...data })}\n\n`;
  let s = ev('response.created', { response: response('in_progress') });
  s += ev('response.in_progress', { response: response('in_progress') });
  s += ev('response.output_item.added', { output_index: 0, item: { id: mid, type: 'message', status: 'in_progress', content: [], role: 'assistant' } });
  s += ev('response.content_part.added', { item_id: mid, output_index: 0, content_index: 0,
    part: { type: 'output_text', annotations: [], logprobs: [], text: '' } });
  let text = '';
  for (let i = 0; i < 3000; ++i) {
    const delta = pick(i % 4 === 3 ? chinese : english);
    text += delta;
    s += ev('response.output_text.delta', { item_id: mid, output_index: 0, content_index: 0, delta, logprobs: [], obfuscation: obfuscation() });
  }
  const part = { type: 'output_text', annotations: [], logprobs: [], text };
  const item = { id: mid, type: 'message', status: 'completed', content: [part], role: 'assistant' };
  s += ev('response.output_text.done', { item_id: mid, output_index: 0, content_index: 0, text, logprobs: [] });
  s += ev('response.content_part.done', { item_id: mid, output_index: 0, content_index: 0, part });
  s += ev('response.output_item.done', { output_index: 0, item });
  s += ev('response.completed', { response: response('completed', { output: [item], usage: { input_tokens: 25,
    input_tokens_details: { cached_tokens: 0 }, output_tokens: 3000, output_tokens_details: { reasoning_tokens: 0 }, total_tokens: 3025 } }) });
  writeFileSync(join(out, 'openai_responses.sse'), s);
}

// 7. OpenAI chunks as api.openai.com sends them (2025-26) to a request with
// stream_options.include_usage: service_tier and system_fingerprint, "usage":null in every chunk,
// and the `obfuscation` padding (random letters of random length) as every chunk's last member.
{
  const id = 'chatcmpl-CJx2r9Qm3T8vYb1LkPz4wA7eHfG5s', model = 'gpt-4.1-mini-2025-04-14';
  const chunk = (delta, finish = null) => JSON.stringify({ id, object: 'chat.completion.chunk', created, model,
    service_tier: 'default', system_fingerprint: 'fp_6f2eabb9a5', choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
    usage: null, obfuscation: obfuscation() });
  let s = `data: ${chunk({ role: 'assistant', content: '', refusal: null })}\n\n`;
  for (let i = 0; i < 3000; ++i) s += `data: ${chunk({ content: pick(english) })}\n\n`;
  s += `data: ${chunk({}, 'stop')}\n\n`;
  s += `data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created, model, service_tier: 'default',
    system_fingerprint: 'fp_6f2eabb9a5', choices: [], usage: { prompt_tokens: 25, completion_tokens: 3000, total_tokens: 3025,
      prompt_tokens_details: { cached_tokens: 0, audio_tokens: 0 },
      completion_tokens_details: { reasoning_tokens: 0, audio_tokens: 0, accepted_prediction_tokens: 0, rejected_prediction_tokens: 0 } },
    obfuscation: obfuscation() })}\n\n`;
  s += 'data: [DONE]\n\n';
  writeFileSync(join(out, 'openai_obfuscated.sse'), s);
}
