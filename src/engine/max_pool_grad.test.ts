import assert from 'node:assert/strict';
import { test } from 'node:test';
import { tf } from './index.js';
import { assertWasmMatchesCpu, randomTensor } from './parity.test.util.js';
import { ortSessionKeys } from './ort/index.js';

interface PoolCase {
  shape: [number, number, number, number];
  filter: number | [number, number];
  stride: number | [number, number];
  pad: 'same' | 'valid';
}

const cases: PoolCase[] = [
  // Windows that tile the input: ONNX Runtime computes the gradient.
  { shape: [2, 8, 8, 3], filter: 2, stride: 2, pad: 'valid' },
  { shape: [1, 9, 6, 2], filter: 3, stride: 3, pad: 'valid' },
  { shape: [3, 4, 9, 5], filter: [2, 3], stride: [2, 3], pad: 'same' },
  // Overlapping windows, uncovered rows and padding: the JavaScript kernel does.
  { shape: [1, 7, 9, 4], filter: 2, stride: 2, pad: 'same' },
  { shape: [2, 7, 7, 3], filter: 2, stride: 2, pad: 'valid' },
  { shape: [3, 9, 7, 2], filter: 3, stride: 2, pad: 'same' },
  { shape: [2, 6, 5, 5], filter: 3, stride: 1, pad: 'valid' },
  { shape: [1, 5, 5, 1], filter: 3, stride: 1, pad: 'same' },
];

const engines = [{ accelerate: 'none' }, { accelerate: 'ort' }] as const;

for (const c of cases) for (const engine of engines) {
  const label = `maxPool ${c.shape.join('x')}, filter ${c.filter}, stride ${c.stride}, ${c.pad}, accelerate ${engine.accelerate}`;
  test(`${label}: output and gradient on wasm match cpu, ties included`, async () => {
    await assertWasmMatchesCpu(label, () => {
      // relu makes many windows hold several zeros: the gradient must go to the first maximum.
      const x = tf.relu(randomTensor(c.shape, 21));
      const pool = (input: tf.Tensor) => tf.maxPool(input as tf.Tensor4D, c.filter, c.stride, c.pad);
      const upstream = randomTensor(pool(x).shape, 22);
      return [pool(x), pool(randomTensor(c.shape, 23)), tf.grad((input: tf.Tensor) => tf.sum(tf.mul(pool(input), upstream)))(x)];
    }, 1e-4, engine);
  });
}

test('ONNX Runtime pools and computes the gradient of tiling windows', async () => {
  await assertWasmMatchesCpu('tiled 2x2', () => {
    const x = tf.relu(randomTensor([4, 6, 10, 8], 24));
    const upstream = randomTensor([4, 3, 5, 8], 25);
    return [tf.grad((input: tf.Tensor) => tf.sum(tf.mul(tf.maxPool(input as tf.Tensor4D, 2, 2, 'valid'), upstream)))(x)];
  }, 1e-4, { accelerate: 'ort' });
  assert.ok(ortSessionKeys().some((key) => key.startsWith('maxPool 4,6,10,8,')), 'ONNX Runtime pooled');
  assert.ok(ortSessionKeys().includes('maxPool grad 4,3,2,5,2,8'), 'ONNX Runtime computed the gradient');
});
