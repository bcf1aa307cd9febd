import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '../engine/tf.js';
import { initEngine } from '../engine/index.js';
import type { Dataset } from '../data/dataset.js';
import { buildModel } from '../models/build.js';
import { methods } from '../methods/index.js';
import { evaluateModel } from '../eval/evaluate.js';
import { predictLogits } from '../models/predict.js';
import { trainStage } from './stage.test.util.js';
import { makeAdapter, tappedModel } from '../models/taps.js';
import type { TermInputs } from '../methods/index.js';
import { imageDataset } from '../data/dataset.js';

await initEngine({ backend: 'wasm' });

function toyDataset(count: number): Dataset {
  // Two classes separable by the mean brightness of a 4×4 image.
  const images = new Float32Array(count * 16);
  const labels = new Int32Array(count);
  for (let i = 0; i < count; i++) {
    labels[i] = i % 2;
    for (let p = 0; p < 16; p++) images[i * 16 + p] = labels[i] === 1 ? 0.6 + (0.4 * ((i * 7 + p) % 5)) / 5 : (0.4 * ((i * 3 + p) % 5)) / 5;
  }
  return imageDataset({ name: 'toy', images, labels, sampleShape: [4, 4, 1], numClasses: 2, classNames: ['dark', 'bright'] });
}

const terms = [
  { name: 'kd', weight: 0.9, loss: methods.get('kd').build({ temperature: 4 }) },
  { name: 'ce', weight: 0.1, loss: methods.get('ce').build({}) },
];

test('distillation stages, prediction and evaluation leak no tensors', async () => {
  const data = toyDataset(40);
  const teacher = buildModel(
    { type: 'cnn', filters: [4], kernelSize: 3, dense: [8], dropout: 0.2, batchNorm: false },
    { inputShape: [4, 4, 1], numClasses: 2, seed: 1, name: 'teacher' },
  );
  const student = buildModel(
    { type: 'mlp', hidden: [8], dropout: 0.1, activation: 'relu' },
    { inputShape: [4, 4, 1], numClasses: 2, seed: 2, name: 'student' },
  );
  const teacherLogits = predictLogits(teacher, data);
  const options = {
    stage: 'student',
    model: student,
    train: data,
    validation: data,
    teacherLogits,
    terms,
    epochs: 1,
    batchSize: 16,
    optimizer: { type: 'adam' as const, learningRate: 0.01, momentum: 0.9 },
    seed: 3,
  };
  // The first epoch creates the optimizer's slots; count after it.
  await trainStage(options);
  const before = tf.memory().numTensors;
  await trainStage({ ...options, epochs: 2 });
  await evaluateModel(student, data, { trainSeconds: 0, latencyBatch: 4 });
  predictLogits(teacher, data);
  assert.equal(tf.memory().numTensors, before);
  teacher.dispose();
  student.dispose();
});

test('a stage learns: loss falls and validation accuracy rises on a separable toy set', async () => {
  const data = toyDataset(64);
  const model = buildModel(
    { type: 'mlp', hidden: [8], dropout: 0, activation: 'relu' },
    { inputShape: [4, 4, 1], numClasses: 2, seed: 5, name: 'm' },
  );
  const events: string[] = [];
  const result = await trainStage({
    stage: 'scratch',
    model,
    train: data,
    validation: data,
    teacherLogits: null,
    terms: [{ name: 'ce', weight: 1, loss: methods.get('ce').build({}) }],
    epochs: 15,
    batchSize: 16,
    optimizer: { type: 'adam', learningRate: 0.02, momentum: 0.9 },
    seed: 1,
    onEvent: (event) => events.push(event.type),
  });
  assert.equal(result.history.length, 15);
  assert.ok(result.history[14].loss < result.history[0].loss / 2, `loss ${result.history[0].loss} → ${result.history[14].loss}`);
  assert.equal(result.history[14].validationAccuracy, 1);
  assert.deepEqual(Object.keys(result.history[0].terms), ['ce']);
  assert.equal(events[0], 'stage-start');
  assert.equal(events.filter((type) => type === 'step').length, 15 * 4);
  assert.equal(events.at(-1), 'stage-end');
  model.dispose();
});

