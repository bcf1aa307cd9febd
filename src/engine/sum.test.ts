import { test } from 'node:test';
import { tf } from './index.js';
import { assertWasmMatchesCpu, randomTensor } from './parity.test.util.js';

test('sum over leading axes (the fast path) on wasm matches cpu', async () => {
  await assertWasmMatchesCpu('sum leading axes', () => {
    const x = randomTensor([4, 5, 6, 3], 23);
    return [tf.sum(x, [0, 1, 2]), tf.sum(x, 0), tf.sum(x, [1, 0], true), tf.sum(randomTensor([7, 2], 24), 0)];
  });
});

test('sum over other axes and of int32 values (the stock path) on wasm matches cpu', async () => {
  await assertWasmMatchesCpu('sum other axes', () => {
    const x = randomTensor([4, 5, 6, 3], 25);
    const ints = tf.tensor2d(
      [
        [1, 2, 3],
        [4, 5, 6],
      ],
      [2, 3],
      'int32',
    );
    return [tf.sum(x), tf.sum(x, 3), tf.sum(x, [1, 3], true), tf.sum(randomTensor([9], 26), 0), tf.cast(tf.sum(ints, 0), 'float32')];
  });
});

test('bias gradient of a conv layer (a leading-axes sum) on wasm matches cpu', async () => {
  await assertWasmMatchesCpu('bias gradient', () => {
    const x = randomTensor([3, 6, 6, 4], 27);
    const bias = randomTensor([4], 28);
    const upstream = randomTensor([3, 6, 6, 4], 29);
    return [tf.grad((b: tf.Tensor) => tf.sum(tf.mul(tf.add(x, b), upstream)))(bias)];
  });
});
