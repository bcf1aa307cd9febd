/**
 * kdkit/browser in Debian's Chromium: the bundle distils the digits student from a teacher's
 * logits on the wasm, webgl and webgpu backends (WebGL and WebGPU on SwiftShader here: the CPU
 * stands in for a GPU, so the device path of the losses and optimizers runs as on a real one) to
 * within 1 point of the same run in Node, and its ONNX export gives the page's logits under
 * onnxruntime-node.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { launchChromium, serveDirectories } from './browser_page.test.util.js';
import { digitsWithTeacher, distilInNode, distilInPages, type DigitsSetup } from './browser_distill.test.util.js';
import { allPixels } from './data/dataset.js';
import { loadDigits } from './data/digits.js';
import { accuracy } from './models/predict.js';
import { runOnnx } from './export/onnx_run.js';
import type { ModelSpec } from './config/schema.js';

const bundle = new URL('./browser/kdkit.mjs', import.meta.url);

// The demo's student and loss (MLP [128], 0.9 · kd at T = 4 + 0.1 · ce, batch 32, Adam 1e-3) over
// 20 epochs, not its 100: WebGL on SwiftShader takes about 30 ms a step. A smaller teacher than the
// demo's CNN, for the same reason; `node bench/browser-distill.js` runs the demo's whole setup.
const setup: DigitsSetup = {
  teacher: { model: { type: 'mlp', hidden: [256] } as ModelSpec, epochs: 20, batchSize: 64 },
  student: { model: { type: 'mlp', hidden: [128] } as ModelSpec, epochs: 20, batchSize: 32 },
  seed: 1,
};

test("the bundle is one ES module that imports nothing, not even from Node, and the package's kdkit/browser", () => {
  // The package resolves kdkit/browser to the bundle, its types to browser.d.ts.
  assert.equal(import.meta.resolve('kdkit/browser'), bundle.href);
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
  assert.ok(existsSync(new URL(`../${pkg.exports['./browser'].types}`, import.meta.url)));
  const text = readFileSync(bundle, 'utf8');
  assert.doesNotMatch(text, /\bimport\s*[^(]*?\bfrom\s*["']/);
  assert.doesNotMatch(text, /["']node:/);
  assert.match(text, /\bexport\s*\{/);
});

test('in Chromium, the bundle distils the digits student on wasm, webgl and webgpu to within 1 point of Node, and its ONNX export gives its logits', async () => {
  const data = await digitsWithTeacher(setup);
  assert.ok(data.teacherAccuracy > 0.9, `the teacher reaches ${data.teacherAccuracy}`);
  const node = await distilInNode(setup, data);
  const browser = await launchChromium();
  try {
    // This Chromium offers WebGPU on SwiftShader (--enable-unsafe-webgpu); tfjs' synchronous reads
    // fail there, so this also checks that training and validation read asynchronously.
    const pages = await distilInPages(browser, setup, data, ['wasm', 'webgl', 'webgpu']);
    assert.deepEqual(
      pages.map(({ where }) => where),
      ['wasm', 'webgl', 'webgpu'],
    );
    for (const page of pages) {
      const points = Math.abs(page.accuracy - node.accuracy) * 100;
      assert.ok(points <= 1, `${page.where}: ${(page.accuracy * 100).toFixed(2)} % vs Node's ${(node.accuracy * 100).toFixed(2)} %`);
      // The student learnt from the teacher, not by chance: digits scratch MLPs reach ~95 %.
      assert.ok(page.accuracy > 0.9, `${page.where}: ${page.accuracy}`);
      const logits = await runOnnx(page.onnx!, allPixels(data.test), [data.test.labels.length, 8, 8, 1]);
      let worst = 0;
      for (let i = 0; i < logits.length; i++) worst = Math.max(worst, Math.abs(logits[i] - page.testLogits[i]));
      assert.ok(worst <= 1e-4, `${page.where}: the ONNX export differs from the page's logits by ${worst}`);
    }
  } finally {
    await browser.close();
  }
});

test('initBrowserEngine names a backend it does not know, refuses wasmPaths once wasm has started, and says where it looked for wasm', async () => {
  const site = mkdtempSync(join(tmpdir(), 'kdkit-browser-'));
  writeFileSync(join(site, 'index.html'), '<!doctype html><title>blank</title>');
  const { origin, server } = await serveDirectories({ '/kdkit/': new URL('./browser/', import.meta.url).pathname, '/': site });
  const browser = await launchChromium();
  try {
    const page = await browser.newPage();
    await page.goto(`${origin}/`);
    const messages = await page.evaluate(async (url) => {
      const kd = await import(url);
      const attempt = (backend: string) =>
        kd.initBrowserEngine({ backend }).then(
          () => 'started',
          (error: Error) => `${error.name}: ${error.message}`,
        );
      const unknown = await attempt('tpu');
      const started = await attempt('wasm');
      const late = await kd.initBrowserEngine({ backend: 'wasm', wasmPaths: '/elsewhere/' }).then(
        () => 'started',
        (error: Error) => `${error.name}: ${error.message}`,
      );
      return [unknown, started, late];
    }, `${origin}/kdkit/kdkit.mjs`);
    assert.match(messages[0], /^InputError: initBrowserEngine\(\): backend: "tpu" is not one of webgpu, webgl, wasm, cpu/);
    assert.equal(messages[1], 'started');
    assert.match(
      messages[2],
      /^InputError: initBrowserEngine\(\): wasmPaths: the wasm backend was already started from http:\/\/127\.0\.0\.1:\d+\/kdkit\//,
    );
    // A fresh page, its .wasm files looked for where they are not: an InputError naming the place,
    // and again (not TensorFlow.js's own error) on a second try, which it cannot make.
    const fresh = await browser.newPage();
    await fresh.goto(`${origin}/`);
    const failures = await fresh.evaluate(async (url) => {
      const kd = await import(url);
      const attempt = (options: object) =>
        kd.initBrowserEngine(options).then(
          () => 'started',
          (error: Error) => `${error.name}: ${error.message}`,
        );
      return [await attempt({ backend: 'wasm', wasmPaths: '/elsewhere/' }), await attempt({ backend: 'wasm' })];
    }, `${origin}/kdkit/kdkit.mjs`);
    for (const failure of failures)
      assert.match(
        failure,
        /^InputError: initBrowserEngine\(\): backend: TensorFlow\.js could not start the wasm backend .*served at \/elsewhere\//,
      );
  } finally {
    await browser.close();
    server.close();
  }
});

test('examples/browser trains a teacher, distils a student and downloads an ONNX file that scores as the page says', async () => {
  const root = new URL('..', import.meta.url).pathname;
  const { origin, server } = await serveDirectories({ '/dist/': `${root}dist`, '/data/': `${root}data`, '/examples/': `${root}examples` });
  const browser = await launchChromium();
  try {
    const page = await browser.newPage({ acceptDownloads: true });
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));
    await page.goto(`${origin}/examples/browser/?backend=wasm&teacherEpochs=3&studentEpochs=8&baseline=1`);
    await page.click('#run');
    await page.waitForSelector('body[data-state]', { timeout: 300_000 });
    assert.equal(await page.getAttribute('body', 'data-state'), 'done', await page.textContent('#log').then(String));
    assert.deepEqual(errors, []);
    const rows = await page.$$eval('#results tbody tr', (trs) =>
      trs.map((tr) => [...tr.querySelectorAll('td')].map((cell) => cell.textContent ?? '')),
    );
    assert.deepEqual(
      rows.map((row) => row[0]),
      ['teacher (CNN)', 'scratch (MLP, labels only)', 'student (MLP, distilled)'],
    );
    const shown = Number.parseFloat(rows[2][2]);
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#download')]);
    assert.equal(download.suggestedFilename(), 'student.onnx');
    const onnx = new Uint8Array(readFileSync((await download.path())!));
    const test = loadDigits().test;
    const logits = await runOnnx(onnx, allPixels(test), [test.labels.length, 8, 8, 1]);
    const scored = accuracy(logits, test.labels) * 100;
    assert.ok(Math.abs(scored - shown) < 0.006, `the page shows ${shown} %, the downloaded ONNX file scores ${scored} %`);
  } finally {
    await browser.close();
    server.close();
  }
});

test("README's In the browser example runs as written in a page, kdkit/browser mapped to the bundle", async () => {
  const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
  const section = readme.slice(readme.indexOf('\n## In the browser\n'));
  const example = /```js\n([\s\S]*?)```/.exec(section)?.[1];
  assert.ok(example, "README has a js block under '## In the browser'");
  const site = mkdtempSync(join(tmpdir(), 'kdkit-browser-'));
  // The data the example names: 64 images, their labels and a teacher's logits, made once
  // TensorFlow.js has a backend (a page's own tensors come after tf.ready() too).
  const prelude = [
    "import { tf } from 'kdkit/browser';",
    'await tf.ready();',
    "const images = tf.randomUniform([64, 8, 8, 1], 0, 1, 'float32', 1);",
    "const labels = tf.tensor1d(Array.from({ length: 64 }, (_, i) => i % 10), 'int32');",
    "const teacherLogits = tf.randomNormal([64, 10], 0, 3, 'float32', 2);",
  ].join('\n');
  const after = 'window.done = { backend: engine.backend, onnxBytes: onnx.length };';
  writeFileSync(
    join(site, 'index.html'),
    `<!doctype html><script type="importmap">${JSON.stringify({ imports: { 'kdkit/browser': '/kdkit/kdkit.mjs' } })}</script>\n<script type="module">\n${prelude}\n${example}\n${after}\n</script>`,
  );
  const { origin, server } = await serveDirectories({ '/kdkit/': new URL('./browser/', import.meta.url).pathname, '/': site });
  const browser = await launchChromium();
  try {
    const page = await browser.newPage();
    const errors: string[] = [];
    const logged: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));
    page.on('console', (message) => logged.push(message.text()));
    await page.goto(`${origin}/`);
    await page.waitForFunction(() => 'done' in window, null, { timeout: 120_000 });
    const done = await page.evaluate(() => (window as unknown as { done: { backend: string; onnxBytes: number } }).done);
    assert.deepEqual(errors, []);
    // This Chromium has WebGPU (SwiftShader): the engine's first choice.
    assert.equal(done.backend, 'webgpu');
    assert.ok(done.onnxBytes > 1000, `${done.onnxBytes} bytes of ONNX`);
    const epochs = logged.filter((line) => /^\d+ \d/.test(line)).map((line) => Number(line.split(' ')[0]));
    assert.deepEqual(
      epochs,
      Array.from({ length: 20 }, (_, i) => i + 1),
      'one console line per epoch',
    );
  } finally {
    await browser.close();
    server.close();
  }
});