test('a NaN loss stops the stage and names the step', async () => {
  const data = toyDataset(16);
  const model = buildModel(
    { type: 'mlp', hidden: [], dropout: 0, activation: 'relu' },
    { inputShape: [4, 4, 1], numClasses: 2, seed: 5, name: 'm' },
  );
  const nanTerm = {
    name: 'broken',
    weight: 1,
    loss: (inputs: { studentLogits: tf.Tensor }) => tf.mul(tf.mean(inputs.studentLogits), Number.NaN) as tf.Scalar,
  };
  await assert.rejects(
    trainStage({
      stage: 'student',
      model,
      train: data,
      validation: data,
      teacherLogits: null,
      terms: [nanTerm],
      epochs: 1,
      batchSize: 8,
      optimizer: { type: 'sgd', learningRate: 0.1, momentum: 0 },
      seed: 1,
    }),
    /stage 'student' diverged at epoch 1, step 1: term 'broken' is NaN/,
  );
  model.dispose();
});

test('feature terms: taps, an adapter that trains with the student, scheduled weights, and no leaks', async () => {
  const data = toyDataset(32);
  const teacher = buildModel(
    { type: 'cnn', filters: [4], kernelSize: 3, dense: [8], dropout: 0, batchNorm: false },
    { inputShape: [4, 4, 1], numClasses: 2, seed: 1, name: 'teacher' },
  );
  const student = buildModel(
    { type: 'mlp', hidden: [3], dropout: 0, activation: 'relu' },
    { inputShape: [4, 4, 1], numClasses: 2, seed: 2, name: 'student' },
  );
  const studentTaps = tappedModel(student, ['dense_1', 'penultimate'], (name) => name);
  const teacherTaps = tappedModel(teacher, ['dense_1'], (name) => name);
  const adapter = makeAdapter([3], [8], 'same-shape', 'auto', { seed: 7, name: 'adapter_test', field: 'test' })!;
  const adapterBefore = adapter.getWeights().map((weight) => weight.dataSync().slice());
  const weights: number[] = [];
  const terms = [
    {
      name: 'hint',
      weight: { schedule: 'linear' as const, from: 1, to: 0.5 },
      loss: methods.get('hint').build({}),
      studentTap: 'dense_1',
      teacherTap: 'dense_1',
      adapter,
    },
    {
      name: 'rkd',
      weight: 1,
      loss: methods.get('rkd').build({ distanceWeight: 1, angleWeight: 2 }),
      studentTap: 'penultimate',
      teacherTap: 'dense_1',
    },
    {
      name: 'ce',
      weight: 0.1,
      loss: (inputs: TermInputs) => {
        weights.push(inputs.position.progress);
        return methods.get('ce').build({})(inputs);
      },
    },
  ];
  const teacherFeatures = (_indices: Int32Array, inputs: Readonly<Record<string, tf.Tensor>>) => {
    const [logits, dense] = teacherTaps.model.predict(inputs.image) as tf.Tensor[];
    logits.dispose();
    return { dense_1: dense };
  };
  const options = {
    stage: 'student',
    model: student,
    train: data,
    validation: data,
    teacherLogits: predictLogits(teacher, data),
    terms,
    studentTaps,
    teacherFeatures,
    epochs: 1,
    batchSize: 8,
    optimizer: { type: 'adam' as const, learningRate: 0.05, momentum: 0 },
    seed: 3,
  };
  await trainStage(options);
  const before = tf.memory().numTensors;
  const result = await trainStage({ ...options, epochs: 2 });
  assert.equal(tf.memory().numTensors, before, 'tensors leaked');
  assert.deepEqual(Object.keys(result.history[0].terms), ['hint', 'rkd', 'ce']);
  // Progress runs over the stage: 4 steps per epoch, so 0, 1/8, …, 7/8 in the two-epoch stage.
  assert.deepEqual(
    weights.slice(4),
    [0, 1, 2, 3, 4, 5, 6, 7].map((step) => step / 8),
  );
  const adapterAfter = adapter.getWeights().map((weight) => weight.dataSync());
  assert.ok(
    adapterAfter.some((values, i) => values.some((value, j) => value !== adapterBefore[i][j])),
    'the adapter trained',
  );
  for (const model of [teacher, student, adapter]) model.dispose();
});
