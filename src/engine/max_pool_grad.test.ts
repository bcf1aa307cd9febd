import { test } from 'node:test';
import { tf } from './index.js';
import { assertWasmMatchesCpu, randomTensor } from './parity.test.util.js';

interface PoolCase {
  shape: [number, number, number, number];
  filter: number;
  stride: number;
  pad: 'same' | 'valid';
}

const cases: PoolCase[] = [
  { shape: [2, 8, 8, 3], filter: 2, stride: 2, pad: 'valid' },
  { shape: [1, 7, 9, 4], filter: 2, stride: 2, pad: 'same' },
  { shape: [3, 9, 7, 2], filter: 3, stride: 2, pad: 'same' },
  { shape: [2, 6, 5, 5], filter: 3, stride: 1, pad: 'valid' },
  { shape: [1, 5, 5, 1], filter: 3, stride: 1, pad: 'same' },
];

for (const c of cases) {
  const label = `maxPool ${c.shape.join('x')}, filter ${c.filter}, stride ${c.stride}, ${c.pad}`;
  test(`${label}: gradient on wasm matches cpu, ties included`, async () => {
    await assertWasmMatchesCpu(label, () => {
      // relu makes many windows hold several zeros: the gradient must go to the first maximum.
      const x = tf.relu(randomTensor(c.shape, 21));
      const pool = (input: tf.Tensor) => tf.maxPool(input as tf.Tensor4D, c.filter, c.stride, c.pad);
      const upstream = randomTensor(pool(x).shape, 22);
      return [tf.grad((input: tf.Tensor) => tf.sum(tf.mul(pool(input), upstream)))(x)];
    });
  });
}
