import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '../engine/tf.js';
import { initEngine } from '../engine/index.js';
import { InputError } from '../errors.js';
import { exportOnnx } from '../export/onnx.js';
import { openOnnxTeacher } from '../teachers/onnx.js';
import { loadModelDir } from '../models/io.js';
import { distill } from './distill.js';
import { earlyStopping } from './callbacks/early_stopping.js';
import { bestCheckpoint } from './callbacks/best_checkpoint.js';
import type { Callback } from './callbacks/callback.js';

await initEngine({ backend: 'wasm' });

/** Two classes of 4×4 images, told apart by their mean brightness. */
function toy(count: number, offset = 0): { x: tf.Tensor4D; y: Int32Array } {
  const images = new Float32Array(count * 16);
  const y = new Int32Array(count);
  for (let i = 0; i < count; i++) {
    const n = i + offset;
    y[i] = n % 2;
    for (let p = 0; p < 16; p++) images[i * 16 + p] = y[i] === 1 ? 0.6 + (0.4 * ((n * 7 + p) % 5)) / 5 : (0.4 * ((n * 3 + p) % 5)) / 5;
  }
  return { x: tf.tensor4d(images, [count, 4, 4, 1]), y };
}

/** A functional student with a residual Add: dense → (dense + skip) → logits. */
function residualStudent(seed: number): tf.LayersModel {
  const init = (k: number) => ({ kernelInitializer: tf.initializers.glorotUniform({ seed: seed * 10 + k }) });
  const input = tf.input({ shape: [4, 4, 1], name: 'image' });
  const flat = tf.layers.flatten({ name: 'flatten' }).apply(input) as tf.SymbolicTensor;
  const hidden = tf.layers.dense({ units: 8, activation: 'relu', name: 'hidden', ...init(1) }).apply(flat) as tf.SymbolicTensor;
  const inner = tf.layers.dense({ units: 8, activation: 'relu', name: 'inner', ...init(2) }).apply(hidden) as tf.SymbolicTensor;
  const sum = tf.layers.add({ name: 'residual' }).apply([hidden, inner]) as tf.SymbolicTensor;
  const logits = tf.layers.dense({ units: 2, name: 'logits', ...init(3) }).apply(sum) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: logits, name: `student_${seed}` });
}

function teacherModel(): tf.LayersModel {
  return tf.sequential({
    name: 'teacher',
    layers: [
      tf.layers.flatten({ inputShape: [4, 4, 1] }),
      tf.layers.dense({
        units: 16,
        activation: 'relu',
        kernelInitializer: tf.initializers.glorotUniform({ seed: 7 }),
        name: 'teacher_hidden',
      }),
      tf.layers.dense({ units: 2, kernelInitializer: tf.initializers.glorotUniform({ seed: 8 }), name: 'teacher_logits' }),
    ],
  });
}

const weightsOf = (model: tf.LayersModel) => model.getWeights().map((weight) => Array.from(weight.dataSync()));

test('distill() trains a functional student with a residual Add from a tf.LayersModel, an ONNX teacher and precomputed logits alike', async () => {
  const train = toy(48);
  const validation = toy(16, 1000);
  const teacher = teacherModel();
  const common = { train, validation, epochs: 2, batchSize: 16, seed: 3 };
  const fromModel = await distill({ ...common, teacher, student: residualStudent(1) });
  assert.equal(fromModel.history.length, 2);
  assert.deepEqual(Object.keys(fromModel.history[0].terms), ['kd', 'ce'], 'the default terms are 0.9 · kd + 0.1 · ce');
  assert.ok(fromModel.history.every((epoch) => Number.isFinite(epoch.validationAccuracy) && Number.isFinite(epoch.validationLoss)));

  const logits = teacher.predict(train.x) as tf.Tensor2D;
  const fromLogits = await distill({ ...common, teacher: { logits }, student: residualStudent(1) });
  assert.deepEqual(
    weightsOf(fromLogits.student),
    weightsOf(fromModel.student),
    'the same teacher given as logits teaches the same student',
  );

  const onnxPath = join(mkdtempSync(join(tmpdir(), 'kdkit-distill-')), 'teacher.onnx');
  writeFileSync(onnxPath, exportOnnx(teacher));
  const onnx = await openOnnxTeacher({
    path: onnxPath,
    preprocessing: { inputLayout: 'nhwc' },
    inputs: [{ name: 'image', dtype: 'float32', shape: [4, 4, 1] }],
    numClasses: 2,
    source: 'test',
  });
  const fromOnnx = await distill({ ...common, teacher: onnx, student: residualStudent(1) });
  await onnx.dispose();
  // ONNX Runtime's float32 sums differ from TensorFlow.js's in the last bits; the students agree to that.
  const a = weightsOf(fromOnnx.student).flat();
  const b = weightsOf(fromModel.student).flat();
  assert.ok(
    a.every((value, i) => Math.abs(value - b[i]) < 1e-4),
    'an ONNX copy of the teacher teaches the same student',
  );
  tf.dispose([logits, train.x, validation.x]);
  for (const model of [teacher, fromModel.student, fromLogits.student, fromOnnx.student]) model.dispose();
});

