// `kdkit/layers` (src/layers.ts): what a page imports to load a text student's model.json with
// stock TensorFlow.js. It must pull in nothing of Node's, and the layers it registers must give
// kdkit's own outputs when only stock TensorFlow.js and it are loaded.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
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
