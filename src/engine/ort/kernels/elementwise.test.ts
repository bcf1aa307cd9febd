import assert from 'node:assert/strict';
import { test } from 'node:test';
import { tf } from '../../index.js';
import { assertWasmMatchesCpu, randomTensor } from '../../parity.test.util.js';
import { ortSessionKeys } from '../index.js';

const accelerated = { accelerate: 'ort' } as const;

// 2 × 128 × 16 × 17 = 69 632 elements: above the size from which ONNX Runtime takes over.
const big = [2, 128, 16, 17];

test('ONNX Runtime add, subtract and multiply match cpu, broadcasting both ways and scalars, and their gradients', async () => {
  await assertWasmMatchesCpu(
    'binary ops',
    () => {
      const x = randomTensor(big, 81);
      const bias = randomTensor([17], 82);
      const column = randomTensor([2, 128, 16, 1], 83);
      const other = randomTensor(big, 84);
      const [dx, dBias] = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(tf.add(a, b), other)))([x, bias]);
      return [
        tf.add(x, bias),
        tf.add(bias, x),
        tf.sub(x, column),
        tf.sub(column, x),
        tf.mul(x, other),
        tf.mul(column, bias),
        tf.mul(x, tf.scalar(0.5)),
        tf.sub(tf.scalar(2), x),
        dx,
        dBias,
      ];
    },
    1e-4,
    accelerated,
  );
  for (const key of [`Add ${big} 17`, `Sub ${big} 2,128,16,1`, `Mul ${big} ${big}`]) {
    assert.ok(ortSessionKeys().includes(key), `a session for '${key}'`);
  }
});

test('ONNX Runtime relu and sum over any axes, with and without kept dimensions, match cpu', async () => {
  await assertWasmMatchesCpu(
    'relu and sums',
    () => {
      const x = randomTensor(big, 85);
      return [
        tf.relu(x),
        tf.grad((input: tf.Tensor) => tf.sum(tf.mul(tf.relu(input), x)))(x),
        tf.sum(x, [0, 1, 2]),
        tf.sum(x, [1, 3], true),
        tf.sum(x, -1),
        tf.sum(x),
      ];
    },
    1e-3,
    accelerated,
  );
  assert.ok(ortSessionKeys().includes('sum rows 4096 17'), 'ONNX Runtime summed leading axes');
  assert.ok(ortSessionKeys().includes(`ReduceSum ${big} 1,3`), 'ONNX Runtime summed other axes');
});

test('small tensors and other dtypes stay on wasm', async () => {
  await assertWasmMatchesCpu(
    'small and int32',
    () => [
      tf.add(randomTensor([3, 5], 86), randomTensor([5], 87)),
      tf.cast(
        tf.add(
          tf.tensor1d(
            Array.from({ length: 70_000 }, (_, i) => i % 7),
            'int32',
          ),
          tf.scalar(3, 'int32'),
        ),
        'float32',
      ),
    ],
    1e-6,
    accelerated,
  );
});
