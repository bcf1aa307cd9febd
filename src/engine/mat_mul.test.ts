import assert from 'node:assert/strict';
import { test } from 'node:test';
import { tf } from './index.js';
import { prefersSwappedProduct } from './kernels/batch_mat_mul.js';
import { assertWasmMatchesCpu, randomTensor } from './parity.test.util.js';

// kdkit's own wasm kernels; src/engine/ort/kernels/mat_mul.test.ts tests ONNX Runtime's.
const plainWasm = { accelerate: 'none' } as const;

/** Shape of a stored operand: [...batch, rows, columns], swapped when the flag transposes it. */
function operandShape(batch: number[], rows: number, columns: number, transposed: boolean): number[] {
  return transposed ? [...batch, columns, rows] : [...batch, rows, columns];
}

const flagCombinations: Array<[boolean, boolean]> = [
  [false, false],
  [false, true],
  [true, false],
  [true, true],
];
const batchShapes: number[][] = [[], [3]];

for (const batch of batchShapes) {
  for (const [transposeA, transposeB] of flagCombinations) {
    const label = `matMul batch [${batch}] transposeA=${transposeA} transposeB=${transposeB}`;
    test(`${label}: output and gradients on wasm match cpu`, async () => {
      await assertWasmMatchesCpu(
        label,
        () => {
          const a = randomTensor(operandShape(batch, 5, 7, transposeA), 13);
          const b = randomTensor(operandShape(batch, 7, 6, transposeB), 14);
          const upstream = randomTensor([...batch, 5, 6], 15);
          const product = (x: tf.Tensor, y: tf.Tensor) => tf.matMul(x, y, transposeA, transposeB);
          const [da, db] = tf.grads((x: tf.Tensor, y: tf.Tensor) => tf.sum(tf.mul(product(x, y), upstream)))([a, b]);
          return [product(a, b), da, db];
        },
        1e-4,
        plainWasm,
      );
    });
  }
}

for (const [transposeA, transposeB] of flagCombinations) {
  const label = `fused matMul + bias + relu transposeA=${transposeA} transposeB=${transposeB}`;
  test(`${label}: output and gradients on wasm match cpu`, async () => {
    await assertWasmMatchesCpu(
      label,
      () => {
        const a = randomTensor(operandShape([], 8, 9, transposeA), 16);
        const b = randomTensor(operandShape([], 9, 4, transposeB), 17);
        const bias = randomTensor([4], 18);
        const upstream = randomTensor([8, 4], 19);
        const product = (x: tf.Tensor, y: tf.Tensor, z: tf.Tensor) =>
          tf.fused.matMul({ a: x, b: y, bias: z, transposeA, transposeB, activation: 'relu' });
        const [da, db, dBias] = tf.grads((x: tf.Tensor, y: tf.Tensor, z: tf.Tensor) => tf.sum(tf.mul(product(x, y, z), upstream)))([
          a,
          b,
          bias,
        ]);
        return [product(a, b, bias), da, db, dBias];
      },
      1e-4,
      plainWasm,
    );
  });
}

interface OrientationCase {
  label: string;
  aShape: number[];
  bShape: number[];
  transposeA: boolean;
  transposeB: boolean;
  /** Hand-computed costs (transpose 1, pack 2 per element); swapped when swapped < direct. */
  direct: number;
  swapped: number;
}

const orientationCases: OrientationCase[] = [
  // dy·Wᵀ: direct = 150 + 2 * 150; swapped = 12 + 2 * 12 + 4 * 50.
  { label: 'dense input gradient', aShape: [4, 3], bShape: [50, 3], transposeA: false, transposeB: true, direct: 450, swapped: 236 },
  // xᵀ·dy: direct = 200 + 2 * 12; swapped = 12 + 2 * 200 + 50 * 3.
  { label: 'dense weight gradient', aShape: [4, 50], bShape: [4, 3], transposeA: true, transposeB: false, direct: 224, swapped: 562 },
  // direct = 12 + 240 + 2 * 240; swapped = 2 * 12 + 2 * 40.
  { label: 'both flags, batch of 1', aShape: [1, 6, 2], bShape: [1, 40, 6], transposeA: true, transposeB: true, direct: 732, swapped: 104 },
  // direct = 6 + 2 * 180; swapped = 180 + 2 * 6 + 2 * 60.
  { label: 'transposeA, wide B', aShape: [3, 2], bShape: [3, 60], transposeA: true, transposeB: false, direct: 366, swapped: 312 },
];

for (const c of orientationCases) {
  test(`matMul ${c.label}: picks the cheaper orientation and matches cpu`, async () => {
    assert.equal(prefersSwappedProduct(c.aShape, c.bShape, c.transposeA, c.transposeB), c.swapped < c.direct);
    await assertWasmMatchesCpu(
      c.label,
      () => {
        const a = randomTensor(c.aShape, 30);
        const b = randomTensor(c.bShape, 31);
        const product = (x: tf.Tensor, y: tf.Tensor) => tf.matMul(x, y, c.transposeA, c.transposeB);
        const upstream = randomTensor(product(a, b).shape, 32);
        const [da, db] = tf.grads((x: tf.Tensor, y: tf.Tensor) => tf.sum(tf.mul(product(x, y), upstream)))([a, b]);
        return [product(a, b), da, db];
      },
      1e-4,
      plainWasm,
    );
  });
}
