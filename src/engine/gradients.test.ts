import assert from 'node:assert/strict';
import { test } from 'node:test';
import { tf } from './index.js';
import { assertClose, outputsOn, randomTensor } from './parity.test.util.js';
import { setSimdKernelsEnabled } from './simd/module.js';

/**
 * Inputs on every boundary of the masks (0, 6, the clip bounds), NaN and ±∞, then random values
 * spread over [-8, 8), then three more boundaries (163 in all: the SIMD kernel's scalar tail gets
 * them); dy random with one infinite entry, which a multiply turns into NaN where a select gives 0.
 */
function inputs(): { x: tf.Tensor; dy: tf.Tensor } {
  const special = [0, 6, -1, 5, Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 3, -0, 6.000001];
  const random = tf.mul(randomTensor([150], 41), 8);
  const x = tf.concat([tf.tensor1d(special), random, tf.tensor1d([Number.NaN, 0, 6])]);
  const dyValues = randomTensor([163], 42).dataSync().slice();
  dyValues[2] = Number.POSITIVE_INFINITY;
  return { x, dy: tf.tensor1d(dyValues) };
}

/** tfjs-core's gradients, written out with the ops they use (kdkit replaces them). */
const stockRules: Record<string, { forward: (x: tf.Tensor) => tf.Tensor; grad: (x: tf.Tensor, dy: tf.Tensor) => tf.Tensor }> = {
  relu: { forward: tf.relu, grad: (x, dy) => tf.mul(dy, tf.cast(tf.step(x), 'float32')) },
  relu6: { forward: tf.relu6, grad: (x, dy) => tf.mul(dy, tf.cast(tf.mul(tf.lessEqual(x, 6), tf.step(x)), 'float32')) },
  clipByValue: {
    forward: (x) => tf.clipByValue(x, -1, 5),
    grad: (x, dy) => tf.where(tf.logicalAnd(tf.greaterEqual(x, -1), tf.lessEqual(x, 5)), dy, tf.zerosLike(dy)),
  },
};

/** Where the gradients run: cpu, and wasm with its SIMD kernel or its JavaScript loop. */
const setups = [
  { label: 'cpu', backend: 'cpu', simd: true },
  { label: 'wasm', backend: 'wasm', simd: true },
  { label: 'wasm (JavaScript loop)', backend: 'wasm', simd: false },
] as const;

for (const [name, rule] of Object.entries(stockRules)) {
  for (const { label, backend, simd } of setups) {
    test(`${name} gradient on ${label} equals tfjs-core's, NaN, ±0 and bounds included`, async () => {
      const [expected] = await outputsOn('cpu', () => {
        const { x, dy } = inputs();
        return [rule.grad(x, dy)];
      });
      setSimdKernelsEnabled(simd);
      const [actual] = await outputsOn(backend, () => {
        const { x, dy } = inputs();
        const [gradient] = tf.grads((input: tf.Tensor) => rule.forward(input))([x], dy);
        return [gradient];
      }).finally(() => setSimdKernelsEnabled(true));
      assert.deepEqual(actual.shape, expected.shape);
      // Exactly, ±∞, NaN and the sign of zero included.
      assert.deepStrictEqual(Array.from(actual.values), Array.from(expected.values), `${name} on ${label}`);
    });
  }
}

test('relu6 via tf.layers.reLU({maxValue: 6}) trains with the same gradient on wasm as on cpu', async () => {
  const compute = () => {
    const layer = tf.layers.reLU({ maxValue: 6 });
    const x = tf.mul(randomTensor([4, 3, 3, 5], 43), 8);
    const upstream = randomTensor([4, 3, 3, 5], 44);
    return [tf.grad((input: tf.Tensor) => tf.sum(tf.mul(layer.apply(input) as tf.Tensor, upstream)))(x)];
  };
  const [expected] = await outputsOn('cpu', compute);
  const [actual] = await outputsOn('wasm', compute);
  assert.deepStrictEqual(Array.from(actual.values), Array.from(expected.values), 'reLU layer');
});

