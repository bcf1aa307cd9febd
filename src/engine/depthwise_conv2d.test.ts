import assert from 'node:assert/strict';
import { test } from 'node:test';
import { initEngine, tf } from './index.js';
import { assertWasmMatchesCpu, randomTensor } from './parity.test.util.js';

interface DepthwiseCase {
  batch: number;
  height: number;
  width: number;
  channels: number;
  multiplier: number;
  filter: [number, number];
  strides: [number, number];
  pad: 'same' | 'valid';
}

const cases: DepthwiseCase[] = [
  { batch: 1, height: 5, width: 5, channels: 1, multiplier: 1, filter: [3, 3], strides: [1, 1], pad: 'same' },
  { batch: 3, height: 7, width: 9, channels: 4, multiplier: 1, filter: [3, 3], strides: [1, 1], pad: 'valid' },
  { batch: 2, height: 9, width: 7, channels: 3, multiplier: 2, filter: [3, 3], strides: [2, 2], pad: 'same' },
  { batch: 2, height: 8, width: 8, channels: 5, multiplier: 2, filter: [3, 3], strides: [2, 2], pad: 'valid' },
  { batch: 1, height: 11, width: 6, channels: 8, multiplier: 1, filter: [2, 3], strides: [2, 1], pad: 'same' },
  { batch: 4, height: 6, width: 7, channels: 2, multiplier: 2, filter: [5, 5], strides: [1, 1], pad: 'same' },
];

for (const c of cases) {
  const label = `depthwiseConv2d ${c.batch}x${c.height}x${c.width}x${c.channels} x${c.multiplier}, ` +
    `filter ${c.filter}, strides ${c.strides}, ${c.pad}`;
  test(`${label}: output and gradients on wasm match cpu`, async () => {
    await assertWasmMatchesCpu(label, () => {
      const x = randomTensor([c.batch, c.height, c.width, c.channels], 4) as tf.Tensor4D;
      const filter = randomTensor([...c.filter, c.channels, c.multiplier], 5) as tf.Tensor4D;
      const forward = (input: tf.Tensor4D, kernel: tf.Tensor4D) => tf.depthwiseConv2d(input, kernel, c.strides, c.pad);
      const y = forward(x, filter);
      const upstream = randomTensor(y.shape, 6);
      const [dx, dFilter] = tf.grads((input: tf.Tensor, kernel: tf.Tensor) =>
        tf.sum(tf.mul(forward(input as tf.Tensor4D, kernel as tf.Tensor4D), upstream)))([x, filter]);
      return [y, dx, dFilter];
    });
  });
}

test('depthwise backprop kernels on wasm reject dilations rather than computing wrong answers', async () => {
  await initEngine({ backend: 'wasm' });
  const x = tf.zeros([1, 6, 6, 2]);
  const dy = tf.zeros([1, 6, 6, 2]);
  const filter = tf.zeros([3, 3, 2, 1]);
  const attrs = { strides: 1, pad: 'same', dilations: 2 };
  assert.throws(
    () => tf.engine().runKernel('DepthwiseConv2dNativeBackpropFilter', { x, dy }, { ...attrs, filterShape: [3, 3, 2, 1] }),
    /dilations of 1 only/,
  );
  assert.throws(
    () => tf.engine().runKernel('DepthwiseConv2dNativeBackpropInput', { dy, filter }, { ...attrs, inputShape: [1, 6, 6, 2] }),
    /dilations of 1 only/,
  );
  tf.dispose([x, dy, filter]);
});
