// The losses library against PyTorch (test/fixtures/feature_losses.json, written by
// scripts/make_fixtures.py from each method's official code), on both backends, plus cases
// worked by hand and the errors users see.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as tf from '../engine/tf.js';
import { initEngine, type BackendName } from '../engine/index.js';
import { losses } from './index.js';
import { dkdParts } from './dkd.js';
import { rkdAngleLoss, rkdDistanceLoss } from './rkd.js';

interface Fixtures {
  dkd: Array<{
    alpha: number;
    beta: number;
    temperature: number;
    shape: number[];
    studentLogits: number[];
    teacherLogits: number[];
    labels: number[];
    tckd: number;
    nckd: number;
    loss: number;
    gradStudent: number[];
  }>;
  hint: Array<{ shape: number[]; student: number[]; teacher: number[]; loss: number; gradStudent: number[] }>;
  attention: Array<{
    p: number;
    studentShape: number[];
    teacherShape: number[];
    student: number[];
    teacher: number[];
    loss: number;
    gradStudent: number[];
  }>;
  rkd: Array<{
    distanceWeight: number;
    angleWeight: number;
    studentShape: number[];
    teacherShape: number[];
    student: number[];
    teacher: number[];
    distance: number;
    angle: number;
    loss: number;
    gradStudent: number[];
  }>;
  sp: Array<{ studentShape: number[]; teacherShape: number[]; student: number[]; teacher: number[]; loss: number; gradStudent: number[] }>;
}

const fixtures = JSON.parse(readFileSync(new URL('../../test/fixtures/feature_losses.json', import.meta.url), 'utf8')) as Fixtures;

function closeTo(actual: number, expected: number, label: string, relative = 1e-4, absolute = 1e-6): void {
  assert.ok(typeof expected === 'number' && Number.isFinite(expected), `${label}: expected value missing from the fixture`);
  const tolerance = Math.max(absolute, relative * Math.abs(expected));
  assert.ok(Math.abs(actual - expected) <= tolerance, `${label}: got ${actual}, expected ${expected} ± ${tolerance}`);
}

function allClose(actual: ArrayLike<number>, expected: number[] | undefined, label: string): void {
  assert.ok(Array.isArray(expected) && expected.length > 0, `${label}: expected values missing from the fixture`);
  assert.equal(actual.length, expected.length, `${label}: length`);
  // Relative 1e-4 per element, with a floor of 1e-6 of the largest entry for entries near zero.
  const scale = Math.max(...expected.map(Math.abs));
  for (let i = 0; i < expected.length; i++) closeTo(actual[i], expected[i], `${label}[${i}]`, 1e-4, 1e-6 * scale);
}

/** The loss value and its gradient with respect to the student input, checking that nothing leaks. */
function valueAndGradient(loss: (student: tf.Tensor) => tf.Scalar, student: tf.Tensor): { value: number; gradient: Float32Array } {
  const before = tf.memory().numTensors;
  const { value, grad } = tf.valueAndGrad(loss)(student);
  const result = { value: value.dataSync()[0], gradient: Float32Array.from(grad.dataSync()) };
  tf.dispose([value, grad]);
  assert.equal(tf.memory().numTensors, before, 'tensors leaked');
  return result;
}

const backends: BackendName[] = ['cpu', 'wasm'];

for (const backend of backends) {
  test(`losses.dkd matches mdistiller's dkd_loss in PyTorch (${backend})`, async () => {
    await initEngine({ backend });
    assert.ok(fixtures.dkd.length >= 3, 'dkd fixtures missing');
    fixtures.dkd.forEach((c, i) => {
      const student = tf.tensor(c.studentLogits, c.shape);
      const teacher = tf.tensor(c.teacherLogits, c.shape);
      const labels = tf.tensor1d(c.labels, 'int32');
      const options = { alpha: c.alpha, beta: c.beta, temperature: c.temperature };
      const { tckd, nckd } = dkdParts(student, teacher, labels, options);
      closeTo(tckd.dataSync()[0], c.tckd, `dkd case ${i} tckd`);
      closeTo(nckd.dataSync()[0], c.nckd, `dkd case ${i} nckd`);
      tf.dispose([tckd, nckd]);
      const { value, gradient } = valueAndGradient((s) => losses.dkd(s, teacher, labels, options), student);
      closeTo(value, c.loss, `dkd case ${i} loss`);
      allClose(gradient, c.gradStudent, `dkd case ${i} gradient`);
      tf.dispose([student, teacher, labels]);
    });
  });

  test(`losses.hint, attention, rkd and sp match their official code in PyTorch (${backend})`, async () => {
    await initEngine({ backend });
    const pairs = [
      ...fixtures.hint.map((c) => ({
        name: 'hint',
        ...c,
        studentShape: c.shape,
        teacherShape: c.shape,
        run: (s: tf.Tensor, t: tf.Tensor) => losses.hint(s, t),
      })),
      ...fixtures.attention.map((c) => ({
        name: `attention p=${c.p}`,
        ...c,
        run: (s: tf.Tensor, t: tf.Tensor) => losses.attention(s, t, { p: c.p }),
      })),
      ...fixtures.rkd.map((c) => ({
        name: 'rkd',
        ...c,
        run: (s: tf.Tensor, t: tf.Tensor) => losses.rkd(s, t, { distanceWeight: c.distanceWeight, angleWeight: c.angleWeight }),
      })),
      ...fixtures.sp.map((c) => ({ name: 'sp', ...c, run: (s: tf.Tensor, t: tf.Tensor) => losses.sp(s, t) })),
    ];
    for (const name of ['hint', 'attention', 'rkd', 'sp'])
      assert.ok(
        pairs.some((c) => c.name.startsWith(name)),
        `${name} fixtures missing`,
      );
    pairs.forEach((c, i) => {
      const student = tf.tensor(c.student, c.studentShape);
      const teacher = tf.tensor(c.teacher, c.teacherShape);
      const { value, gradient } = valueAndGradient((s) => c.run(s, teacher), student);
      closeTo(value, c.loss, `${c.name} (case ${i}) loss`);
      allClose(gradient, c.gradStudent, `${c.name} (case ${i}) gradient`);
      tf.dispose([student, teacher]);
    });
    fixtures.rkd.forEach((c, i) => {
      const student = tf.tensor(c.student, c.studentShape);
      const teacher = tf.tensor(c.teacher, c.teacherShape);
      const [distance, angle] = [rkdDistanceLoss(student, teacher), rkdAngleLoss(student, teacher)];
      closeTo(distance.dataSync()[0], c.distance, `rkd case ${i} distance`);
      closeTo(angle.dataSync()[0], c.angle, `rkd case ${i} angle`);
      tf.dispose([student, teacher, distance, angle]);
    });
  });
}

