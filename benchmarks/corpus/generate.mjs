// Writes the benchmark corpus: recorded-style text/event-stream bodies, deterministic.
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
