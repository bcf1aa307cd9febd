// loadModelDir in concurrent tasks of one process: two loads and other tensor work interleaved
// give the models that loads one after the other give, and neither sees the other's check.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '../engine/tf.js';
import { initEngine } from '../engine/index.js';
import { InputError } from '../errors.js';
import type { ModelSpec } from '../config/schema.js';
import { buildModel } from './build.js';
import { loadModelDir, saveModelDir } from './io.js';

await initEngine({ backend: 'wasm' });

const shape = { inputShape: [4, 4, 1] as const, numClasses: 3, seed: 1, name: 'io' };
const mlpSpec: ModelSpec = { type: 'mlp', hidden: [8], dropout: 0, activation: 'relu' };
const cnnSpec: ModelSpec = { type: 'cnn', filters: [2], kernelSize: 3, dense: [4], dropout: 0, batchNorm: true };
/** Layer.prototype.addWeight as tfjs-layers defines it: loading must leave it so. */
const addWeightOf = () => (tf.layers.Layer.prototype as unknown as { addWeight: unknown }).addWeight;
const stockAddWeight = addWeightOf();

/**
 * Values a test writes into weight `index` of a model: multiples of 1/16 in [0.0625, 1], exact in
 * float32, different for every weight and model (`offset`). Positive, so batch-norm variances are too.
 */
function knownValues(offset: number, index: number, size: number): Float32Array {
  return Float32Array.from({ length: size }, (_, position) => (((offset + 7 * index + position) % 16) + 1) / 16);
}

/** A model of `spec` with knownValues(offset, …) as its weights, saved in a directory of its own. */
async function savedModel(spec: ModelSpec, offset: number): Promise<{ directory: string; weights: Float32Array[] }> {
  const model = buildModel(spec, shape);
  const shapes = model.getWeights().map((weight) => weight.shape);
  const weights = shapes.map((weightShape, index) =>
    knownValues(
      offset,
      index,
      weightShape.reduce((product, dim) => product * dim, 1),
    ),
  );
  const values = weights.map((written, index) => tf.tensor(written, shapes[index]));
  model.setWeights(values);
  const directory = join(mkdtempSync(join(tmpdir(), 'kdkit-io-concurrent-')), 'model');
  await saveModelDir(model, directory);
  tf.dispose(values);
  model.dispose();
  return { directory, weights };
}

/**
 * Tensor work of another task between the loads' steps: each round awaits, then keeps a tf.tidy
 * result across the next awaits, and builds a model larger than either loaded one (a dense
 * 16 → 64 kernel has 1024 values; the loaded models' largest weight has 128).
 * Returns the kept values, which must be 1, 2, … and not disposed by anyone else's scope.
 */
async function otherTensorWork(rounds: number): Promise<number[]> {
  const kept: tf.Tensor[] = [];
  for (let round = 0; round < rounds; round++) {
    await Promise.resolve();
    kept.push(tf.tidy(() => tf.add(tf.scalar(round), tf.scalar(1))));
    if (round % 4 === 0) buildModel({ type: 'mlp', hidden: [64], dropout: 0, activation: 'relu' }, { ...shape, name: 'other' }).dispose();
  }
  await new Promise((resolve) => setImmediate(resolve));
  const values = kept.map((tensor) => tensor.dataSync()[0]);
  tf.dispose(kept);
  return values;
}

function weightValues(model: tf.LayersModel): Float32Array[] {
  return model.weights.map((weight) => weight.read().dataSync() as Float32Array);
}

function predictions(model: tf.LayersModel): Float32Array {
  return tf.tidy(() => (model.predict(tf.reshape(tf.linspace(0, 1, 16), [1, 4, 4, 1])) as tf.Tensor).dataSync() as Float32Array);
}

const mlp = await savedModel(mlpSpec, 0);
const cnn = await savedModel(cnnSpec, 5);

