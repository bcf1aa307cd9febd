/**
 * The training step on the device path (engine/placement.ts: tensor-op losses and updates, the
 * loss read asynchronously), taken here on the cpu backend: the same training as the host path to
 * float32 rounding, a refused step after an asynchronous read, and no tensor left behind.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '../engine/tf.js';
import { initEngine } from '../engine/index.js';
import { forceDeviceMath } from '../engine/placement.js';
import { distill } from './distill.js';
import { DivergenceError, type Callback } from './callbacks/callback.js';

await initEngine({ backend: 'cpu' });

/** Refuses step 3 of epoch 1 once, and lets the loop go on (as lrBackoff would, without a checkpoint). */
function refuseOnce(): Callback & { refused: number } {
  const callback = {
    name: 'refuse-once',
    refused: 0,
    beforeApply(values: { epoch: number; step: number }) {
      if (values.epoch === 1 && values.step === 3 && callback.refused === 0) {
        callback.refused++;
        throw new DivergenceError('refused for the test', 'student', null);
      }
    },
    onDivergence: () => true,
  };
  return callback;
}

async function train(device: boolean, optimizer: { type: 'adam' | 'momentum'; learningRate: number; momentum?: number }) {
  forceDeviceMath(device);
  try {
    const count = 96;
    const x = tf.randomUniform([count, 4, 4, 1], 0, 1, 'float32', 3);
    const y = Int32Array.from({ length: count }, (_, i) => i % 3);
    const teacherLogits = tf.randomNormal([count, 3], 0, 2, 'float32', 4);
    const init = (k: number) => ({ kernelInitializer: tf.initializers.glorotUniform({ seed: k }) });
    const input = tf.input({ shape: [4, 4, 1] });
    const hidden = tf.layers.dense({ units: 16, activation: 'relu', ...init(1) }).apply(tf.layers.flatten().apply(input));
    const student = tf.model({ inputs: input, outputs: tf.layers.dense({ units: 3, ...init(2) }).apply(hidden) as tf.SymbolicTensor });
    const refuse = refuseOnce();
    const before = tf.memory().numTensors;
    const { history } = await distill({
      teacher: { logits: teacherLogits },
      student,
      train: { x, y },
      epochs: 3,
      batchSize: 16,
      optimizer,
      callbacks: [refuse],
    });
    const leaked = tf.memory().numTensors - before;
    const weights = student.getWeights().map((weight) => Array.from(weight.dataSync()));
    tf.dispose([x, teacherLogits]);
    student.dispose();
    return { losses: history.map((record) => record.loss), weights, refused: refuse.refused, leaked };
  } finally {
    forceDeviceMath(false);
  }
}

for (const optimizer of [
  { type: 'adam' as const, learningRate: 0.01 },
  { type: 'momentum' as const, learningRate: 0.05, momentum: 0.9 },
]) {
  test(`the device path trains as the host path does, through a refused step, leaving no tensor (${optimizer.type})`, async () => {
    const host = await train(false, optimizer);
    const device = await train(true, optimizer);
    assert.deepEqual([host.refused, device.refused], [1, 1]);
    assert.deepEqual([host.leaked, device.leaked], [0, 0]);
    assert.equal(device.losses.length, 3);
    for (const [i, loss] of device.losses.entries())
      assert.ok(Math.abs(loss - host.losses[i]) <= 1e-4 * Math.abs(host.losses[i]), `epoch ${i + 1}: ${loss} vs ${host.losses[i]}`);
    const hostWeights = host.weights.flat();
    for (const [i, weight] of device.weights.flat().entries())
      assert.ok(Math.abs(weight - hostWeights[i]) <= 1e-4, `weight ${i}: ${weight} vs ${hostWeights[i]}`);
  });
}
