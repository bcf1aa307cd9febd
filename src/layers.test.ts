// `kdkit/layers` (src/layers.ts): what a page imports to load a text student's model.json with
// stock TensorFlow.js. It must pull in nothing of Node's, and the layers it registers must give
// kdkit's own outputs when only stock TensorFlow.js and it are loaded.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, extname, join, resolve } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';
import { chromium } from 'playwright-core';
import { initEngine } from './engine/index.js';
import * as tf from './engine/tf.js';
import { buildModel } from './models/build.js';
import { saveModelDir } from './models/io.js';

const here = dirname(fileURLToPath(import.meta.url));

/** Every module specifier `file` and the kdkit modules it imports (transitively) import. */
function importGraph(file: string, seen = new Set<string>()): string[] {
  if (seen.has(file)) return [];
  seen.add(file);
  const source = readFileSync(file, 'utf8');
  const specifiers = [...source.matchAll(/(?:^|\n)\s*(?:import|export)[^'"]*?from\s*['"]([^'"]+)['"]/g)].map((match) => match[1]);
  return specifiers.flatMap((specifier) =>
    specifier.startsWith('.') ? [specifier, ...importGraph(resolve(dirname(file), specifier), seen)] : [specifier],
  );
}

test('kdkit/layers imports TensorFlow.js and nothing of Node', () => {
  const external = new Set(importGraph(join(here, 'layers.js')).filter((specifier) => !specifier.startsWith('.')));
  assert.deepEqual([...external].sort(), ['@tensorflow/tfjs-core', '@tensorflow/tfjs-layers']);
});

test("a text student's model.json loads with stock TensorFlow.js and kdkit/layers alone, and predicts as kdkit does", async () => {
  await initEngine({ backend: 'cpu' });
  const inputs = [
    { name: 'input_ids', dtype: 'int32' as const, shape: [6], vocabulary: 30 },
    { name: 'attention_mask', dtype: 'int32' as const, shape: [6], vocabulary: 2 },
  ];
  const model = buildModel(
    { type: 'transformer', layers: 1, hidden: 8, heads: 2, intermediate: 16, pooling: 'mean', dropout: 0.1 },
    { inputs, numClasses: 3, seed: 4, name: 'text' },
  );
  const directory = mkdtempSync(join(tmpdir(), 'kdkit-layers-'));
  await saveModelDir(model, directory);
  const ids = [2, 7, 9, 3, 0, 0, 2, 11, 3, 0, 0, 0];
  const mask = ids.map((id) => (id === 0 ? 0 : 1));
  const expected = tf.tidy(
    () => (model.predict([tf.tensor2d(ids, [2, 6], 'int32'), tf.tensor2d(mask, [2, 6], 'int32')]) as tf.Tensor).dataSync() as Float32Array,
  );
  model.dispose();
  // A process with stock TensorFlow.js (core, layers, the cpu backend) and kdkit/layers, as a page has.
  const script = `
    import * as tf from '@tensorflow/tfjs-core';
    import '@tensorflow/tfjs-backend-cpu';
    import { loadLayersModel } from '@tensorflow/tfjs-layers';
    import { readFileSync } from 'node:fs';
    import { registerTextLayers } from 'kdkit/layers';
    registerTextLayers();
    await tf.setBackend('cpu');
    const json = JSON.parse(readFileSync(${JSON.stringify(join(directory, 'model.json'))}, 'utf8'));
    const weights = json.weightsManifest.flatMap((group) => group.paths.map((path) => readFileSync(${JSON.stringify(directory)} + '/' + path)));
    const data = new Uint8Array(Buffer.concat(weights)).buffer;
    const model = await loadLayersModel(tf.io.fromMemory({ modelTopology: json.modelTopology, weightSpecs: json.weightsManifest.flatMap((group) => group.weights), weightData: data }));
    const logits = model.predict([tf.tensor2d(${JSON.stringify(ids)}, [2, 6], 'int32'), tf.tensor2d(${JSON.stringify(mask)}, [2, 6], 'int32')]);
    console.log(JSON.stringify(Array.from(logits.dataSync())));
  `;
  const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], { cwd: resolve(here, '..'), encoding: 'utf8' });
  assert.equal(child.status, 0, child.stderr);
  const logits = JSON.parse(child.stdout.trim()) as number[];
  assert.equal(logits.length, expected.length);
  for (let i = 0; i < logits.length; i++) assert.ok(Math.abs(logits[i] - expected[i]) < 1e-5, `logit ${i}: ${logits[i]} vs ${expected[i]}`);
});