test('distill() leaks no tensors, and two concurrent calls give the weights of the same calls run one after the other', async () => {
  const train = toy(40);
  const teacher = teacherModel();
  // Dropout draws masks from Math.random: each run must draw from its own seeded generator only.
  const withDropout = (seed: number) => {
    const input = tf.input({ shape: [4, 4, 1] });
    const flat = tf.layers.flatten().apply(input) as tf.SymbolicTensor;
    const hidden = tf.layers
      .dense({ units: 12, activation: 'relu', kernelInitializer: tf.initializers.glorotUniform({ seed }) })
      .apply(flat) as tf.SymbolicTensor;
    const dropped = tf.layers.dropout({ rate: 0.5 }).apply(hidden) as tf.SymbolicTensor;
    const logits = tf.layers
      .dense({ units: 2, kernelInitializer: tf.initializers.glorotUniform({ seed: seed + 1 }) })
      .apply(dropped) as tf.SymbolicTensor;
    return tf.model({ inputs: input, outputs: logits });
  };
  const options = (seed: number) => ({ teacher, train, epochs: 3, batchSize: 8, seed });
  const before = tf.memory().numTensors;
  const first = await distill({ ...options(11), student: withDropout(1) });
  const second = await distill({ ...options(12), student: withDropout(2) });
  const sequential = [weightsOf(first.student), weightsOf(second.student)];
  first.student.dispose();
  second.student.dispose();
  assert.equal(tf.memory().numTensors, before, 'distill() leaves no tensor behind');
  const [one, two] = await Promise.all([
    distill({ ...options(11), student: withDropout(1) }),
    distill({ ...options(12), student: withDropout(2) }),
  ]);
  assert.deepEqual([weightsOf(one.student), weightsOf(two.student)], sequential);
  one.student.dispose();
  two.student.dispose();
  teacher.dispose();
  train.x.dispose();
});

test('distill() stops on an AbortSignal after the current step and resolves with what it has', async () => {
  const train = toy(64);
  const student = residualStudent(2);
  const controller = new AbortController();
  let steps = 0;
  const counter: Callback = {
    name: 'counter',
    onStepEnd: () => {
      if (++steps === 3) controller.abort();
    },
  };
  const before = tf.memory().numTensors;
  const result = await distill({ train, student, epochs: 5, batchSize: 8, callbacks: [counter], signal: controller.signal });
  assert.equal(steps, 3);
  assert.equal(result.stopped, 'aborted');
  assert.equal(result.history.length, 0, 'no epoch finished');
  assert.equal(tf.memory().numTensors, before);
  student.dispose();
  train.x.dispose();
});

