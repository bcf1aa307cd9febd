import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '../engine/tf.js';
import { initEngine } from '../engine/index.js';
import { buildModel } from './build.js';
import { forward } from './forward.js';

await initEngine({ backend: 'wasm' });

test("forward equals predict, with dropout off, for a batch larger than predict's 32, and leaks nothing", () => {
  const model = buildModel(
    { type: 'mlp', hidden: [16], dropout: 0.5, activation: 'relu' },
    { inputShape: [8, 8, 1], numClasses: 10, seed: 2, name: 'f' },
  );
  const images = tf.randomUniform([70, 8, 8, 1], 0, 1, 'float32', 3);
  const before = tf.memory().numTensors;
  const once = forward(model, images) as tf.Tensor;
  const twice = forward(model, images) as tf.Tensor;
  const predicted = model.predict(images) as tf.Tensor;
  assert.deepEqual(once.shape, [70, 10]);
  assert.deepEqual(once.dataSync(), twice.dataSync(), 'no dropout mask in inference');
  const a = once.dataSync();
  const b = predicted.dataSync();
  for (let i = 0; i < a.length; i++) assert.ok(Math.abs(a[i] - b[i]) <= 1e-6, `${a[i]} vs ${b[i]}`);
  tf.dispose([once, twice, predicted]);
  assert.equal(tf.memory().numTensors, before);
  images.dispose();
  model.dispose();
});

test('forward returns every output of a multi-output model in order', () => {
  const model = buildModel(
    { type: 'mlp', hidden: [16], dropout: 0, activation: 'relu' },
    { inputShape: [8, 8, 1], numClasses: 10, seed: 2, name: 'g' },
  );
  const tapped = tf.model({ inputs: model.inputs, outputs: [model.getLayer('dense_1').output as tf.SymbolicTensor, model.outputs[0]] });
  const images = tf.ones([3, 8, 8, 1]);
  const outputs = forward(tapped, images) as tf.Tensor[];
  assert.deepEqual(
    outputs.map((output) => output.shape),
    [
      [3, 16],
      [3, 10],
    ],
  );
  tf.dispose([...outputs, images]);
  model.dispose();
});
