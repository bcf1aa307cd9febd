import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '../engine/tf.js';
import { initEngine } from '../engine/index.js';
import { measureMemory } from './memory.js';

await initEngine({ backend: 'wasm' });

/** Dense 4 → 3: a 4×3 kernel and 3 biases, 15 float32 weights. */
const model = tf.sequential({ layers: [tf.layers.dense({ units: 3, inputShape: [4], activation: 'relu' })] });

/**
 * By hand, for a batch of b: the weights (15 · 4 = 60 bytes), the input (4b floats), and the
 * tensors alive at the peak of the forward pass. TensorFlow.js's fused matMul reshapes its input
 * (16b bytes) and the kernel (48) to rank 3 and its output (12b) back to rank 2 (12b), and counts
 * each reshaped tensor in full: 40b + 48.
 */
const expectedPeakBytes = (batch: number) => 60 + 16 * batch + (40 * batch + 48);

/** Another task allocating 1 MB more between each of its awaits, which must not count in the model's peak. */
async function allocatingWork(rounds: number): Promise<void> {
  const blocks: tf.Tensor[] = [];
  for (let round = 0; round < rounds; round++) {
    blocks.push(tf.fill([256 * 1024], 1));
    await Promise.resolve();
  }
  tf.dispose(blocks);
}

test('the memory of a forward pass is its own, beside another task allocating between awaits', async () => {
  const [memory] = await Promise.all([
    (async () => {
      await Promise.resolve();
      return measureMemory(model, [{ name: 'x', dtype: 'float32', shape: [4] }], 8);
    })(),
    allocatingWork(8),
  ]);
  assert.deepEqual(memory, { weightBytes: 60, peakBytesBatch1: expectedPeakBytes(1), peakBytesBatchN: expectedPeakBytes(8) });
});

test("measuring memory during another task's tf.profile leaves that profile its own kernels, and leaks nothing", async () => {
  const tensors = tf.memory().numTensors;
  const operand = tf.ones([2]);
  const outer = tf.profile(async () => {
    await new Promise((resolve) => setImmediate(resolve));
    return tf.add(operand, operand);
  });
  assert.equal(measureMemory(model, [{ name: 'x', dtype: 'float32', shape: [4] }], 1).peakBytesBatch1, expectedPeakBytes(1));
  const profile = await outer;
  assert.deepEqual(
    profile.kernels.map((kernel) => kernel.name),
    ['Add'],
  );
  assert.equal(tf.engine().state.profiling, false);
  (profile.result as tf.Tensor).dispose();
  operand.dispose();
  assert.equal(tf.memory().numTensors, tensors);
});