test('a learning-rate schedule sets the rate of every step; scaleLearningRate (lrBackoff) and setLearningRate scale the rest of it', async () => {
  const train = toy(32);
  const student = residualStudent(2);
  const rates: number[] = [];
  const recorder: Callback = {
    name: 'recorder',
    onStepEnd: (_values, loop) => {
      rates.push(loop.learningRate);
      if (rates.length === 4) loop.scaleLearningRate(0.5);
      if (rates.length === 6) loop.setLearningRate(0.01);
    },
  };
  // 4 steps an epoch, 2 epochs: step k (from 0) is at progress k / 8, where linear 0.1 → 0.02 is
  // 0.1 − 0.01·k. Halved from step 4 on; from step 6, 0.01 where the schedule says 0.04, so a
  // quarter of it from there.
  await distill({
    train,
    student,
    epochs: 2,
    batchSize: 8,
    optimizer: { type: 'sgd', learningRate: { schedule: 'linear', from: 0.1, to: 0.02 } },
    callbacks: [recorder],
  });
  const expected = [0.1, 0.09, 0.08, 0.07, 0.06 / 2, 0.05 / 2, 0.01, 0.03 / 4];
  assert.equal(rates.length, expected.length);
  for (const [k, rate] of rates.entries()) assert.ok(Math.abs(rate - expected[k]) < 1e-12, `step ${k}: ${rate}, expected ${expected[k]}`);
  student.dispose();
  train.x.dispose();
});

test('earlyStopping stops at the epoch Keras does on a scripted metric and restores the best weights', async () => {
  const train = toy(16);
  const student = residualStudent(3);
  // val_loss is scripted per epoch: best at epoch 2, then 3 epochs without improvement (patience 3) → stop after epoch 5.
  const script = [0.9, 0.5, 0.6, 0.55, 0.7, 0.4, 0.3];
  const snapshots: number[][][] = [];
  const scripted: Callback = {
    name: 'scripted',
    onEpochMetrics: (record) => {
      record.validationLoss = script[record.epoch - 1];
    },
    onEpochEnd: () => {
      snapshots.push(weightsOf(student));
    },
  };
  const events: string[] = [];
  const result = await distill({
    train,
    student,
    epochs: 7,
    batchSize: 8,
    callbacks: [scripted, earlyStopping({ monitor: 'val_loss', patience: 3, restoreBest: true })],
    onEvent: (event) => {
      if (event.type === 'info') events.push(event.message);
    },
  });
  assert.equal(result.history.length, 5);
  assert.match(result.stopped ?? '', /early stopping: val_loss did not improve for 3 epochs \(best 0\.5 at epoch 2\)/);
  assert.deepEqual(weightsOf(student), snapshots[1], 'the weights of epoch 2');
  assert.ok(events.some((message) => /restored the weights of epoch 2/.test(message)));
  student.dispose();
  train.x.dispose();
});

test('earlyStopping with patience 0 stops at the first epoch without improvement, never after the first; minDelta counts', async () => {
  const runWith = async (script: number[], options: Parameters<typeof earlyStopping>[0]) => {
    const train = toy(8);
    const student = residualStudent(4);
    const scripted: Callback = {
      name: 'scripted',
      onEpochMetrics: (record) => {
        record.validationAccuracy = script[record.epoch - 1];
      },
    };
    const result = await distill({ train, student, epochs: script.length, batchSize: 8, callbacks: [scripted, earlyStopping(options)] });
    student.dispose();
    train.x.dispose();
    return result.history.length;
  };
  assert.equal(await runWith([0.5, 0.4, 0.9], { monitor: 'val_accuracy' }), 2);
  assert.equal(
    await runWith([0.5, 0.505, 0.9, 0.95], { monitor: 'val_accuracy', minDelta: 0.01 }),
    2,
    '+0.005 is not an improvement of more than 0.01',
  );
  assert.equal(await runWith([0.5, 0.6, 0.7], { monitor: 'val_accuracy', patience: 1 }), 3);
});

