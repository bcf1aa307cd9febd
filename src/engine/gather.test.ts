import assert from 'node:assert/strict';
import { test } from 'node:test';
import { tf } from './index.js';
import { assertWasmMatchesCpu, outputsOn, randomTensor } from './parity.test.util.js';

test('gather on wasm (row copies) matches cpu on every axis, int32 and float32, with its gradient', async () => {
  await assertWasmMatchesCpu('gather', () => {
    const table = randomTensor([9, 5], 61);
    const ids = tf.tensor2d([3, 0, 8, 3, 1, 1], [2, 3], 'int32');
    const cube = randomTensor([3, 4, 6], 62);
    const ints = tf.tensor2d([1, 2, 3, 4, 5, 6], [3, 2], 'int32');
    const upstream = randomTensor([2, 3, 5], 63);
    return [
      // An embedding lookup: rows of a table by a [batch, sequence] of ids.
      tf.gather(table, ids),
      tf.gather(cube, tf.tensor1d([5, 0, 5], 'int32'), 2),
      tf.gather(cube, tf.tensor1d([2, 2], 'int32'), 1),
      tf.cast(tf.gather(ints, tf.tensor1d([2, 0], 'int32')), 'float32'),
      tf.gather(table, tf.tensor1d([], 'int32')),
      tf.grad((t: tf.Tensor) => tf.sum(tf.mul(tf.gather(t, ids), upstream)))(table),
    ];
  });
});

test('gather on wasm refuses an index out of range, as the cpu kernel does', async () => {
  await outputsOn('wasm', () => []);
  const table = tf.zeros([4, 2]);
  const buffers = tf.engine().backend.numDataIds();
  assert.throws(() => tf.gather(table, tf.tensor1d([1, 4], 'int32')), /index value 4 is not in \[0, 3\]/);
  assert.throws(() => tf.gather(table, tf.tensor1d([-1], 'int32')), /index value -1 is not in \[0, 3\]/);
  assert.equal(tf.engine().backend.numDataIds(), buffers + 2, 'only the two index tensors were allocated');
  table.dispose();
});
