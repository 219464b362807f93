// The gateway's page in a real browser: Debian's Chromium, headless, driven by playwright-core.
// Starts llmstream-mock and llmstream-gateway itself (loopback ports they choose), then:
//  1. types a prompt, clicks Send, waits until #answer holds the mock's whole reply, screenshots it;
//  2. clicks Stop mid-stream and checks that the upstream mock saw that reply abandoned;
//  3. an upstream 403 shows the CLI's two lines (class, then the hint).
// Usage: node gateway_browser.mjs --gateway PATH --mock PATH --out DIR
// Exits 77 (ctest: skipped) with a message when Chromium is not installed; 1 on any failure.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

const args = process.argv.slice(2);
const opt = (name) => args[args.indexOf(name) + 1];
const gatewayPath = opt('--gateway');
const mockPath = opt('--mock');
const outDir = opt('--out');
const chromiumPath = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find(existsSync);
if (!chromiumPath) {
  console.log('SKIPPED: Chromium is not installed here (Debian package chromium; scripts/install-deps installs it)');
  process.exit(77);
}
let chromium;
try {
  ({ chromium } = await import('playwright-core'));
} catch {
  console.error('playwright-core is missing: run `npm ci` in tests/browser (scripts/test does)');
  process.exit(1);
}

const children = [];
function start(path, argv) {
  return new Promise((resolve, reject) => {
    const child = spawn(path, argv, { stdio: ['ignore', 'pipe', 'inherit'] });
    children.push(child);
    let seen = '';
    const timer = setTimeout(() => reject(new Error(`${path} did not say where it listens: ${seen}`)), 10000);
    child.stdout.on('data', (chunk) => {
      seen += chunk;
      const m = /listening on (http:\/\/[^\s]+)/.exec(seen);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    child.on('exit', (code) => reject(new Error(`${path} exited with ${code}`)));
  });
}
const stop = () => children.forEach((c) => c.kill('SIGTERM'));
const expected = (n) => Array.from({ length: n }, (_, i) => (i ? ' ' : '') + 'tok' + i).join('');
const fail = (why) => {
  console.error('FAILED: ' + why);
  stop();
  process.exit(1);
};
const stats = async (mock) => (await fetch(mock + '/mock/stats')).json();

let browser;
try {
  const mock = await start(mockPath, ['--port', '0']);
  const gateway = await start(gatewayPath, ['--port', '0', '--base-url', mock + '/v1', '--api-key', 'browser-test-key']);
  browser = await chromium.launch({
    executablePath: chromiumPath,
    headless: true,
    timeout: 30000,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
           '--disable-component-update', '--disable-sync'],
  });
  const page = await browser.newPage();
  await page.goto(gateway + '/', { timeout: 15000 });

  // 1. The whole answer, token by token.
  await page.fill('#prompt', 'Who are you?');
  await page.fill('#model', 'mock?tokens=30&pace_ms=10');
  await page.click('#send');
  await page.waitForFunction((text) => document.querySelector('#answer').textContent === text, expected(30),
                             { timeout: 15000 });
  await page.waitForFunction(() => document.querySelector('#status').textContent.startsWith('done'), null, { timeout: 5000 });
  await page.screenshot({ path: join(outDir, 'gateway.png') });
  console.log('answer relayed whole: ' + (await page.textContent('#answer')).length + ' characters; screenshot ' +
              join(outDir, 'gateway.png'));

  // 2. Stop mid-stream: the upstream reply is abandoned.
  const before = (await stats(mock)).streams_reset;
  await page.fill('#model', 'mock?tokens=400&pace_ms=25');
  await page.click('#send');
  await page.waitForFunction(() => document.querySelector('#answer').textContent.includes('tok3'), null, { timeout: 10000 });
  await page.click('#stop');
  await page.waitForFunction(() => document.querySelector('#status').textContent === 'stopped', null, { timeout: 5000 });
  const shown = await page.textContent('#answer');
  if (shown.includes('tok399')) fail('the stream was not stopped');
  let after = before;
  for (let i = 0; i < 100 && after <= before; ++i) {
    await new Promise((r) => setTimeout(r, 50));
    after = (await stats(mock)).streams_reset;
  }
  if (after <= before) fail('the upstream mock did not see the stream closed after Stop');
  console.log(`stopped after ${shown.split(' ').length} tokens; the mock saw the reply abandoned`);

  // 3. An upstream failure, as the CLI prints it.
  await page.fill('#model', 'mock?status=403&code=Model.AccessDenied');
  await page.click('#send');
  await page.waitForFunction(() => document.querySelector('#error').textContent.includes('hint:'), null, { timeout: 10000 });
  const error = await page.textContent('#error');
  if (!error.startsWith('llmstream: permission_denied: HTTP 403') || error.includes('browser-test-key'))
    fail('unexpected error text: ' + error);
  console.log('error shown: ' + error.split('\n')[0]);
} catch (e) {
  fail(e.stack || String(e));
} finally {
  if (browser) await browser.close();
  stop();
}
console.log('PASSED');