test('bestCheckpoint keeps the model of the best validation epoch on disk', async () => {
  const train = toy(16);
  const student = residualStudent(5);
  const script = [0.6, 0.8, 0.7];
  let best: number[][] = [];
  const scripted: Callback = {
    name: 'scripted',
    onEpochMetrics: (record) => {
      record.validationAccuracy = script[record.epoch - 1];
    },
    onEpochEnd: (record) => {
      if (record.epoch === 2) best = weightsOf(student);
    },
  };
  const directory = join(mkdtempSync(join(tmpdir(), 'kdkit-best-')), 'best');
  const keeper = bestCheckpoint({ directory });
  await distill({ train, student, epochs: 3, batchSize: 8, callbacks: [scripted, keeper] });
  assert.deepEqual(keeper.best(), { epoch: 2, monitor: 'val_accuracy', value: 0.8, directory });
  const saved = await loadModelDir(directory);
  assert.deepEqual(weightsOf(saved), best);
  assert.ok(JSON.parse(readFileSync(join(directory, 'model.json'), 'utf8')).modelTopology);
  saved.dispose();
  student.dispose();
  train.x.dispose();
});

test('distill() feature terms tap the given models by name: hint without an adapter matches a hand computation, with one it learns', async () => {
  const train = toy(48);
  const teacher = residualStudent(9);
  const student = residualStudent(4);
  // The first epoch's one step scores the initial weights: mean over all elements of (inner_S(x) − hidden_T(x))².
  const tap = (model: tf.LayersModel, layer: string) =>
    tf.model({ inputs: model.inputs, outputs: model.getLayer(layer).output as tf.SymbolicTensor });
  const sFeature = tap(student, 'inner').predict(train.x) as tf.Tensor2D;
  const tFeature = tap(teacher, 'hidden').predict(train.x) as tf.Tensor2D;
  const s = sFeature.arraySync();
  const t = tFeature.arraySync();
  let sum = 0;
  for (let i = 0; i < s.length; i++) for (let j = 0; j < s[i].length; j++) sum += (s[i][j] - t[i][j]) ** 2;
  const expected = sum / (s.length * s[0].length);
  tf.dispose([sFeature, tFeature]);

  const wide = teacherModel();
  const before = tf.memory().numTensors;
  const plain = await distill({
    teacher,
    student,
    train,
    epochs: 1,
    batchSize: 48,
    terms: [{ method: 'hint', weight: 1, student: 'inner', teacher: 'hidden', adapter: 'none' }],
  });
  assert.ok(Math.abs(plain.history[0].terms.hint - expected) < 1e-6, `hint ${plain.history[0].terms.hint} vs by hand ${expected}`);
  assert.equal(tf.memory().numTensors, before, 'the taps and the step leak nothing');

  // An 8-unit student layer against the 16-unit teacher layer: 'auto' puts a learned adapter between them.
  const adapted = await distill({
    teacher: wide,
    student,
    train,
    epochs: 20,
    batchSize: 16,
    optimizer: { type: 'adam', learningRate: 0.01 },
    terms: [
      { method: 'hint', weight: 1, student: 'inner', teacher: 'teacher_hidden' },
      { method: 'ce', weight: 1 },
    ],
  });
  const hints = adapted.history.map((epoch) => epoch.terms.hint);
  assert.ok(hints.at(-1)! < hints[0] * 0.5, `the adapted hint falls: ${hints[0]} → ${hints.at(-1)}`);
  assert.equal(tf.memory().numTensors, before, 'the adapter is freed with the run');

  await assert.rejects(
    distill({ teacher: wide, student, train, terms: [{ method: 'hint', weight: 1, student: 'inner', teacher: 'no_such_layer' }] }),
    (error: unknown) => error instanceof InputError && /no_such_layer/.test(error.message),
  );
  for (const model of [teacher, student, wide]) model.dispose();
  train.x.dispose();
});