test('two models loaded concurrently, among other tensor work, are the ones loaded one after the other, and leak nothing', async () => {
  const tensors = tf.memory().numTensors;
  const mlpAlone = await loadModelDir(mlp.directory);
  const cnnAlone = await loadModelDir(cnn.directory);
  const [mlpTogether, cnnTogether, otherValues] = await Promise.all([
    loadModelDir(mlp.directory),
    loadModelDir(cnn.directory),
    otherTensorWork(24),
  ]);

  assert.deepEqual(
    otherValues,
    Array.from({ length: 24 }, (_, round) => round + 1),
  );
  for (const [alone, together, written] of [
    [mlpAlone, mlpTogether, mlp.weights],
    [cnnAlone, cnnTogether, cnn.weights],
  ] as const) {
    assert.deepEqual(weightValues(alone), written);
    assert.deepEqual(weightValues(together), written);
    assert.deepEqual(
      together.weights.map((weight) => weight.originalName),
      alone.weights.map((weight) => weight.originalName),
    );
    assert.deepEqual(predictions(together), predictions(alone));
  }
  for (const model of [mlpAlone, cnnAlone, mlpTogether, cnnTogether]) model.dispose();
  assert.equal(tf.memory().numTensors, tensors);
  assert.equal(addWeightOf(), stockAddWeight);
});

test('a bad model loaded concurrently with a good one fails with its own InputError; the good one loads whole', async () => {
  // The MLP's topology with a hidden layer of 10^7 units, over the MLP's small weights file.
  const bad = mkdtempSync(join(tmpdir(), 'kdkit-io-bad-'));
  const modelJson = JSON.parse(readFileSync(join(mlp.directory, 'model.json'), 'utf8')) as {
    modelTopology: { config: { layers: { class_name: string; config: { units?: number } }[] } };
  };
  modelJson.modelTopology.config.layers.find((layer) => layer.class_name === 'Dense')!.config.units = 10_000_000;
  writeFileSync(join(bad, 'model.json'), JSON.stringify(modelJson));
  writeFileSync(join(bad, 'weights.bin'), readFileSync(join(mlp.directory, 'weights.bin')));

  const tensors = tf.memory().numTensors;
  const [badResult, good, otherValues] = await Promise.allSettled([loadModelDir(bad), loadModelDir(cnn.directory), otherTensorWork(24)]);
  assert.equal(badResult.status, 'rejected');
  const error = (badResult as PromiseRejectedResult).reason as Error;
  assert.ok(error instanceof InputError, String(error));
  // 16 inputs × 10^7 units; the MLP's largest weight is its 16 × 8 kernel, 128 values.
  assert.match(
    error.message,
    /^.*model\.json: layer 'dense_1' would create weight 'kernel' of shape \[16, 10000000\] \(160000000 values\), but the weights manifest's largest weight has 128 values/,
  );
  assert.ok(error.message.startsWith(join(bad, 'model.json')));
  assert.equal(good.status, 'fulfilled');
  const loaded = (good as PromiseFulfilledResult<tf.LayersModel>).value;
  assert.deepEqual(weightValues(loaded), cnn.weights);
  assert.deepEqual(
    otherValues.status === 'fulfilled' && otherValues.value,
    Array.from({ length: 24 }, (_, round) => round + 1),
  );
  loaded.dispose();
  assert.equal(tf.memory().numTensors, tensors);
  assert.equal(addWeightOf(), stockAddWeight);
});

test('loading draws nothing from Math.random, even for a topology with unseeded initializers', async () => {
  const unseeded = tf.sequential({
    layers: [tf.layers.dense({ units: 3, inputShape: [4], kernelInitializer: 'glorotUniform', name: 'dense' })],
  });
  const directory = join(mkdtempSync(join(tmpdir(), 'kdkit-io-unseeded-')), 'model');
  await saveModelDir(unseeded, directory);
  const written = weightValues(unseeded);
  unseeded.dispose();
  const original = Math.random;
  let draws = 0;
  Math.random = () => ++draws / 1000;
  try {
    const loaded = await loadModelDir(directory);
    assert.deepEqual(weightValues(loaded), written);
    loaded.dispose();
  } finally {
    Math.random = original;
  }
  assert.equal(draws, 0);
});
