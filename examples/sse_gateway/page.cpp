// The page served at /: no build step, no CDN. It reads /v1/stream with fetch (so that Stop can
// abort it) and parses the event stream itself.
#include "gateway.hpp"

namespace gateway {

const char* page_html() {
    return R"html(<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>llmstream gateway</title>
<style>
  body { font-family: system-ui, sans-serif; max-width: 46rem; margin: 2rem auto; padding: 0 1rem; color: #222; }
  textarea, input { width: 100%; box-sizing: border-box; font: inherit; padding: .4rem; }
  button { font: inherit; padding: .3rem 1rem; margin: .5rem .5rem .5rem 0; }
  #answer { white-space: pre-wrap; border: 1px solid #ccc; min-height: 4rem; padding: .6rem; }
  #reasoning { white-space: pre-wrap; color: #777; font-size: .9em; margin-bottom: .5rem; }
  #error { white-space: pre-wrap; color: #a00; font-family: monospace; }
  #status { color: #777; font-size: .9em; }
</style>
</head>
<body>
<h1>llmstream gateway</h1>
<label>Prompt <textarea id="prompt" rows="3">Who are you?</textarea></label>
<label>Model (optional) <input id="model" placeholder="the gateway's default"></label>
<button id="send">Send</button><button id="stop" disabled>Stop</button>
<div id="reasoning"></div>
<div id="answer"></div>
<div id="error"></div>
<div id="status"></div>
<script>
const $ = (id) => document.getElementById(id);
let controller = null;

function onEvent(type, data) {
  const value = JSON.parse(data);
  if (type === 'delta') {
    if (value.reasoning) $('reasoning').textContent += value.reasoning;
    if (value.content) $('answer').textContent += value.content;
  } else if (type === 'error') {
    $('error').textContent = value.line + '\n' + value.hint_line;
  } else if (type === 'done') {
    const u = value.usage ? `, ${value.usage.output_tokens} tokens` : '';
    $('status').textContent = `done: ${value.finish}, first token after ${value.ttft_ms} ms, ${value.duration_ms} ms in all${u}`;
  }
}

async function send() {
  for (const id of ['answer', 'reasoning', 'error', 'status']) $(id).textContent = '';
  controller = new AbortController();
  $('send').disabled = true;
  $('stop').disabled = false;
  const params = new URLSearchParams({ prompt: $('prompt').value });
  if ($('model').value) params.set('model', $('model').value);
  try {
    const response = await fetch('/v1/stream?' + params, { signal: controller.signal });
    if (!response.ok) {
      $('error').textContent = `HTTP ${response.status}: ` + await response.text();
      return;
    }
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += value;
      let end;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        let type = 'message', data = '';
        for (const line of block.split('\n')) {
          if (line.startsWith('event: ')) type = line.slice(7);
          else if (line.startsWith('data: ')) data += line.slice(6);
        }
        if (data) onEvent(type, data);
      }
    }
  } catch (e) {
    if (e.name === 'AbortError') $('status').textContent = 'stopped';
    else $('error').textContent = String(e);
  } finally {
    $('send').disabled = false;
    $('stop').disabled = true;
    controller = null;
  }
}

$('send').addEventListener('click', send);
$('stop').addEventListener('click', () => controller && controller.abort());
</script>
</body>
</html>
)html";
}

}  // namespace gateway
