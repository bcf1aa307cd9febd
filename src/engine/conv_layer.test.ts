/**
 * tf.layers.conv2d sparing the gradient of a step's input batch (conv_layer.ts): the same loss and
 * weight gradients as tfjs-layers' own path, one input gradient fewer, none outside
 * `withConstantInputs`, and no leak.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setConvInputSparingEnabled, withConstantInputs } from './conv_layer.js';
import { initEngine, tf } from './index.js';
import { randomTensor } from './parity.test.util.js';

/** Two convolutions (the first with a bias and `activation`, the second strided, linear, without bias), then a dense layer. */
function buildModel(activation: 'linear' | 'relu' = 'linear'): tf.LayersModel {
  const init = (seed: number) => tf.initializers.glorotUniform({ seed });
  return tf.sequential({
    layers: [
      tf.layers.conv2d({
        inputShape: [9, 8, 3],
        filters: 5,
        kernelSize: 3,
        padding: 'same',
        activation,
        kernelInitializer: init(1),
      }),
      tf.layers.conv2d({ filters: 6, kernelSize: 3, strides: 2, useBias: false, kernelInitializer: init(2) }),
      tf.layers.flatten(),
      tf.layers.dense({ units: 4, kernelInitializer: init(3) }),
    ],
  });
}

/** The loss and its gradients in every weight, and the kernels the step ran, by name. */
async function profiledStep(model: tf.LayersModel, x: tf.Tensor, constant: boolean): Promise<{ values: tf.Tensor[]; kernels: string[] }> {
  const upstream = randomTensor([x.shape[0], 4], 31);
  const weights = model.trainableWeights.map((weight) => weight.read() as tf.Variable);
  const run = () => tf.variableGrads(() => tf.sum(tf.mul(model.apply(x, { training: true }) as tf.Tensor, upstream)) as tf.Scalar, weights);
  let result: { value: tf.Scalar; grads: tf.NamedTensorMap } | undefined;
  const profile = await tf.profile(() => {
    result = constant ? withConstantInputs([x], run) : run();
    return [];
  });
  upstream.dispose();
  return {
    values: [result!.value, ...weights.map((weight) => result!.grads[weight.name])],
    kernels: profile.kernels.map(({ name }) => name),
  };
}

const count = (kernels: string[], name: string) => kernels.filter((kernel) => kernel === name).length;

for (const activation of ['linear', 'relu'] as const) {
  test(`a Conv2D (${activation}) on a constant input: the same loss and weight gradients, without the input gradient`, async () => {
    await initEngine();
    const model = buildModel(activation);
    const x = randomTensor([3, 9, 8, 3], 30);
    const spared = await profiledStep(model, x, true);
    setConvInputSparingEnabled(false);
    try {
      const stock = await profiledStep(model, x, true);
      assert.equal(spared.values.length, stock.values.length);
      for (let i = 0; i < stock.values.length; i++) {
        const [got, want] = [spared.values[i].dataSync(), stock.values[i].dataSync()];
        for (let j = 0; j < want.length; j++) {
          assert.ok(Math.abs(got[j] - want[j]) <= 1e-5 * (1 + Math.abs(want[j])), `value ${i}[${j}]: ${got[j]} vs ${want[j]}`);
        }
      }
      // The second convolution's input gradient reaches the first's weights; the first's reaches
      // nothing. tfjs-core's fused conv2d computes it for a linear layer; with ReLU, tfjs-core runs
      // Conv2D, Add and Relu unfused under gradients, and the tape skips it; the hook fuses them.
      assert.equal(count(stock.kernels, 'Conv2DBackpropInput'), activation === 'linear' ? 2 : 1);
      assert.equal(count(spared.kernels, 'Conv2DBackpropInput'), 1);
      assert.equal(count(spared.kernels, 'Conv2DBackpropFilter'), 2);
      assert.equal(count(spared.kernels, 'FusedConv2D'), 2);
      tf.dispose(stock.values);
    } finally {
      setConvInputSparingEnabled(true);
      tf.dispose([...spared.values, x]);
      model.dispose();
    }
  });
}

test('outside withConstantInputs, a Conv2D computes its input gradient, which tf.grad then gets', async () => {
  await initEngine();
  const model = buildModel();
  const x = randomTensor([2, 9, 8, 3], 40);
  const outside = await profiledStep(model, x, false);
  assert.equal(count(outside.kernels, 'Conv2DBackpropInput'), 2);
  const gradient = (input: tf.Tensor) => tf.sum(model.apply(input) as tf.Tensor) as tf.Scalar;
  const dx = tf.grad(gradient)(x);
  assert.deepEqual(dx.shape, x.shape);
  assert.ok(tf.max(tf.abs(dx)).dataSync()[0] > 0, 'the input gradient is not zero');
  tf.dispose([...outside.values, dx, x]);
  model.dispose();
});

test('repeated steps on constant inputs leak no tensor', async () => {
  await initEngine();
  const model = buildModel();
  const x = randomTensor([2, 9, 8, 3], 50);
  const counts: number[] = [];
  for (let i = 0; i < 4; i++) {
    const { values } = await profiledStep(model, x, true);
    tf.dispose(values);
    counts.push(tf.memory().numTensors);
  }
  assert.deepEqual(
    counts,
    counts.map(() => counts[0]),
  );
  x.dispose();
  model.dispose();
});
