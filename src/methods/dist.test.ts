// DIST against the official PyTorch code (test/fixtures/dist_losses.json, written by
// scripts/make_fixtures.py) on both backends, plus cases worked by hand and the errors users see.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as tf from '../engine/tf.js';
import { initEngine, type BackendName } from '../engine/index.js';
import { InputError } from '../errors.js';
import { parseConfig } from '../config/parse.js';
import { losses, methods } from './index.js';
import { distParts } from './dist.js';

interface DistCase {
  beta: number;
  gamma: number;
  temperature: number;
  shape: number[];
  studentLogits: number[];
  teacherLogits: number[];
  inter: number;
  intra: number;
  loss: number;
  gradStudent: number[];
}

const fixtures = JSON.parse(readFileSync(new URL('../../test/fixtures/dist_losses.json', import.meta.url), 'utf8')) as { dist: DistCase[] };

function closeTo(actual: number, expected: number, label: string, relative = 1e-5, absolute = 1e-7): void {
  assert.ok(typeof expected === 'number' && Number.isFinite(expected), `${label}: expected value missing from the fixture`);
  const tolerance = Math.max(absolute, relative * Math.abs(expected));
  assert.ok(Math.abs(actual - expected) <= tolerance, `${label}: got ${actual}, expected ${expected} ± ${tolerance}`);
}

function allClose(actual: ArrayLike<number>, expected: number[] | undefined, label: string): void {
  assert.ok(Array.isArray(expected) && expected.length > 0, `${label}: expected values missing from the fixture`);
  assert.equal(actual.length, expected.length, `${label}: length`);
  // Relative 1e-5 per element, with a floor of 1e-5 of the largest entry for entries near zero.
  const scale = Math.max(...expected.map(Math.abs));
  for (let i = 0; i < expected.length; i++) closeTo(actual[i], expected[i], `${label}[${i}]`, 1e-5, 1e-5 * scale);
}

const backends: BackendName[] = ['cpu', 'wasm'];

for (const backend of backends) {
  test(`losses.dist matches the official DIST in PyTorch: value, parts and student gradient, leaking nothing (${backend})`, async () => {
    await initEngine({ backend });
    assert.ok(fixtures.dist.length >= 5, 'dist fixtures missing');
    assert.ok(
      fixtures.dist.some((c) => c.temperature === 1) && fixtures.dist.some((c) => c.temperature === 4),
      'fixtures lack T = 1 or T = 4',
    );
    fixtures.dist.forEach((c, i) => {
      const label = `dist case ${i} (${c.shape.join('×')}, T=${c.temperature}, β=${c.beta}, γ=${c.gamma})`;
      const student = tf.tensor(c.studentLogits, c.shape);
      const teacher = tf.tensor(c.teacherLogits, c.shape);
      const options = { beta: c.beta, gamma: c.gamma, temperature: c.temperature };
      const before = tf.memory().numTensors;
      const { inter, intra } = distParts(student, teacher, options);
      closeTo(inter.dataSync()[0], c.inter, `${label} inter`);
      closeTo(intra.dataSync()[0], c.intra, `${label} intra`);
      tf.dispose([inter, intra]);
      const { value, grad } = tf.valueAndGrad((s: tf.Tensor) => losses.dist(s, teacher, options))(student);
      closeTo(value.dataSync()[0], c.loss, `${label} loss`);
      allClose(grad.dataSync(), c.gradStudent, `${label} gradient`);
      tf.dispose([value, grad]);
      assert.equal(tf.memory().numTensors, before, `${label}: tensors leaked`);
      tf.dispose([student, teacher]);
    });
  });
}

test('by hand: a student equal to its teacher gives 0 at any temperature, and a reversed ranking gives 2·T² per part', async () => {
  await initEngine({ backend: 'cpu' });
  const logits = tf.tensor2d([
    [3, -1, 0.5, 2],
    [-4, 4, 0, 1],
    [0.2, 0.1, -0.3, 5],
  ]);
  for (const temperature of [1, 4]) {
    // Not exactly 0: the official 1e-8 in ρ's denominator leaves T² · 1e-8 / ‖a − ā‖² per row or
    // column (PyTorch gives 5.4e-6 at T = 1 and 8.0e-5 at T = 4 here, in float64).
    const options = { temperature, beta: 2, gamma: 3 };
    const { value, grad } = tf.valueAndGrad((s: tf.Tensor) => losses.dist(s, logits, options))(logits);
    closeTo(value.dataSync()[0], 0, `T=${temperature}`, 0, 1e-4);
    for (const [i, entry] of grad.dataSync().entries()) closeTo(entry, 0, `gradient[${i}] at T=${temperature}`, 0, 1e-4);
    tf.dispose([value, grad]);
  }
  // Two classes, two samples: every centred probability vector is ±(d, −d), so ρ = −1 wherever
  // the student ranks the other way round, and inter = intra = T² · (1 − (−1)).
  const student = tf.tensor2d([
    [1, 0],
    [0, 1],
  ]);
  const teacher = tf.tensor2d([
    [0, 2],
    [2, 0],
  ]);
  const { inter, intra } = distParts(student, teacher, { temperature: 2 });
  closeTo(inter.dataSync()[0], 8, 'inter');
  closeTo(intra.dataSync()[0], 8, 'intra');
  closeTo(losses.dist(student, teacher, { temperature: 2, beta: 1, gamma: 0.5 }).dataSync()[0], 12, 'β · 8 + γ · 8');
  tf.dispose([logits, student, teacher, inter, intra]);
});

test('dist names the problem when the logits cannot be paired', async () => {
  await initEngine({ backend: 'cpu' });
  assert.throws(() => losses.dist(tf.zeros([2, 3]), tf.zeros([2, 4])), /dist: student and teacher logits must both be \[batch, classes\]/);
  assert.throws(() => losses.dist(tf.zeros([6]), tf.zeros([6])), /dist: .*got \[6\] and \[6\]/);
});

test("dist's options default to the official code's and bad ones are rejected naming the field", () => {
  assert.deepEqual(methods.get('dist').options.parse({}), { beta: 1, gamma: 1, temperature: 1 });
  const withTerm = (term: Record<string, unknown>) => ({
    dataset: { name: 'digits' },
    teacher: { load: 'teacher/model.json' },
    student: { model: { type: 'mlp', hidden: [8] } },
    distill: {
      epochs: 1,
      terms: [
        { method: 'ce', weight: 0.5 },
        { method: 'dist', weight: 1, ...term },
      ],
    },
  });
  const parsed = parseConfig(withTerm({ beta: 2, gamma: 0.5, temperature: { schedule: 'linear', from: 4, to: 1 } }));
  assert.deepEqual(parsed.distill.terms[1].options, { beta: 2, gamma: 0.5, temperature: { schedule: 'linear', from: 4, to: 1 } });
  const rejects = (term: Record<string, unknown>, pattern: RegExp) =>
    assert.throws(
      () => parseConfig(withTerm(term), 'exp.yaml'),
      (error: unknown) => {
        assert.ok(error instanceof InputError, `expected InputError, got ${String(error)}`);
        assert.match(error.message, pattern);
        return true;
      },
    );
  rejects({ beta: -1 }, /distill\.terms\[1\]\.beta: Too small/);
  rejects({ gamma: 'one' }, /distill\.terms\[1\]\.gamma: expected number, received string/);
  rejects({ temperature: 0 }, /distill\.terms\[1\]\.temperature/);
  rejects({ tau: 4 }, /distill\.terms\[1\]\.tau: unknown key/);
});