test('distill() refuses bad options with InputErrors that name the option', async () => {
  const train = toy(8);
  const student = residualStudent(6);
  const cases: Array<[Parameters<typeof distill>[0], RegExp]> = [
    [{ train, student, epochs: 0 }, /distill\(\): epochs: expected a whole number/],
    [{ train, student, batchSize: 1.5 }, /distill\(\): batchSize/],
    [{ train: { x: train.x, y: [0, 1, 2, 0, 1, 0, 1, 0] }, student }, /distill\(\): train\.y\[2\]: label 2 is outside \[0, 2\)/],
    [{ train: { x: train.x, y: [0, 1] }, student }, /train\.y: 2 labels for 8 samples/],
    [{ train, student, terms: [{ method: 'kd', weight: 1 }] }, /method 'kd' needs a teacher/],
    [{ train, student, terms: [{ method: 'kdd', weight: 1 }] }, /terms\[0\]\.method.*kdd/],
    [{ train, student, teacher: { logits: new Float32Array(3) } }, /teacher\.logits: expected \[8, 2\]/],
    [{ train, student, optimizer: { type: 'lion' as 'adam' } }, /distill\(\): optimizer/],
    [{ train, student, optimizer: { learningRate: 0 } }, /distill\(\): optimizer: learningRate: must be greater than 0/],
    [
      { train, student, optimizer: { learningRate: { schedule: 'linear', from: 0.1, to: -0.1 } } },
      /distill\(\): optimizer: learningRate: the schedule reaches -0.1/,
    ],
  ];
  for (const [options, message] of cases) {
    await assert.rejects(distill(options), (error: unknown) => error instanceof InputError && message.test(error.message), String(message));
  }
  student.dispose();
  train.x.dispose();
});

test('distill() takes named inputs: a two-input student and teacher over token ids and an attention mask', async () => {
  const count = 24;
  const length = 6;
  const ids = new Int32Array(count * length);
  const mask = new Int32Array(count * length);
  const y = new Int32Array(count);
  for (let i = 0; i < count; i++) {
    y[i] = i % 2;
    const used = 3 + (i % 4);
    for (let t = 0; t < length; t++) {
      mask[i * length + t] = t < used ? 1 : 0;
      ids[i * length + t] = t < used ? 1 + ((i * 5 + t * 3 + y[i] * 7) % 9) : 0;
    }
  }
  /** Embedding → masked by multiplication → flattened → logits; inputs declared mask first, so only names pair them. */
  const textModel = (name: string, seed: number) => {
    const maskInput = tf.input({ shape: [length], name: 'attention_mask', dtype: 'int32' });
    const idsInput = tf.input({ shape: [length], name: 'input_ids', dtype: 'int32' });
    const embedded = tf.layers
      .embedding({ inputDim: 10, outputDim: 4, embeddingsInitializer: tf.initializers.randomUniform({ minval: -0.5, maxval: 0.5, seed }) })
      .apply(idsInput) as tf.SymbolicTensor;
    const weights = tf.layers
      .reshape({ targetShape: [length, 1] })
      .apply(tf.layers.activation({ activation: 'linear' }).apply(maskInput)) as tf.SymbolicTensor;
    const masked = tf.layers
      .multiply()
      .apply([embedded, tf.layers.concatenate().apply([weights, weights, weights, weights]) as tf.SymbolicTensor]) as tf.SymbolicTensor;
    const flat = tf.layers.flatten().apply(masked) as tf.SymbolicTensor;
    const logits = tf.layers
      .dense({ units: 2, kernelInitializer: tf.initializers.glorotUniform({ seed: seed + 1 }) })
      .apply(flat) as tf.SymbolicTensor;
    return tf.model({ inputs: [maskInput, idsInput], outputs: logits, name });
  };
  const x = { input_ids: tf.tensor2d(ids, [count, length], 'int32'), attention_mask: tf.tensor2d(mask, [count, length], 'int32') };
  const teacher = textModel('text_teacher', 20);
  const student = textModel('text_student', 30);
  const before = tf.memory().numTensors;
  const result = await distill({ teacher, student, train: { x, y }, validation: { x, y }, epochs: 3, batchSize: 8 });
  assert.equal(result.history.length, 3);
  assert.ok(result.history.every((epoch) => Number.isFinite(epoch.loss) && Number.isFinite(epoch.validationAccuracy)));
  assert.equal(tf.memory().numTensors, before, 'no tensor leaked');
  const missing = { input_ids: x.input_ids };
  await assert.rejects(
    distill({ student, train: { x: missing, y } }),
    (error: unknown) => error instanceof InputError && /attention_mask/.test(error.message),
  );
  teacher.dispose();
  student.dispose();
  tf.dispose(Object.values(x));
});
