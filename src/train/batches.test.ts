import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '../engine/tf.js';
import { initEngine } from '../engine/index.js';
import { allocateBatch } from '../data/batches.js';
import { methods } from '../methods/index.js';
import { LENGTH, textDataset, textModel } from '../models/inputs.test.util.js';
import { batchTensors } from './batches.js';
import { trainStage } from './stage.test.util.js';

await initEngine({ backend: 'wasm' });

test('batchTensors gives each field as a tensor of its dtype, [batch, ...shape], and int32 labels', () => {
  const dataset = textDataset();
  const batch = batchTensors(dataset, [4, 0], allocateBatch(dataset, 3));
  assert.deepEqual(Object.keys(batch.inputs), ['input_ids', 'attention_mask']);
  for (const tensor of Object.values(batch.inputs)) {
    assert.equal(tensor.dtype, 'int32');
    assert.deepEqual(tensor.shape, [2, LENGTH]);
  }
  // Samples 4 and 0 of models/inputs.test.util.ts's TOKENS, in that order.
  assert.deepEqual(Array.from(batch.inputs.input_ids.dataSync()), [1, 0, 2, 1, 2, 3]);
  assert.deepEqual(Array.from(batch.inputs.attention_mask.dataSync()), [1, 1, 0, 1, 0, 0]);
  assert.deepEqual(Array.from(batch.labels.dataSync()), [0, 0]);
  tf.dispose([...Object.values(batch.inputs), batch.labels]);
});

test('a two-input text model trains on a dataset of int32 fields through the trainer, and leaks nothing', async () => {
  const model = textModel('student');
  const dataset = textDataset('text/train');
  const options = {
    stage: 'student',
    model,
    train: dataset,
    validation: dataset,
    teacherLogits: null,
    terms: [{ name: 'ce', weight: 1, loss: methods.get('ce').build({}) }],
    epochs: 2,
    batchSize: 2,
    optimizer: { type: 'adam' as const, learningRate: 0.1, momentum: 0 },
    seed: 1,
  };
  await trainStage({ ...options, epochs: 1 });
  const before = tf.memory().numTensors;
  const { history } = await trainStage(options);
  assert.equal(tf.memory().numTensors, before, 'tensors leaked');
  assert.equal(history.length, 2);
  assert.ok(
    history.every((epoch) => Number.isFinite(epoch.loss)),
    JSON.stringify(history),
  );
  model.dispose();
});
