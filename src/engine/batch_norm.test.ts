/**
 * The fused training batch norm (batchNormTraining) against tf.moments + tf.batchNorm and their
 * gradients on the cpu backend, and against float64 arithmetic, on cpu and on wasm (SIMD kernels
 * on both engines, and the JavaScript loops), without leaks.
 */
import { test } from 'node:test';
import { batchNormTraining } from './batch_norm.js';
import { assertAllRelative, outputsOnSetup, setups } from './batch_norm.test.util.js';
import { initEngine, tf } from './index.js';
import { type Output, outputsOn, randomTensor } from './parity.test.util.js';

interface OpCase {
  shape: number[];
  /** x = center + spread · uniform[-1, 1). */
  center: number;
  spread: number;
}

const opCases: OpCase[] = [
  { shape: [4, 5, 5, 8], center: 0, spread: 1 },
  { shape: [1, 3, 3, 17], center: 0.5, spread: 2 },
  { shape: [6, 4, 4, 3], center: 0, spread: 1 },
  { shape: [2, 3, 3, 17], center: 1000, spread: 1 },
  { shape: [3, 4, 4, 5], center: 0, spread: 1e-3 },
  { shape: [2, 6, 6, 16], center: -50, spread: 300 },
  { shape: [9, 17], center: 1, spread: 1 },
  { shape: [1, 12], center: 0, spread: 1 },
  { shape: [3, 5, 6], center: 0, spread: 1 },
];

const affines = [
  { scale: true, offset: true },
  { scale: false, offset: true },
  { scale: true, offset: false },
  { scale: false, offset: false },
];

/**
 * y, mean and variance, and the gradients of Σ y·u + Σ mean·v + Σ variance·w in x and in the scale
 * and offset there are, from `normalize`.
 */
function opOutputs(
  { shape, center, spread }: OpCase,
  affine: { scale: boolean; offset: boolean },
  normalize: (x: tf.Tensor, scale: tf.Tensor | null, offset: tf.Tensor | null) => tf.Tensor[],
): tf.Tensor[] {
  const channels = shape[shape.length - 1];
  const x = tf.add(tf.mul(randomTensor(shape, 61), spread), center);
  const scale = affine.scale ? tf.add(tf.mul(randomTensor([channels], 62), 0.5), 1) : null;
  const offset = affine.offset ? randomTensor([channels], 63) : null;
  const weights = [randomTensor(shape, 64), randomTensor([channels], 65), randomTensor([channels], 66)];
  const loss = (...args: tf.Tensor[]) => {
    const outputs = normalize(args[0], affine.scale ? args[1] : null, affine.offset ? args.at(-1)! : null);
    return tf.addN(outputs.map((output, i) => tf.sum(tf.mul(output, weights[i]))));
  };
  const variables = [x, scale, offset].filter((tensor): tensor is tf.Tensor => tensor !== null);
  return [...normalize(x, scale, offset), ...tf.grads(loss)(variables)];
}

/**
 * tfjs-layers' training batch norm: tf.moments, then tf.batchNorm, given ones for no scale and
 * zeros for no offset (tfjs-core's gradient fails without them).
 */
function stockNormalize(x: tf.Tensor, scale: tf.Tensor | null, offset: tf.Tensor | null): tf.Tensor[] {
  const { mean, variance } = tf.moments(x, [...Array(x.rank - 1).keys()]);
  const [ones, zeros] = [tf.onesLike(mean), tf.zerosLike(mean)];
  return [tf.batchNorm(x, mean, variance, offset ?? zeros, scale ?? ones, 1e-3), mean, variance];
}

function fusedNormalize(x: tf.Tensor, scale: tf.Tensor | null, offset: tf.Tensor | null): tf.Tensor[] {
  const { y, mean, variance } = batchNormTraining(x, scale, offset, 1e-3);
  return [y, mean, variance];
}

const outputNames = ['y', 'mean', 'variance', 'dx', 'dscale or doffset', 'doffset'];

for (const opCase of opCases) {
  test(`fused batch norm of ${opCase.shape.join('×')} (${opCase.center} ± ${opCase.spread}) and its gradients match tf.moments + tf.batchNorm`, async () => {
    for (const affine of affines) {
      const expected = await outputsOn('cpu', () => opOutputs(opCase, affine, stockNormalize));
      for (const setup of setups) {
        const actual = await outputsOnSetup(setup, () => opOutputs(opCase, affine, fusedNormalize));
        assertAllRelative(actual, expected, 1e-4, (i) => `${JSON.stringify(affine)} on ${setup.label}: ${outputNames[i]}`);
      }
    }
  });
}

/**
 * opOutputs with scale and offset, in float64 from the same float32 inputs: the exact values that
 * float32 arithmetic rounds. dx = γ·r/N·(N·u − Σu − x̂·Σu·x̂) + v/N + 2w·(x − μ)/N, r = 1/√(σ² + ε).
 */
function float64Outputs({ shape, center, spread }: OpCase): Output[] {
  const channels = shape[shape.length - 1];
  const inputs = tf.tidy(() => [
    tf.add(tf.mul(randomTensor(shape, 61), spread), center),
    tf.add(tf.mul(randomTensor([channels], 62), 0.5), 1),
    randomTensor([channels], 63),
    randomTensor(shape, 64),
    randomTensor([channels], 65),
    randomTensor([channels], 66),
  ]);
  const [x, scale, offset, u, v, w] = inputs.map((tensor) => tensor.dataSync());
  tf.dispose(inputs);
  const rows = x.length / channels;
  const y = new Float64Array(x.length);
  const dx = new Float64Array(x.length);
  const [mean, variance, dscale, doffset] = [0, 1, 2, 3].map(() => new Float64Array(channels));
  for (let c = 0; c < channels; c++) {
    const column = Array.from({ length: rows }, (_, row) => row * channels + c);
    mean[c] = column.reduce((sum, i) => sum + x[i], 0) / rows;
    variance[c] = column.reduce((sum, i) => sum + (x[i] - mean[c]) ** 2, 0) / rows;
    const r = 1 / Math.sqrt(variance[c] + 1e-3);
    doffset[c] = column.reduce((sum, i) => sum + u[i], 0);
    dscale[c] = column.reduce((sum, i) => sum + u[i] * (x[i] - mean[c]) * r, 0);
    for (const i of column) {
      const normalized = (x[i] - mean[c]) * r;
      y[i] = normalized * scale[c] + offset[c];
      dx[i] =
        ((scale[c] * r) / rows) * (rows * u[i] - doffset[c] - normalized * dscale[c]) + v[c] / rows + (2 * w[c] * (x[i] - mean[c])) / rows;
    }
  }
  return [y, mean, variance, dx, dscale, doffset].map((values, i) => ({
    shape: i === 0 || i === 3 ? shape : [channels],
    values: Float32Array.from(values),
  }));
}

test('the fused batch norm is within 1e-5 of float64 arithmetic, 1000 ± 1 included (tf.moments + tf.batchNorm: dx off by 2e-5)', async () => {
  for (const opCase of opCases) {
    await initEngine({ backend: 'cpu' });
    const expected = float64Outputs(opCase);
    for (const setup of setups) {
      const actual = await outputsOnSetup(setup, () => opOutputs(opCase, affines[0], fusedNormalize));
      assertAllRelative(actual, expected, 1e-5, (i) => `${opCase.shape} on ${setup.label}: ${outputNames[i]}`);
    }
  }
});
