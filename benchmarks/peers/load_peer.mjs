// The openai Node SDK doing what `llmstream-bench load` does: N streamed requests, C in flight,
// one process, against the same server. Prints the same JSON fields.
// Usage: node load_peer.mjs --base-url URL --concurrency C --requests N [--model M]
import OpenAI from 'openai';

const args = process.argv.slice(2);
const opt = (name, fallback) => (args.includes(name) ? args[args.indexOf(name) + 1] : fallback);
const baseURL = opt('--base-url');
const concurrency = Number(opt('--concurrency', 64));
const requests = Number(opt('--requests', 1000));
const model = opt('--model', 'mock?tokens=64');

const client = new OpenAI({ baseURL, apiKey: 'bench-key', maxRetries: 0, timeout: 600_000 });
let started = 0, ok = 0, failed = 0, events = 0, contentBytes = 0;
const ttft = [];
let firstError;

async function worker() {
  while (started < requests) {
    ++started;
    const t0 = performance.now();
    let first = true;
    try {
      const stream = await client.chat.completions.create({ model, messages: [{ role: 'user', content: 'Say something.' }], stream: true });
      for await (const chunk of stream) {
        if (first) { ttft.push(performance.now() - t0); first = false; }
        ++events;
        const c = chunk.choices?.[0]?.delta?.content;
        if (c) contentBytes += Buffer.byteLength(c);
      }
      ++ok;
    } catch (e) {
      ++failed;
      firstError ??= String(e);
    }
  }
}

const cpu0 = process.cpuUsage();
const wall0 = performance.now();
await Promise.all(Array.from({ length: Math.min(concurrency, requests) }, worker));
const wall = (performance.now() - wall0) / 1000;
const cpu = process.cpuUsage(cpu0);
const cpuS = (cpu.user + cpu.system) / 1e6;
const pct = (p) => { const v = [...ttft].sort((a, b) => a - b); return v.length ? v[Math.min(v.length - 1, Math.round(p * (v.length - 1)))] : 0; };
if (firstError) console.error('first failure:', firstError);
console.log(JSON.stringify({
  requests_ok: ok, requests_failed: failed, events, content_bytes: contentBytes, wall_s: +wall.toFixed(3),
  cpu_s: +cpuS.toFixed(3), cpu_ns_per_event: events ? +(cpuS * 1e9 / events).toFixed(1) : 0,
  events_per_s: +(events / wall).toFixed(1), peak_rss_mb: +(process.resourceUsage().maxRSS / 1024).toFixed(1),
  ttft_ms_p50: +pct(0.5).toFixed(2), ttft_ms_p99: +pct(0.99).toFixed(2),
}));
