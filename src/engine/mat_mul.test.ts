import { test } from 'node:test';
import { tf } from './index.js';
import { assertWasmMatchesCpu, randomTensor } from './parity.test.util.js';

/** Shape of a stored operand: [...batch, rows, columns], swapped when the flag transposes it. */
function operandShape(batch: number[], rows: number, columns: number, transposed: boolean): number[] {
  return transposed ? [...batch, columns, rows] : [...batch, rows, columns];
}

const flagCombinations: Array<[boolean, boolean]> = [[false, false], [false, true], [true, false], [true, true]];
const batchShapes: number[][] = [[], [3]];

for (const batch of batchShapes) {
  for (const [transposeA, transposeB] of flagCombinations) {
    const label = `matMul batch [${batch}] transposeA=${transposeA} transposeB=${transposeB}`;
    test(`${label}: output and gradients on wasm match cpu`, async () => {
      await assertWasmMatchesCpu(label, () => {
        const a = randomTensor(operandShape(batch, 5, 7, transposeA), 13);
        const b = randomTensor(operandShape(batch, 7, 6, transposeB), 14);
        const upstream = randomTensor([...batch, 5, 6], 15);
        const product = (x: tf.Tensor, y: tf.Tensor) => tf.matMul(x, y, transposeA, transposeB);
        const [da, db] = tf.grads((x: tf.Tensor, y: tf.Tensor) => tf.sum(tf.mul(product(x, y), upstream)))([a, b]);
        return [product(a, b), da, db];
      });
    });
  }
}

for (const [transposeA, transposeB] of flagCombinations) {
  const label = `fused matMul + bias + relu transposeA=${transposeA} transposeB=${transposeB}`;
  test(`${label}: output and gradients on wasm match cpu`, async () => {
    await assertWasmMatchesCpu(label, () => {
      const a = randomTensor(operandShape([], 8, 9, transposeA), 16);
      const b = randomTensor(operandShape([], 9, 4, transposeB), 17);
      const bias = randomTensor([4], 18);
      const upstream = randomTensor([8, 4], 19);
      const product = (x: tf.Tensor, y: tf.Tensor, z: tf.Tensor) =>
        tf.fused.matMul({ a: x, b: y, bias: z, transposeA, transposeB, activation: 'relu' });
      const [da, db, dBias] = tf.grads((x: tf.Tensor, y: tf.Tensor, z: tf.Tensor) =>
        tf.sum(tf.mul(product(x, y, z), upstream)))([a, b, bias]);
      return [product(a, b, bias), da, db, dBias];
    });
  });
}
