/**
 * Augmentation and online soft labels: the crop and flip are what torchvision's RandomCrop(padding)
 * and RandomHorizontalFlip do, seeded per step; the teacher sees the batch the student sees; a run
 * stopped and resumed augments as an uninterrupted one; cached labels with augmentation are refused.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '../engine/tf.js';
import { initEngine } from '../engine/index.js';
import { InputError } from '../errors.js';
import { batchAugmenter } from '../data/augment.js';
import type { Callback } from './callbacks/callback.js';
import { checkpointing } from './callbacks/checkpoints.js';
import { distill } from './distill.js';

await initEngine({ backend: 'wasm' });

/** torchvision's way, written independently: zero-pad the image, cut an h × w window at (top, left), mirror if asked. */
function reference(image: number[][], padding: number, top: number, left: number, mirror: boolean): number[][] {
  const h = image.length;
  const w = image[0].length;
  const padded = Array.from({ length: h + 2 * padding }, (_, y) =>
    Array.from({ length: w + 2 * padding }, (_, x) => image[y - padding]?.[x - padding] ?? 0),
  );
  const window = padded.slice(top, top + h).map((row) => row.slice(left, left + w));
  return mirror ? window.map((row) => [...row].reverse()) : window;
}

test('crop and flip give one of the windows torchvision would cut, each offset and both flips, seeded per step', () => {
  const image = [
    [1, 2, 3],
    [4, 5, 6],
    [7, 8, 9],
  ];
  // By hand: padding 1, window at (0, 0), i.e. shifted down and right by one; and the mirror of the original.
  assert.deepEqual(reference(image, 1, 0, 0, false), [
    [0, 0, 0],
    [0, 1, 2],
    [0, 4, 5],
  ]);
  assert.deepEqual(reference(image, 1, 1, 1, true), [
    [3, 2, 1],
    [6, 5, 4],
    [9, 8, 7],
  ]);
  const candidates = new Map<string, string>();
  for (let top = 0; top <= 2; top++)
    for (let left = 0; left <= 2; left++)
      for (const mirror of [false, true])
        candidates.set(JSON.stringify(reference(image, 1, top, left, mirror)), `${top},${left},${mirror}`);

  const augment = batchAugmenter(
    { crop: { padding: 1 }, flip: 'horizontal' },
    [{ name: 'image', dtype: 'float32', shape: [3, 3, 1] }],
    7,
    'augment',
  )!;
  const count = 400;
  const run = (epoch: number, step: number) => {
    const values = new Float32Array(count * 9);
    for (let i = 0; i < count; i++) values.set(image.flat(), i * 9);
    augment({ image: values }, count, epoch, step);
    return values;
  };
  const batch = run(1, 0);
  const seen = new Map<string, number>();
  for (let i = 0; i < count; i++) {
    const sample = Array.from(batch.subarray(i * 9, (i + 1) * 9));
    const key = JSON.stringify([sample.slice(0, 3), sample.slice(3, 6), sample.slice(6, 9)]);
    const which = candidates.get(key);
    assert.ok(which !== undefined, `sample ${i} is no window torchvision cuts: ${key}`);
    seen.set(which, (seen.get(which) ?? 0) + 1);
  }
  assert.equal(seen.size, 18, 'every offset and both flips occur');
  const mirrored = [...seen].filter(([key]) => key.endsWith('true')).reduce((sum, [, n]) => sum + n, 0);
  assert.ok(mirrored > 150 && mirrored < 250, `about half are mirrored: ${mirrored} of ${count}`);
  assert.deepEqual(run(1, 0), batch, 'the same step gets the same changes');
  assert.notDeepEqual(run(2, 0), batch, 'another epoch gets new ones');
  assert.notDeepEqual(run(1, 1), batch, 'another step gets new ones');
});

test('augment refuses a dataset without images, and padding as large as the image, naming the field', () => {
  assert.throws(
    () => batchAugmenter({ flip: 'horizontal' }, [{ name: 'input_ids', dtype: 'int32', shape: [16] }], 1, 'dataset.augment'),
    (error: unknown) =>
      error instanceof InputError && /dataset\.augment: crop and flip change images.*input_ids int32 \[16\]/.test(error.message),
  );
  assert.throws(
    () =>
      batchAugmenter({ crop: { padding: 8 }, flip: 'none' }, [{ name: 'image', dtype: 'float32', shape: [8, 8, 1] }], 1, 'dataset.augment'),
    (error: unknown) =>
      error instanceof InputError && /dataset\.augment\.crop\.padding: 8 is not smaller than the 8×8 images/.test(error.message),
  );
});

/** 64 images 6×6 of two classes: a bright left half or a bright right half, so a flip changes the class's look. */
function halves(count: number): { x: tf.Tensor4D; y: Int32Array } {
  const values = new Float32Array(count * 36);
  const y = new Int32Array(count);
  for (let i = 0; i < count; i++) {
    y[i] = i % 2;
    for (let p = 0; p < 36; p++) values[i * 36 + p] = p % 6 < 3 === (y[i] === 0) ? 0.9 : 0.1 * ((i + p) % 3);
  }
  return { x: tf.tensor4d(values, [count, 6, 6, 1]), y };
}