/** tfjs-core's FusedBatchNorm gradient for x: dy · tile(rsqrt(variance + ε)) · scale. */
function stockBatchNormDx(x: tf.Tensor4D, variance: tf.Tensor1D, scale: tf.Tensor1D, dy: tf.Tensor, epsilon: number) {
  const [n, h, w] = x.shape;
  const tiled = tf.tile(tf.reshape(tf.rsqrt(tf.add(variance, epsilon)), [1, 1, 1, variance.shape[0]]), [n, h, w, 1]);
  return tf.mul(tf.mul(dy, tiled), scale);
}

for (const backend of ['cpu', 'wasm'] as const) {
  test(`batchNorm gradients on ${backend} equal tfjs-core's (x without Tile), and its other gradients unchanged`, async () => {
    const shape: [number, number, number, number] = [3, 4, 5, 6];
    const make = () => ({
      x: randomTensor(shape, 45) as tf.Tensor4D,
      mean: tf.mul(randomTensor([6], 46), 0.1) as tf.Tensor1D,
      variance: tf.add(tf.abs(randomTensor([6], 47)), 0.5) as tf.Tensor1D,
      offset: randomTensor([6], 48) as tf.Tensor1D,
      scale: randomTensor([6], 49) as tf.Tensor1D,
      dy: randomTensor(shape, 50),
    });
    const expected = await outputsOn('cpu', () => {
      const { x, mean, variance, scale, dy } = make();
      // tfjs-core's gradients of mean, variance, scale and offset, which kdkit keeps.
      const xMinusMean = tf.sub(x, mean);
      const rsqrtVariance = tf.rsqrt(tf.add(variance, 1e-3));
      const dyScaled = tf.mul(dy, scale);
      const axes = [0, 1, 2];
      return [
        stockBatchNormDx(x, variance, scale, dy, 1e-3),
        tf.sum(tf.mul(tf.mul(rsqrtVariance, -1), dyScaled), axes),
        tf.sum(tf.mul(tf.mul(tf.mul(tf.pow(rsqrtVariance, 3), -0.5), xMinusMean), dyScaled), axes),
        tf.sum(dy, axes),
        tf.sum(tf.mul(dy, tf.mul(xMinusMean, rsqrtVariance)), axes),
      ];
    });
    const actual = await outputsOn(backend, () => {
      const { x, mean, variance, offset, scale, dy } = make();
      // (tfjs-core's gradient cannot save a missing scale: a batch norm without one has no gradient.)
      const gradients = tf.grads((...args: tf.Tensor[]) =>
        tf.batchNorm(
          args[0] as tf.Tensor4D,
          args[1] as tf.Tensor1D,
          args[2] as tf.Tensor1D,
          args[3] as tf.Tensor1D,
          args[4] as tf.Tensor1D,
          1e-3,
        ),
      );
      return gradients([x, mean, variance, offset, scale], dy);
    });
    assert.equal(actual.length, expected.length);
    for (const [i, output] of actual.entries())
      assertClose(output.values, expected[i].values, 1e-5, `batchNorm gradient ${i} on ${backend}`);
  });
}

test("a batchNormalization layer's gradients (moments + batchNorm, training mode) on wasm match cpu", async () => {
  const compute = () => {
    const layer = tf.layers.batchNormalization();
    const x = randomTensor([4, 5, 5, 8], 51);
    const upstream = randomTensor([4, 5, 5, 8], 52);
    layer.build(x.shape);
    const loss = (input: tf.Tensor) => tf.sum(tf.mul(layer.apply(input, { training: true }) as tf.Tensor, upstream));
    const { grads } = tf.variableGrads(
      () => loss(x) as tf.Scalar,
      layer.trainableWeights.map((weight) => weight.read() as tf.Variable),
    );
    const result = [tf.grad(loss)(x), ...Object.values(grads)];
    for (const weight of layer.weights) weight.read().dispose();
    return result;
  };
  const expected = await outputsOn('cpu', compute);
  const actual = await outputsOn('wasm', compute);
  for (const [i, output] of actual.entries()) assertClose(output.values, expected[i].values, 1e-4, `batchNormalization output ${i}`);
});
