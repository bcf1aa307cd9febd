import { test } from 'node:test';
import { tf } from './index.js';
import { assertWasmMatchesCpu, randomTensor } from './parity.test.util.js';

test('unsortedSegmentSum of rows on wasm matches cpu, dropping out-of-range ids', async () => {
  await assertWasmMatchesCpu('unsortedSegmentSum 2-D', () => {
    const x = randomTensor([8, 5], 7);
    const ids = tf.tensor1d([0, 3, 0, 4, 1, 3, 9, -1], 'int32');
    return [tf.unsortedSegmentSum(x, ids, 4)];
  });
});

test('unsortedSegmentSum of a vector and of int32 values on wasm matches cpu', async () => {
  await assertWasmMatchesCpu('unsortedSegmentSum 1-D', () => {
    const ids = tf.tensor1d([2, 2, 0, 1, 2, 0], 'int32');
    const floats = randomTensor([6], 8);
    const ints = tf.tensor1d([1, -2, 3, 40, 5, 6], 'int32');
    return [tf.unsortedSegmentSum(floats, ids, 3), tf.cast(tf.unsortedSegmentSum(ints, ids, 3), 'float32')];
  });
});

test('unsortedSegmentSum of rank-3 data on wasm matches cpu', async () => {
  await assertWasmMatchesCpu('unsortedSegmentSum 3-D', () => {
    const x = randomTensor([5, 3, 4], 9);
    const ids = tf.tensor1d([1, 0, 1, 1, 2], 'int32');
    return [tf.unsortedSegmentSum(x, ids, 3)];
  });
});

test('gather gradient (which uses unsortedSegmentSum) on wasm matches cpu, axis 0 and 1', async () => {
  await assertWasmMatchesCpu('gather gradient', () => {
    const params = randomTensor([6, 4], 10);
    const indices = tf.tensor1d([4, 0, 4, 2, 4, 5, 0], 'int32');
    const rows = tf.grad((p: tf.Tensor) => tf.sum(tf.mul(tf.gather(p, indices), randomTensor([7, 4], 11))))(params);
    const columns = tf.grad((p: tf.Tensor) => tf.sum(tf.mul(tf.gather(p, tf.tensor1d([3, 3, 1], 'int32'), 1), randomTensor([6, 3], 12))))(
      params,
    );
    return [rows, columns];
  });
});
