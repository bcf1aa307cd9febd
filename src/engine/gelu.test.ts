import assert from 'node:assert/strict';
import { test } from 'node:test';
import { tf } from './index.js';
import { assertClose, outputsOn, randomTensor } from './parity.test.util.js';

// tfjs-core's GELU as tfjs-layers wrote it, x · ½ · (1 + erf(x / √2)), and its gradient by
// autodiff through tfjs-core's erf: the reference for kdkit's one-pass kernels.
const stockGelu = (x: tf.Tensor) => tf.mul(x, tf.mul(0.5, tf.add(1, tf.erf(tf.div(x, Math.SQRT2)))));

function compute(size: number, useLayer: boolean): () => tf.Tensor[] {
  return () => {
    const x = tf.mul(randomTensor([size], 51), 4);
    const dy = randomTensor([size], 52);
    // Through the layer: tfjs-layers' 'gelu' activation, which kdkit wraps to run its kernel.
    const activation = tf.layers.activation({ activation: 'gelu' });
    const gelu = useLayer ? (input: tf.Tensor) => activation.apply(input) as tf.Tensor : stockGelu;
    const [y, dx] = [gelu(x), tf.grad((input: tf.Tensor) => tf.sum(tf.mul(gelu(input), dy)))(x)];
    // Zero, and far out where Φ is 0 or 1.
    return [y, dx, gelu(tf.tensor1d([0, -0, 10, -10, 30, -30]))];
  };
}

// 1,000 values take the JavaScript kernels; 100,000 ONNX Runtime's graph on wasm.
for (const size of [1000, 100_000]) {
  for (const [label, backend, engine] of [
    ['cpu', 'cpu', {}],
    ['wasm', 'wasm', {}],
    ['wasm without ONNX Runtime', 'wasm', { accelerate: 'none' }],
  ] as const) {
    test(`gelu and its gradient on ${label}, ${size} values, equal tfjs-core's erf composition`, async () => {
      const expected = await outputsOn('cpu', compute(size, false));
      const actual = await outputsOn(backend, compute(size, true), engine);
      for (const [i, output] of actual.entries()) assertClose(output.values, expected[i].values, 2e-6, `${label} output ${i}`);
    });
  }
}

test("the gelu layer runs kdkit's kernels forward and backward, and no stock Erf", async () => {
  await outputsOn('wasm', () => []);
  const profile = await tf.profile(() => {
    const x = randomTensor([64], 54);
    const activation = tf.layers.activation({ activation: 'gelu' });
    return tf.grad((input: tf.Tensor) => tf.sum(activation.apply(input) as tf.Tensor))(x);
  });
  tf.dispose(profile.result as tf.Tensor);
  const kernels = profile.kernels.map((kernel) => kernel.name);
  assert.ok(kernels.includes('KdkitGelu') && kernels.includes('KdkitGeluGrad'), kernels.join(' '));
  assert.ok(!kernels.includes('Erf'), kernels.join(' '));
});
