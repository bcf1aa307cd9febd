import assert from 'node:assert/strict';
import { test } from 'node:test';
import { tf } from './index.js';
import { collapseTile } from './kernels/tile.js';
import { assertWasmMatchesCpu, randomTensor } from './parity.test.util.js';

test('collapseTile merges runs that copy as one and repetitions of one element', () => {
  // Batch norm's gradient: a [1,1,1,C] vector over the activations.
  assert.deepEqual(collapseTile([1, 1, 1, 8], [4, 5, 6, 1]), { shape: [1, 8], reps: [120, 1] });
  assert.deepEqual(collapseTile([2, 3, 4], [1, 1, 2]), { shape: [6, 4], reps: [1, 2] });
  assert.deepEqual(collapseTile([1, 1], [1, 1]), { shape: [1], reps: [1] });
  assert.deepEqual(collapseTile([3, 1, 2], [2, 1, 3]), { shape: [3, 2], reps: [2, 3] });
});

const cases: Array<{ shape: number[]; reps: number[] }> = [
  { shape: [1, 1, 1, 8], reps: [4, 5, 6, 1] },
  { shape: [1, 1, 1, 3], reps: [2, 3, 3, 1] },
  { shape: [5], reps: [7] },
  { shape: [3, 1], reps: [1, 6] },
  { shape: [2, 3, 4], reps: [3, 1, 2] },
  { shape: [2, 1, 3, 1], reps: [2, 4, 1, 5] },
  { shape: [1, 4, 1, 2], reps: [3, 2, 2, 3] },
  { shape: [2, 3], reps: [1, 1] },
  { shape: [1], reps: [9] },
];

for (const { shape, reps } of cases) {
  test(`tile ${shape.join('x')} by ${reps.join('x')}: output and gradient on wasm match cpu`, async () => {
    await assertWasmMatchesCpu(`tile ${shape} ${reps}`, () => {
      const x = randomTensor(shape, 31);
      const tile = (input: tf.Tensor) => tf.tile(input, reps);
      const upstream = randomTensor(tile(x).shape, 32);
      return [tile(x), tf.grad((input: tf.Tensor) => tf.sum(tf.mul(tile(input), upstream)))(x)];
    });
  });
}

test('tile of int32 and bool tensors, and of an empty one, on wasm matches cpu', async () => {
  await assertWasmMatchesCpu('tile int32 bool empty', () => {
    const ints = tf.tensor2d([1, -2, 3, 4, 5, -6], [2, 3], 'int32');
    const bools = tf.tensor2d([true, false, false, true], [2, 2], 'bool');
    return [
      tf.cast(tf.tile(ints, [2, 3]), 'float32'),
      tf.cast(tf.tile(bools, [3, 1]), 'float32'),
      tf.tile(tf.zeros([0, 3]), [2, 2]),
      tf.tile(tf.scalar(2.5), []),
    ];
  });
});

test("tile's gradient is the sum of the upstream gradient over the tiles (layer norm's [1, 1, H] over [B, S, H] included)", () => {
  for (const { shape, reps } of [...cases, { shape: [1, 1, 6], reps: [3, 4, 1] }, { shape: [2, 2, 2], reps: [2, 3, 2] }]) {
    const x = randomTensor(shape, 41);
    const tiledShape = shape.map((size, axis) => size * reps[axis]);
    const upstream = randomTensor(tiledShape, 42);
    const gradient = tf.grad((input: tf.Tensor) => tf.sum(tf.mul(tf.tile(input, reps), upstream)))(x);
    // By hand: output element o reads x at o mod shape, axis by axis.
    const expected = new Float64Array(x.size);
    const values = upstream.dataSync();
    for (let flat = 0; flat < values.length; flat++) {
      let rest = flat;
      let source = 0;
      let stride = 1;
      for (let axis = shape.length - 1; axis >= 0; axis--) {
        source += ((rest % tiledShape[axis]) % shape[axis]) * stride;
        rest = Math.floor(rest / tiledShape[axis]);
        stride *= shape[axis];
      }
      expected[source] += values[flat];
    }
    for (const [i, value] of gradient.dataSync().entries()) {
      assert.ok(Math.abs(value - expected[i]) < 1e-4, `${shape} by ${reps}: ${value} vs ${expected[i]}`);
    }
    tf.dispose([x, upstream, gradient]);
  }
});
