import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as tf from '../engine/tf.js';
import '@tensorflow/tfjs-backend-cpu';
import { kdLoss } from './kd.js';
import { crossEntropyLoss } from './ce.js';
import { forceDeviceMath } from '../engine/placement.js';

await tf.setBackend('cpu');

interface LossCase {
  temperature: number;
  studentLogits: number[][];
  teacherLogits: number[][];
  labels: number[];
  kd: number;
  kdGradStudent: number[][];
  kdGradTeacher: number[][];
  ce: number;
  ceGradStudent: number[][];
  'kd0.9_ce0.1': number;
}

const fixturePath = new URL('../../test/fixtures/losses.json', import.meta.url);
const fixtures = JSON.parse(readFileSync(fixturePath, 'utf8')) as { cases: LossCase[] };

function closeTo(actual: number, expected: number, relative = 1e-4, absolute = 1e-6): void {
  assert.ok(Number.isFinite(expected), `expected value missing from fixture: ${expected}`);
  const tolerance = Math.max(absolute, relative * Math.abs(expected));
  assert.ok(Math.abs(actual - expected) <= tolerance, `got ${actual}, expected ${expected} ± ${tolerance}`);
}

function allClose(actual: ArrayLike<number>, expected: number[], relative = 1e-4, absolute = 1e-6): void {
  assert.equal(actual.length, expected.length);
  for (let i = 0; i < expected.length; i++) closeTo(actual[i], expected[i], relative, absolute);
}

test('kd by hand: teacher [ln 3, 0], student [0, 0]', () => {
  const student = tf.tensor2d([[0, 0]]);
  const teacher = tf.tensor2d([[Math.log(3), 0]]);
  // T = 1: p_t = [3/4, 1/4], p_s = [1/2, 1/2]; KL = 3/4·ln(3/2) + 1/4·ln(1/2).
  closeTo(kdLoss(student, teacher, { temperature: 1 }).dataSync()[0], 0.75 * Math.log(1.5) + 0.25 * Math.log(0.5));
  // T = 2: p_t = [√3, 1]/(√3 + 1); KL times T² = 4.
  const p0 = Math.sqrt(3) / (Math.sqrt(3) + 1);
  const p1 = 1 / (Math.sqrt(3) + 1);
  closeTo(kdLoss(student, teacher, { temperature: 2 }).dataSync()[0], 4 * (p0 * Math.log(p0 / 0.5) + p1 * Math.log(p1 / 0.5)));
  tf.dispose([student, teacher]);
});

test('kd averages over the batch, not over classes', () => {
  const student = tf.tensor2d([
    [0, 0],
    [0, 0],
  ]);
  const teacher = tf.tensor2d([
    [Math.log(3), 0],
    [0, 0],
  ]);
  // Second sample contributes 0, so the batch mean is half of the first sample's KL.
  closeTo(kdLoss(student, teacher, { temperature: 1 }).dataSync()[0], (0.75 * Math.log(1.5) + 0.25 * Math.log(0.5)) / 2);
  tf.dispose([student, teacher]);
});

test('kd is zero when the student equals the teacher, at any temperature', () => {
  const logits = tf.tensor2d([
    [3, -1, 0.5, 2],
    [-4, 4, 0, 1],
  ]);
  for (const temperature of [0.5, 1, 4, 20]) {
    closeTo(kdLoss(logits, logits, { temperature }).dataSync()[0], 0, 0, 1e-6);
  }
  logits.dispose();
});

test('kd carries the T² factor: for large T it approaches the logit-matching limit', () => {
  // Hinton §2.1: as T → ∞ with zero-mean logits, T²·KL → (1/2N)·Σ(z_s − z_t)² per sample (N classes).
  const student = tf.tensor2d([[1, -1, 0]]);
  const teacher = tf.tensor2d([[-0.5, 0.5, 0]]);
  const limit = (1 / (2 * 3)) * (1.5 ** 2 + 1.5 ** 2 + 0);
  closeTo(kdLoss(student, teacher, { temperature: 20 }).dataSync()[0], limit, 1e-3);
  tf.dispose([student, teacher]);
});

