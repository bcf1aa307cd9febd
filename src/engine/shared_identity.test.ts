import assert from 'node:assert/strict';
import { test } from 'node:test';
import { initEngine, tf } from './index.js';
import { assertWasmMatchesCpu, randomTensor } from './parity.test.util.js';

test('identity and same-type cast share memory on wasm: values survive disposing the source, nothing leaks', async () => {
  await initEngine({ backend: 'wasm' });
  const buffers = tf.engine().backend.numDataIds();
  const source = randomTensor([64, 33], 91);
  const expected = source.dataSync().slice();
  const copies = [tf.clone(source), tf.cast(source, 'float32'), tf.engine().runKernel('Identity', { x: source }) as tf.Tensor];
  assert.equal(tf.engine().backend.numDataIds(), buffers + 1, 'one buffer, shared');
  source.dispose();
  for (const copy of copies) assert.deepEqual(copy.dataSync(), expected);
  tf.dispose(copies);
  assert.equal(tf.engine().backend.numDataIds(), buffers);
});

test('casts between dtypes convert on wasm as on cpu; to bool is x ≠ 0, NaN included', async () => {
  await assertWasmMatchesCpu('casts', () => {
    const x = tf.concat([tf.mul(randomTensor([35], 92), 3), tf.tensor1d([0, -0, NaN, 0.25, -2])]);
    const integers = tf.cast(x, 'int32');
    return [
      tf.cast(integers, 'float32'),
      tf.cast(tf.cast(x, 'bool'), 'float32'),
      tf.cast(tf.cast(integers, 'bool'), 'float32'),
      tf.clone(x),
    ];
  });
});