test('by hand: hint is the mean squared difference; attention of proportional maps is 0', async () => {
  await initEngine({ backend: 'cpu' });
  const hint = losses.hint(
    tf.tensor2d([
      [1, 2],
      [3, 4],
    ]),
    tf.tensor2d([
      [1, 0],
      [0, 4],
    ]),
  );
  closeTo(hint.dataSync()[0], (0 + 4 + 9 + 0) / 4, 'hint');
  // Teacher activations are the student's ×3 (and twice the channels): same normalized map.
  const student = tf.tensor4d([1, -2, 3, 0.5, 2, 1, -1, 4], [1, 2, 2, 2]);
  const teacher = tf.concat([tf.mul(student, 3), tf.mul(student, 3)], 3);
  closeTo(losses.attention(student, teacher).dataSync()[0], 0, 'attention', 0, 1e-7);
  // One sample whose map is [1, 4, 9, 16] / 4 per channel mean: at = [1, 4, 9, 16] / √354.
  const single = tf.tensor4d([1, 1, 2, 2, 3, 3, 4, 4], [1, 2, 2, 2]);
  const zero = tf.zeros([1, 2, 2, 3]);
  closeTo(losses.attention(single, zero).dataSync()[0], (1 + 16 + 81 + 256) / 354 / 4, 'attention against zeros');
});

test('by hand: rkd of a scaled and rotated copy of the teacher is 0; sp of orthogonal samples is 0', async () => {
  await initEngine({ backend: 'cpu' });
  const teacher = tf.tensor2d([
    [0, 0],
    [3, 0],
    [0, 4],
    [1, 1],
  ]);
  // Rotate by 90° and scale by 2: distances scale uniformly, angles are unchanged.
  const student = tf.matMul(
    teacher,
    tf.tensor2d([
      [0, 2],
      [-2, 0],
    ]),
  );
  closeTo(losses.rkd(student, teacher).dataSync()[0], 0, 'rkd', 0, 1e-5);
  // Orthogonal samples: G is the identity for both, whatever the scale.
  closeTo(losses.sp(tf.eye(3), tf.mul(tf.eye(3), 5)).dataSync()[0], 0, 'sp', 0, 1e-7);
  // Student all-identical samples against orthogonal teacher ones: G_s is all 1/√3, G_t the identity.
  const expected = (3 * (1 - 1 / Math.sqrt(3)) ** 2 + 6 * (1 / 3)) / 9;
  closeTo(losses.sp(tf.ones([3, 2]), tf.eye(3)).dataSync()[0], expected, 'sp');
});

test('the losses name the problem when shapes cannot work', async () => {
  await initEngine({ backend: 'cpu' });
  assert.throws(
    () => losses.hint(tf.zeros([2, 3]), tf.zeros([2, 4])),
    /hint: student feature \[2, 3\] and teacher feature \[2, 4\] differ in shape; an adapter/,
  );
  assert.throws(() => losses.attention(tf.zeros([2, 4, 4, 3]), tf.zeros([2, 2, 2, 3])), /attention: .* different spatial sizes/);
  assert.throws(() => losses.rkd(tf.zeros([4, 3]), tf.zeros([5, 3])), /rkd: student and teacher batch sizes differ \(4 and 5\)/);
  assert.throws(() => losses.sp(tf.zeros([4]), tf.zeros([4, 2])), /sp: the student input must have rank 2 or more/);
  assert.throws(
    () => losses.dkd(tf.zeros([2, 3]), tf.zeros([2, 4]), tf.tensor1d([0, 1], 'int32')),
    /dkd: student and teacher logits must both be \[batch, classes\]/,
  );
});