test('cross-entropy by hand: uniform logits over 3 classes give ln 3', () => {
  const logits = tf.tensor2d([
    [0, 0, 0],
    [5, 5, 5],
  ]);
  const labels = tf.tensor1d([1, 2], 'int32');
  closeTo(crossEntropyLoss(logits, labels).dataSync()[0], Math.log(3));
  tf.dispose([logits, labels]);
});

/** Runs `body` with the losses on `path`: the host's float64 pass (cpu, wasm) or tensor ops (webgl, webgpu). */
function on(path: 'host' | 'device', body: () => void): () => void {
  return () => {
    forceDeviceMath(path === 'device');
    try {
      body();
    } finally {
      forceDeviceMath(false);
    }
  };
}

for (const path of ['host', 'device'] as const) {
  for (const [index, reference] of fixtures.cases.entries()) {
    const shape = `${reference.studentLogits.length}×${reference.studentLogits[0].length}`;
    test(
      `kd and ce match PyTorch on the ${path} path, case ${index} (${shape}, T=${reference.temperature})`,
      on(path, () => {
        const student = tf.tensor2d(reference.studentLogits);
        const teacher = tf.tensor2d(reference.teacherLogits);
        const labels = tf.tensor1d(reference.labels, 'int32');
        const options = { temperature: reference.temperature };
        closeTo(kdLoss(student, teacher, options).dataSync()[0], reference.kd);
        closeTo(crossEntropyLoss(student, labels).dataSync()[0], reference.ce);
        const combined = tf.tidy(() =>
          tf.add(tf.mul(kdLoss(student, teacher, options), 0.9), tf.mul(crossEntropyLoss(student, labels), 0.1)),
        );
        closeTo(combined.dataSync()[0], reference['kd0.9_ce0.1']);
        const [kdGrad, kdGradTeacher] = tf.grads((s: tf.Tensor, t: tf.Tensor) => kdLoss(s, t, options))([student, teacher]);
        allClose(kdGrad.dataSync(), reference.kdGradStudent.flat(), 1e-4, 1e-7);
        allClose(kdGradTeacher.dataSync(), reference.kdGradTeacher.flat(), 1e-4, 1e-7);
        const ceGrad = tf.grad((s: tf.Tensor) => crossEntropyLoss(s, labels))(student);
        allClose(ceGrad.dataSync(), reference.ceGradStudent.flat(), 1e-4, 1e-7);
        tf.dispose([student, teacher, labels, combined, kdGrad, kdGradTeacher, ceGrad]);
      }),
    );
  }

  test(
    `losses leak no tensors on the ${path} path`,
    on(path, () => {
      const student = tf.tensor2d([[1, 2, 3]]);
      const teacher = tf.tensor2d([[3, 2, 1]]);
      const labels = tf.tensor1d([0], 'int32');
      const before = tf.memory().numTensors;
      kdLoss(student, teacher, { temperature: 4 }).dispose();
      crossEntropyLoss(student, labels).dispose();
      tf.grad((s: tf.Tensor) => kdLoss(s, teacher, { temperature: 4 }))(student).dispose();
      tf.grad((s: tf.Tensor) => crossEntropyLoss(s, labels))(student).dispose();
      assert.equal(tf.memory().numTensors, before);
      tf.dispose([student, teacher, labels]);
    }),
  );
}

test('every fixture case has all expected values', () => {
  assert.ok(fixtures.cases.length >= 5);
  for (const reference of fixtures.cases) {
    for (const key of ['kd', 'ce', 'kd0.9_ce0.1', 'kdGradStudent', 'kdGradTeacher', 'ceGradStudent'] as const) {
      assert.ok(reference[key] !== undefined, `fixture lacks ${key}`);
    }
  }
});

test('ce rejects a label that is not a class index instead of reading another sample', () => {
  const student = tf.tensor2d([
    [1, 2, 3],
    [0, 0, 0],
  ]);
  for (const label of [3, -1]) {
    const labels = tf.tensor1d([0, label], 'int32');
    assert.throws(() => crossEntropyLoss(student, labels), new RegExp(`label ${label} of sample 1 is not a class index in 0..2`));
    labels.dispose();
  }
  student.dispose();
});
