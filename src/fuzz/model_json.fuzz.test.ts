// Fuzzes loading a TensorFlow.js layers model (model.json + weights.bin): hostile values anywhere
// in model.json, damaged model.json text, and weight files of the wrong size. See
// mutate.test.util.ts for the contract.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { initEngine } from '../engine/index.js';
import * as tf from '../engine/tf.js';
import { InputError } from '../errors.js';
import { buildModel } from '../models/build.js';
import { loadModelDir, serializeModel } from '../models/io.js';
import {
  applyByteMutations,
  applyValueMutations,
  byteMutations,
  expectParsedOrInputError,
  fuzzOptions,
  valueMutations,
} from './mutate.test.util.js';

await initEngine({ backend: 'wasm' });

const shape = { inputShape: [4, 4, 1] as const, numClasses: 3, seed: 1, name: 'fuzz' };
const models = [
  buildModel({ type: 'mlp', hidden: [8], dropout: 0, activation: 'relu' }, shape),
  buildModel({ type: 'cnn', filters: [2], kernelSize: 3, dense: [4], dropout: 0, batchNorm: true }, shape),
];
const seeds = await Promise.all(models.map((model) => serializeModel(model)));
for (const model of models) model.dispose();
const directory = mkdtempSync(join(tmpdir(), 'kdkit-fuzz-model-'));
const modelJsonPath = join(directory, 'model.json');

/** Loads the files as written; a loaded model is disposed. */
async function load(modelJson: Uint8Array | string, weights: Uint8Array): Promise<void> {
  writeFileSync(modelJsonPath, modelJson);
  writeFileSync(join(directory, 'weights.bin'), weights);
  const model = await expectParsedOrInputError(modelJsonPath, weights.length, () => loadModelDir(directory));
  model?.dispose();
}

test('loadModelDir: hostile values anywhere in model.json are InputErrors naming it', async (t) => {
  let inputs = 0;
  const parsed = seeds.map((seed) => JSON.parse(seed.modelJson) as unknown);
  await fc.assert(
    fc.asyncProperty(fc.nat(), valueMutations, async (seedIndex, mutations) => {
      inputs++;
      await load(JSON.stringify(applyValueMutations(parsed[seedIndex % seeds.length], mutations)), seeds[seedIndex % seeds.length].weights);
    }),
    fuzzOptions(10_000),
  );
  t.diagnostic(`loadModelDir (model.json values): ${inputs} inputs`);
  assert.ok(inputs >= 10_000);
});

test('loadModelDir: damaged model.json text and weight files of the wrong size are InputErrors', async (t) => {
  let inputs = 0;
  const texts = seeds.map((seed) => new TextEncoder().encode(seed.modelJson));
  await fc.assert(
    fc.asyncProperty(fc.nat(), byteMutations([], 256), fc.boolean(), async (seedIndex, mutations, damageWeights) => {
      inputs++;
      const seed = seeds[seedIndex % seeds.length];
      await load(
        damageWeights ? texts[seedIndex % seeds.length] : applyByteMutations(texts[seedIndex % seeds.length], mutations),
        damageWeights ? applyByteMutations(seed.weights, mutations) : seed.weights,
      );
    }),
    fuzzOptions(10_000),
  );
  t.diagnostic(`loadModelDir (bytes): ${inputs} inputs`);
  assert.ok(inputs >= 10_000);
});

test('weight paths that leave the model directory are refused before anything is read', async () => {
  const modelJson = JSON.parse(seeds[0].modelJson) as { weightsManifest: { paths: string[] }[] };
  for (const path of ['../weights.bin', '/etc/passwd', 'a/../../weights.bin']) {
    modelJson.weightsManifest[0].paths = [path];
    writeFileSync(modelJsonPath, JSON.stringify(modelJson));
    await assert.rejects(
      loadModelDir(directory),
      (error: unknown) => error instanceof InputError && error.message.includes('points outside the model directory'),
    );
  }
});

test('a weight spec claiming 2^31 × 2^31 values over a small weights file is refused before TensorFlow.js allocates', async () => {
  const modelJson = JSON.parse(seeds[0].modelJson) as { weightsManifest: { weights: { shape: number[] }[] }[] };
  modelJson.weightsManifest[0].weights[0].shape = [2 ** 31, 2 ** 31];
  writeFileSync(modelJsonPath, JSON.stringify(modelJson));
  writeFileSync(join(directory, 'weights.bin'), seeds[0].weights);
  await assert.rejects(
    loadModelDir(directory),
    (error: unknown) => error instanceof InputError && /weights\[0\]\.shape .* is too large|describe \d+ bytes/.test(error.message),
  );
});

test('a layer fed by a missing layer or a cycle is an InputError, not the endless loop tfjs-layers falls into', async () => {
  writeFileSync(join(directory, 'weights.bin'), seeds[0].weights);
  const cases: ((layers: { name: unknown; inbound_nodes: unknown[][][] }[]) => void)[] = [
    (layers) => (layers[2].inbound_nodes = [[['no_such_layer', 0, 0, {}]]]),
    (layers) => (layers[1].inbound_nodes = [[[layers[2].name, 0, 0, {}]]]),
    (layers) => (layers[2].name = ['not', 'a', 'name']),
  ];
  for (const change of cases) {
    const modelJson = JSON.parse(seeds[0].modelJson) as {
      modelTopology: { config: { layers: { name: unknown; inbound_nodes: unknown[][][] }[] } };
    };
    change(modelJson.modelTopology.config.layers);
    writeFileSync(modelJsonPath, JSON.stringify(modelJson));
    await assert.rejects(
      loadModelDir(directory),
      (error: unknown) => error instanceof InputError && error.message.includes('modelTopology cannot be connected'),
    );
  }
});

test('a topology claiming far larger layers than its weights is refused before TensorFlow.js allocates them, and a failed load leaves no tensor', async () => {
  writeFileSync(join(directory, 'weights.bin'), seeds[0].weights);
  const withUnits = (units: number) => {
    const modelJson = JSON.parse(seeds[0].modelJson) as {
      modelTopology: { config: { layers: { class_name: string; config: { units?: number } }[] } };
    };
    modelJson.modelTopology.config.layers.find((layer) => layer.class_name === 'Dense')!.config.units = units;
    writeFileSync(modelJsonPath, JSON.stringify(modelJson));
  };
  const tensors = tf.memory().numTensors;
  // 16 inputs × 10^7 units would be 640 MB of float32; the weights file holds a few hundred bytes.
  withUnits(10_000_000);
  const before = process.memoryUsage().arrayBuffers;
  await assert.rejects(
    loadModelDir(directory),
    (error: unknown) =>
      error instanceof InputError &&
      /layer 'dense_\w+' would create weight 'kernel' of shape \[16, 10000000\] \(160000000 values\), but the weights manifest's largest weight has 128 values/.test(
        error.message,
      ),
  );
  assert.ok(process.memoryUsage().arrayBuffers - before < 1024 * 1024);
  // A layer one unit short fits the budget and fails when its weights are set: nothing leaks either.
  withUnits(7);
  await assert.rejects(
    loadModelDir(directory),
    (error: unknown) => error instanceof InputError && /cannot build the model/.test(error.message),
  );
  assert.equal(tf.memory().numTensors, tensors);
});
