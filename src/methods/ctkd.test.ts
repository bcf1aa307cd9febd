import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as tf from '../engine/tf.js';
import { initEngine } from '../engine/index.js';
import { ctkd, gradientReversal, kdLossAtTemperature, reversalStrength } from './ctkd.js';
import { logSoftmaxRows } from './logits.js';

await initEngine({ backend: 'cpu' });

interface KdCase {
  temperature: number;
  studentLogits: number[][];
  teacherLogits: number[][];
  kd: number;
}
const cases = (JSON.parse(readFileSync(new URL('../../test/fixtures/losses.json', import.meta.url), 'utf8')) as { cases: KdCase[] }).cases;

/** T² · mean KL(softmax(t/T) ‖ softmax(s/T)) in float64, for finite differences. */
function kdByHand(student: number[][], teacher: number[][], temperature: number): number {
  const classes = student[0].length;
  const logS = logSoftmaxRows(student.flat(), classes, temperature);
  const logT = logSoftmaxRows(teacher.flat(), classes, temperature);
  let total = 0;
  for (let i = 0; i < logS.length; i++) total += Math.exp(logT[i]) * (logT[i] - logS[i]);
  return (temperature * temperature * total) / student.length;
}

test('KD at a tensor temperature matches PyTorch at every fixture temperature, and its temperature gradient matches finite differences', () => {
  for (const c of cases) {
    const [student, teacher] = [tf.tensor2d(c.studentLogits), tf.tensor2d(c.teacherLogits)];
    const { value, grad } = tf.valueAndGrad((t: tf.Tensor) => kdLossAtTemperature(student, teacher, t as tf.Scalar))(
      tf.scalar(c.temperature),
    );
    assert.ok(
      Math.abs(value.dataSync()[0] - c.kd) <= 1e-4 * Math.abs(c.kd) + 1e-6,
      `T=${c.temperature}: ${value.dataSync()[0]} vs ${c.kd}`,
    );
    const h = 1e-4 * c.temperature;
    const numeric =
      (kdByHand(c.studentLogits, c.teacherLogits, c.temperature + h) - kdByHand(c.studentLogits, c.teacherLogits, c.temperature - h)) /
      (2 * h);
    assert.ok(
      Math.abs(grad.dataSync()[0] - numeric) <= 2e-3 * Math.abs(numeric) + 1e-5,
      `dT at T=${c.temperature}: ${grad.dataSync()[0]} vs ${numeric}`,
    );
    tf.dispose([student, teacher, value, grad]);
  }
});

test("the reversal strength falls from 0 to −1 along half a cosine, as CTKD's CosineDecay(0, −1, 10)", () => {
  assert.deepEqual(
    [0, 5, 10, 30].map((epoch) => +reversalStrength(epoch, 10).toFixed(12)),
    [0, -0.5, -1, -1],
  );
  assert.ok(Math.abs(reversalStrength(1, 10) - ((Math.cos(Math.PI / 10) + 1) / 2 - 1)) < 1e-15);
  const x = tf.scalar(3);
  const grad = tf.grad((input: tf.Tensor) => tf.mul(gradientReversal(input, -0.25), 4))(x);
  assert.equal(grad.dataSync()[0], -1, 'identity forward, gradient × strength');
  tf.dispose([x, grad]);
});

test('the ctkd term: τ = 1 + 20·sigmoid(θ) from θ = 1, and θ receives the reversed, ramped gradient', () => {
  const c = cases[1];
  const term = ctkd.build({ minTemperature: 1, temperatureRange: 20, rampEpochs: 10 });
  const [theta] = term.variables!;
  const sigmoid = 1 / (1 + Math.exp(-1));
  const temperature = 1 + 20 * sigmoid;
  assert.ok(Math.abs(term.state!().temperature - temperature) < 1e-5);
  const [student, teacher] = [tf.tensor2d(c.studentLogits), tf.tensor2d(c.teacherLogits)];
  const labels = tf.zeros([c.studentLogits.length], 'int32') as tf.Tensor1D;
  const epoch = 3;
  const { value, grads } = tf.variableGrads(
    () => term({ studentLogits: student, teacherLogits: teacher, labels, position: { progress: 0.3, epoch } }),
    [theta],
  );
  assert.ok(Math.abs(value.dataSync()[0] - kdByHand(c.studentLogits, c.teacherLogits, temperature)) < 1e-4 * value.dataSync()[0]);
  // dL/dθ = λ · dL/dτ · 20 · σ(1)(1 − σ(1)), with dL/dτ by finite differences.
  const h = 1e-4 * temperature;
  const dTau =
    (kdByHand(c.studentLogits, c.teacherLogits, temperature + h) - kdByHand(c.studentLogits, c.teacherLogits, temperature - h)) / (2 * h);
  const expected = reversalStrength(epoch, 10) * dTau * 20 * sigmoid * (1 - sigmoid);
  const actual = grads[theta.name].dataSync()[0];
  assert.ok(expected < 0 === dTau > 0, 'the reversal flips the sign');
  assert.ok(Math.abs(actual - expected) <= 2e-3 * Math.abs(expected), `dθ ${actual} vs ${expected}`);
  tf.dispose([student, teacher, labels, value, grads]);
  term.dispose!();
  assert.ok(theta.isDisposed);
});