test("in headless Chromium, a page bundled with stock TensorFlow.js and kdkit/layers loads a text student's model.json over HTTP and predicts as kdkit does", async () => {
  await initEngine({ backend: 'cpu' });
  const inputs = [
    { name: 'input_ids', dtype: 'int32' as const, shape: [6], vocabulary: 30 },
    { name: 'attention_mask', dtype: 'int32' as const, shape: [6], vocabulary: 2 },
    { name: 'token_type_ids', dtype: 'int32' as const, shape: [6], vocabulary: 2 },
  ];
  const model = buildModel(
    { type: 'transformer', layers: 2, hidden: 8, heads: 2, intermediate: 16, pooling: 'cls', dropout: 0.1 },
    { inputs, numClasses: 4, seed: 6, name: 'text' },
  );
  const site = mkdtempSync(join(tmpdir(), 'kdkit-layers-page-'));
  await saveModelDir(model, join(site, 'student'));
  const ids = [2, 7, 9, 3, 0, 0, 2, 11, 12, 13, 3, 0];
  const mask = ids.map((id) => (id === 0 ? 0 : 1));
  const types = ids.map(() => 0);
  const expected = tf.tidy(
    () =>
      (
        model.predict([
          tf.tensor2d(ids, [2, 6], 'int32'),
          tf.tensor2d(mask, [2, 6], 'int32'),
          tf.tensor2d(types, [2, 6], 'int32'),
        ]) as tf.Tensor
      ).dataSync() as Float32Array,
  );
  model.dispose();
  // The page a web developer writes, bundled as they would: stock TensorFlow.js and kdkit/layers,
  // resolved through this package's exports; platform 'browser' fails on any import of Node's.
  const entry = `
    import * as tf from '@tensorflow/tfjs-core';
    import '@tensorflow/tfjs-backend-cpu';
    import { loadLayersModel } from '@tensorflow/tfjs-layers';
    import { registerTextLayers } from 'kdkit/layers';
    registerTextLayers();
    window.predict = async (ids, mask, types) => {
      await tf.setBackend('cpu');
      const model = await loadLayersModel('/student/model.json');
      const feed = [ids, mask, types].map((values) => tf.tensor2d(values, [2, 6], 'int32'));
      return Array.from(await model.predict(feed).data());
    };
  `;
  await esbuild.build({
    stdin: { contents: entry, resolveDir: resolve(here, '..'), loader: 'js' },
    bundle: true,
    format: 'esm',
    platform: 'browser',
    outfile: join(site, 'page.js'),
    logLevel: 'silent',
  });
  writeFileSync(join(site, 'index.html'), '<!doctype html><script type="module" src="/page.js"></script>');
  const contentTypes = { '.html': 'text/html', '.js': 'text/javascript', '.json': 'application/json', '.bin': 'application/octet-stream' };
  const server = createServer((request, response) => {
    const path = join(site, decodeURIComponent(new URL(request.url ?? '/', 'http://x').pathname.replace(/^\/$/, '/index.html')));
    if (!path.startsWith(site) || !existsSync(path)) {
      response.writeHead(404).end();
      return;
    }
    response.writeHead(200, { 'content-type': contentTypes[extname(path) as keyof typeof contentTypes] ?? 'application/octet-stream' });
    response.end(readFileSync(path));
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const { port } = server.address() as AddressInfo;
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--headless', '--no-sandbox', '--disable-gpu'] });
  try {
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));
    await page.goto(`http://127.0.0.1:${port}/`);
    await page.waitForFunction(() => typeof (window as unknown as { predict?: unknown }).predict === 'function');
    const logits = await page.evaluate(
      ([i, m, t]) => (window as unknown as { predict: (...values: number[][]) => Promise<number[]> }).predict(i, m, t),
      [ids, mask, types],
    );
    assert.deepEqual(errors, []);
    assert.equal(logits.length, expected.length);
    for (let i = 0; i < logits.length; i++)
      assert.ok(Math.abs(logits[i] - expected[i]) < 1e-5, `logit ${i}: ${logits[i]} vs ${expected[i]}`);
  } finally {
    await browser.close();
    server.close();
  }
});
