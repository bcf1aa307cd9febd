import assert from 'node:assert/strict';
import { test } from 'node:test';
import { tf } from '../../index.js';
import { assertWasmMatchesCpu, randomTensor } from '../../parity.test.util.js';
import { ortSessionCount, ortSessionKeys } from '../index.js';

const accelerated = { accelerate: 'ort' } as const;

/** Shape of a stored operand: [...batch, rows, columns], swapped when the flag transposes it. */
function operandShape(batch: number[], rows: number, columns: number, transposed: boolean): number[] {
  return transposed ? [...batch, columns, rows] : [...batch, rows, columns];
}

/** The product's value and both gradients under a fixed upstream gradient. */
function productAndGradients(aShape: number[], bShape: number[], transposeA: boolean, transposeB: boolean): tf.Tensor[] {
  const a = randomTensor(aShape, 41);
  const b = randomTensor(bShape, 42);
  const product = (x: tf.Tensor, y: tf.Tensor) => tf.matMul(x, y, transposeA, transposeB);
  const upstream = randomTensor(product(a, b).shape, 43);
  const [da, db] = tf.grads((x: tf.Tensor, y: tf.Tensor) => tf.sum(tf.mul(product(x, y), upstream)))([a, b]);
  return [product(a, b), da, db];
}

const flagCombinations: Array<[boolean, boolean]> = [
  [false, false],
  [false, true],
  [true, false],
  [true, true],
];
// Odd sizes (7×13·13×5) so that no kernel gets away with a square or aligned-only path.
const batchShapes: number[][] = [[], [1], [3]];

for (const batch of batchShapes) {
  for (const [transposeA, transposeB] of flagCombinations) {
    const label = `ONNX Runtime matMul batch [${batch}] transposeA=${transposeA} transposeB=${transposeB}`;
    test(`${label}: output and gradients match cpu`, async () => {
      await assertWasmMatchesCpu(
        label,
        () => productAndGradients(operandShape(batch, 7, 13, transposeA), operandShape(batch, 13, 5, transposeB), transposeA, transposeB),
        1e-4,
        accelerated,
      );
      assert.ok(ortSessionCount() > 0, 'ONNX Runtime ran the products');
    });
  }
}

test('ONNX Runtime matMul broadcasts a batch against a single matrix, and a 1×1 product', async () => {
  // Forward only: TensorFlow.js's BatchMatMul gradient does not reduce over broadcast batch dims.
  await assertWasmMatchesCpu(
    'batch against matrix',
    () => [tf.matMul(randomTensor([4, 7, 13], 44), randomTensor([1, 5, 13], 45), false, true)],
    1e-4,
    accelerated,
  );
  await assertWasmMatchesCpu('1×1', () => productAndGradients([1, 1], [1, 1], true, true), 1e-4, accelerated);
});

test('ONNX Runtime matMul of a dense layer of realistic size (128×300 by 300×200) matches cpu', async () => {
  await assertWasmMatchesCpu('dense layer size', () => productAndGradients([128, 300], [300, 200], false, false), 1e-4, accelerated);
});

for (const [transposeA, transposeB] of flagCombinations) {
  const label = `ONNX Runtime fused matMul + bias + relu transposeA=${transposeA} transposeB=${transposeB}`;
  test(`${label}: output and gradients match cpu`, async () => {
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
      accelerated,
    );
  });
}

test('ONNX Runtime fused matMul: batched with a full bias, and every activation with a bias, batched', async () => {
  await assertWasmMatchesCpu(
    'batched fused matMul + bias',
    () => {
      const a = randomTensor([3, 7, 13], 20);
      const b = randomTensor([3, 5, 13], 21);
      const bias = randomTensor([3, 7, 5], 22);
      const upstream = randomTensor([3, 7, 5], 23);
      const product = (x: tf.Tensor, y: tf.Tensor, z: tf.Tensor) =>
        tf.fused.matMul({ a: x, b: y, bias: z, transposeB: true, activation: 'linear' });
      const [da, db, dBias] = tf.grads((x: tf.Tensor, y: tf.Tensor, z: tf.Tensor) => tf.sum(tf.mul(product(x, y, z), upstream)))([
        a,
        b,
        bias,
      ]);
      return [product(a, b, bias), da, db, dBias];
    },
    1e-4,
    accelerated,
  );
  const activations = ['linear', 'relu', 'elu', 'sigmoid', 'leakyrelu', 'relu6', 'prelu'] as const;
  // A real batch with a bias: the stock wasm kernel disagrees with cpu here for PReLU and relu6
  // (TensorFlow.js 4.22); ONNX Runtime computes them. Values reach past 6 so that relu6 clips.
  await assertWasmMatchesCpu(
    'activations',
    () =>
      activations.flatMap((activation) =>
        [[5], [1], [4, 7, 5]].map((slopes) =>
          tf.fused.matMul({
            a: tf.mul(randomTensor([4, 7, 13], 24), 3),
            b: randomTensor([4, 13, 5], 25),
            bias: randomTensor([5], 26),
            activation,
            leakyreluAlpha: 0.3,
            preluActivationWeights: activation === 'prelu' ? randomTensor(slopes, 27) : undefined,
          }),
        ),
      ),
    1e-4,
    accelerated,
  );
  // Keys read 'matMul A B transposes bias activation alpha slopes'.
  const activationsRun = ortSessionKeys()
    .filter((key) => key.startsWith('matMul '))
    .map((key) => key.split(' ')[5]);
  assert.ok(activationsRun.includes('prelu'), 'ONNX Runtime ran PReLU');
  assert.ok(activationsRun.includes('relu6'), 'ONNX Runtime ran relu6');
});