const mlp = (seed: number, units = 2) =>
  tf.sequential({
    layers: [
      tf.layers.flatten({ inputShape: [6, 6, 1] }),
      tf.layers.dense({ units: 8, activation: 'relu', kernelInitializer: tf.initializers.glorotUniform({ seed }) }),
      tf.layers.dense({ units, kernelInitializer: tf.initializers.glorotUniform({ seed: seed + 1 }) }),
    ],
  });
const weightsOf = (model: tf.LayersModel) => model.getWeights().map((weight) => Array.from(weight.dataSync()));

test('online soft labels: the teacher labels each batch the student sees; without augment they equal cached ones', async () => {
  const train = halves(64);
  const teacher = mlp(11);
  const common = { teacher, train, epochs: 2, batchSize: 16, seed: 4 };
  const cached = await distill({ ...common, student: mlp(1) });
  const online = await distill({ ...common, student: mlp(1), softLabels: 'online' });
  const a = weightsOf(cached.student).flat();
  const b = weightsOf(online.student).flat();
  assert.ok(
    a.every((value, i) => Math.abs(value - b[i]) < 1e-5),
    'the same teacher on the same batches teaches the same student',
  );

  // With a flip the teacher must see the flipped batch: a spy teacher records what it was given.
  const seen: number[][] = [];
  const spy = {
    info: { kind: 'onnx' as const, description: 'spy', fingerprint: 'spy', classes: 2, featureNames: [] },
    batchSize: 16,
    async logits(batch: Readonly<Record<string, Float32Array | Int32Array>>, count: number) {
      seen.push(Array.from(batch.image.subarray(0, count * 36)));
      return new Float32Array(count * 2);
    },
    async features() {
      return {};
    },
    async dispose() {},
  };
  const student = mlp(2);
  const before = tf.memory().numTensors;
  await distill({ teacher: spy, student, train, epochs: 1, batchSize: 16, seed: 4, augment: { flip: 'horizontal' } });
  assert.equal(seen.length, 4, 'augment without softLabels runs the teacher online, on each of the 4 batches');
  assert.equal(seen.flat().length, 64 * 36);
  const original = Array.from(train.x.dataSync());
  // Some samples reached the teacher mirrored: not every one of the teacher's rows is a stored image.
  const stored = new Set(Array.from({ length: 64 }, (_, i) => original.slice(i * 36, (i + 1) * 36).join(',')));
  const rows = seen.flatMap((batch) => Array.from({ length: batch.length / 36 }, (_, i) => batch.slice(i * 36, (i + 1) * 36).join(',')));
  const mirrored = rows.filter((row) => !stored.has(row)).length;
  assert.ok(mirrored > 10 && mirrored < 54, `about half of the 64 samples the teacher saw were mirrored: ${mirrored}`);
  assert.equal(tf.memory().numTensors, before, 'online labels leak nothing');
  for (const model of [teacher, cached.student, online.student, student]) model.dispose();
  train.x.dispose();
});

test('cached soft labels with augment are refused, saying why; online needs a teacher that can run', async () => {
  const train = halves(16);
  const teacher = mlp(11);
  const student = mlp(1);
  await assert.rejects(
    distill({ teacher, student, train, augment: { flip: 'horizontal' }, softLabels: 'cached' }),
    (error: unknown) =>
      error instanceof InputError && /'cached' labels .* no longer describe; use softLabels: 'online'/.test(error.message),
  );
  const logits = teacher.predict(train.x) as tf.Tensor;
  await assert.rejects(
    distill({ teacher: { logits }, student, train, softLabels: 'online' }),
    (error: unknown) => error instanceof InputError && /precomputed teacher\.logits cannot be run/.test(error.message),
  );
  await assert.rejects(
    distill({ teacher, student, train, augment: { crop: { padding: 0 } } }),
    (error: unknown) => error instanceof InputError && /distill\(\): augment: invalid\naugment\.crop\.padding/.test(error.message),
  );
  tf.dispose([logits, train.x]);
  teacher.dispose();
  student.dispose();
});

test('a run stopped mid-epoch and resumed from its checkpoint augments and labels online as an uninterrupted one, bit for bit', async () => {
  const train = halves(64);
  const teacher = mlp(11);
  const directory = mkdtempSync(join(tmpdir(), 'kdkit-augment-resume-'));
  const common = { teacher, train, epochs: 3, batchSize: 16, seed: 9, augment: { crop: { padding: 1 }, flip: 'horizontal' as const } };
  try {
    const whole = await distill({ ...common, student: mlp(3) });
    const controller = new AbortController();
    let steps = 0;
    const stopper: Callback = {
      name: 'stopper',
      onStepEnd: () => {
        if (++steps === 6) controller.abort();
      },
    };
    const checkpoints = { directory, everyMs: 0, keep: 2 };
    const first = await distill(
      { ...common, student: mlp(3), callbacks: [stopper], signal: controller.signal },
      { checkpoints: checkpointing({ ...checkpoints, resume: false }) },
    );
    assert.equal(first.stopped, 'aborted');
    const resumed = await distill({ ...common, student: first.student }, { checkpoints: checkpointing({ ...checkpoints, resume: true }) });
    assert.deepEqual(weightsOf(resumed.student), weightsOf(whole.student));
    for (const model of [whole.student, first.student]) model.dispose();
  } finally {
    rmSync(directory, { recursive: true, force: true });
    teacher.dispose();
    train.x.dispose();
  }
});
