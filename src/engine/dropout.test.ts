import assert from 'node:assert/strict';
import { test } from 'node:test';
import { tf } from './index.js';
import { dropout } from './dropout_op.js';
import { keepThreshold } from './kernels/dropout.js';
import { outputsOn, randomTensor } from './parity.test.util.js';
import { setSimdKernelsEnabled } from './simd/module.js';
import { withMathRandom } from '../util/seeded_random.js';
import { Rng } from '../util/rng.js';

/** [y, dL/dx with L = Σ y · upstream] of a dropout layer while training, Math.random seeded. */
const layerOutputs = (shape: number[], rate: number) => () =>
  withMathRandom(new Rng(11), () => {
    const layer = tf.layers.dropout({ rate });
    const x = randomTensor(shape, 3);
    const upstream = randomTensor(shape, 4);
    const y = layer.apply(x, { training: true }) as tf.Tensor;
    const dx = tf.grad((input: tf.Tensor) => tf.sum(tf.mul(layer.apply(input, { training: true }) as tf.Tensor, upstream)))(x);
    return [y, dx, x, upstream];
  });

test('dropout: the SIMD kernel, its JavaScript fallback and the cpu backend draw the same mask; y = x · m and dx = dy · m', async () => {
  const shape = [7, 143]; // 1,001 elements: the SIMD kernel's scalar tail runs too
  const rate = 0.3;
  const runs = [];
  for (const [backend, simd] of [
    ['wasm', true],
    ['wasm', false],
    ['cpu', true],
  ] as const) {
    setSimdKernelsEnabled(simd);
    try {
      runs.push(await outputsOn(backend, layerOutputs(shape, rate)));
    } finally {
      setSimdKernelsEnabled(true);
    }
  }
  const [[y, dx, x, upstream]] = runs;
  for (const run of runs.slice(1)) {
    assert.deepEqual(run[0].values, y.values);
    assert.deepEqual(run[1].values, dx.values);
  }
  const scale = Math.fround(1 / (1 - rate));
  let kept = 0;
  for (let i = 0; i < x.values.length; i++) {
    // The second call draws a new mask: each is checked on its own, against its input.
    const keptHere = y.values[i] !== 0;
    kept += keptHere ? 1 : 0;
    if (keptHere) assert.equal(y.values[i], Math.fround(x.values[i] * scale));
    if (dx.values[i] !== 0) assert.equal(dx.values[i], Math.fround(upstream.values[i] * scale));
  }
  // 1,001 draws at keep 0.7: mean 700.7, σ 14.5.
  assert.ok(Math.abs(kept - 700.7) < 5 * 14.5, `kept ${kept}`);
});

test('dropout keeps each element with probability 1 − rate, independently of its neighbours', () => {
  for (const rate of [0.1, 0.5]) {
    const n = 200_000;
    const mask = withMathRandom(new Rng(5), () => tf.tidy(() => dropout(tf.ones([n]), rate).dataSync() as Float32Array));
    let kept = 0;
    let bothKept = 0;
    for (let i = 0; i < n; i++) {
      if (mask[i] !== 0) kept++;
      if (i > 0 && mask[i] !== 0 && mask[i - 1] !== 0) bothKept++;
    }
    const keep = 1 - rate;
    const sigma = Math.sqrt(n * keep * rate);
    assert.ok(Math.abs(kept - n * keep) < 5 * sigma, `rate ${rate}: kept ${kept} of ${n}`);
    // Pairs of neighbours are both kept with probability keep², as for independent draws.
    assert.ok(Math.abs(bothKept / (n - 1) - keep * keep) < 0.01, `rate ${rate}: neighbours both kept ${bothKept / (n - 1)}`);
    assert.equal(keepThreshold(rate), Math.round(keep * 2 ** 24));
  }
});

test('dropout is the identity outside training, and the same Math.random seed gives the same mask', async () => {
  const layer = tf.layers.dropout({ rate: 0.5 });
  const x = tf.ones([64]);
  assert.deepEqual((layer.apply(x, { training: false }) as tf.Tensor).dataSync(), x.dataSync());
  const draw = () => withMathRandom(new Rng(9), () => (layer.apply(x, { training: true }) as tf.Tensor).dataSync());
  assert.deepEqual(draw(), draw());
  const other = withMathRandom(new Rng(10), () => (layer.apply(x, { training: true }) as tf.Tensor).dataSync());
  assert.notDeepEqual(other, draw());
});
