import assert from 'node:assert/strict';
import { test } from 'node:test';
import { tf } from './index.js';
import { assertClose, outputsOn, randomTensor } from './parity.test.util.js';
import { setSimdKernelsEnabled } from './simd/module.js';

// Layer norm over the last axis written with tfjs-core ops, its gradients by autodiff: the
// reference for kdkit's fused kernels, which tf.layers.layerNormalization runs.
function stockLayerNorm(x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor, epsilon: number): tf.Tensor {
  const { mean, variance } = tf.moments(x, -1, true);
  return tf.add(tf.mul(tf.div(tf.sub(x, mean), tf.sqrt(tf.add(variance, epsilon))), gamma), beta);
}

interface Options {
  center: boolean;
  scale: boolean;
}

/**
 * [y, dy/dx, then the gradients of the layer's weights (gain, bias as it has them)] through the
 * layer (fused) or through stockLayerNorm.
 */
function compute(shape: number[], options: Options, fused: boolean): () => tf.Tensor[] {
  return () => {
    const columns = shape[shape.length - 1];
    const epsilon = 1e-3;
    const x = tf.add(tf.mul(randomTensor(shape, 71), 3), 1);
    const upstream = randomTensor(shape, 74);
    const gamma = options.scale ? tf.add(randomTensor([columns], 72), 1) : tf.ones([columns]);
    const beta = options.center ? randomTensor([columns], 73) : tf.zeros([columns]);
    const weighted = (y: tf.Tensor) => tf.sum(tf.mul(y, upstream)) as tf.Scalar;
    if (!fused) {
      const normalize = (input: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => stockLayerNorm(input, g, b, epsilon);
      const [dx, dgamma, dbeta] = tf.grads((input: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => weighted(normalize(input, g, b)))([
        x,
        gamma,
        beta,
      ]);
      return [normalize(x, gamma, beta), dx, ...(options.scale ? [dgamma] : []), ...(options.center ? [dbeta] : [])];
    }
    const layer = tf.layers.layerNormalization({ epsilon, ...options });
    layer.build(x.shape);
    layer.setWeights([...(options.scale ? [gamma] : []), ...(options.center ? [beta] : [])]);
    const y = layer.apply(x) as tf.Tensor;
    const dx = tf.grad((input: tf.Tensor) => weighted(layer.apply(input) as tf.Tensor))(x);
    const variables = layer.trainableWeights.map((weight) => weight.read() as tf.Variable);
    const outputs = [y, dx];
    if (variables.length > 0) {
      const { value, grads } = tf.variableGrads(() => weighted(layer.apply(x) as tf.Tensor), variables);
      outputs.push(...variables.map((variable) => tf.clone(grads[variable.name])));
      tf.dispose([value, grads]);
    }
    for (const weight of layer.weights) weight.dispose();
    return outputs;
  };
}

for (const shape of [
  [4, 7],
  [3, 5, 16],
  [64, 32, 256],
]) {
  // wasm runs the SIMD kernels (../simd/assembly/layer_norm.ts), and with them off its JavaScript loops.
  for (const [backend, simd] of [
    ['cpu', true],
    ['wasm', true],
    ['wasm', false],
  ] as const) {
    test(`layer norm [${shape}] on ${backend}${simd ? '' : ' without SIMD'}: output and gradients equal tfjs-core's composition`, async () => {
      const options = { center: true, scale: true };
      const expected = await outputsOn('cpu', compute(shape, options, false));
      setSimdKernelsEnabled(simd);
      try {
        const actual = await outputsOn(backend, compute(shape, options, true));
        assert.equal(actual.length, 4);
        for (const [i, output] of actual.entries()) assertClose(output.values, expected[i].values, 1e-4, `[${shape}] output ${i}`);
      } finally {
        setSimdKernelsEnabled(true);
      }
    });
  }
}

test('layer norm without a gain, or without gain and bias, equals the composition too', async () => {
  for (const options of [
    { center: true, scale: false },
    { center: false, scale: false },
  ]) {
    const expected = await outputsOn('cpu', compute([6, 9], options, false));
    const actual = await outputsOn('wasm', compute([6, 9], options, true));
    assert.equal(actual.length, expected.length);
    for (const [i, output] of actual.entries())
      assertClose(output.values, expected[i].values, 1e-4, `${JSON.stringify(options)} output ${i}`);
  }
});
