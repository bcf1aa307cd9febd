import assert from 'node:assert/strict';
import { test } from 'node:test';
import { initEngine, tf, type BackendName } from './index.js';
import { assertClose, randomTensor } from './parity.test.util.js';

const steps = 5;

/** A small CNN touching every kernel a conv classifier trains with; seeded so both backends start equal. */
function buildModel(): tf.Sequential {
  const init = (seed: number) => tf.initializers.glorotUniform({ seed });
  return tf.sequential({
    layers: [
      tf.layers.conv2d({
        inputShape: [12, 12, 1],
        filters: 4,
        kernelSize: 3,
        padding: 'same',
        activation: 'relu',
        kernelInitializer: init(1),
      }),
      tf.layers.maxPooling2d({ poolSize: 2 }),
      tf.layers.conv2d({ filters: 6, kernelSize: 3, strides: 2, activation: 'relu', kernelInitializer: init(2) }),
      tf.layers.flatten(),
      tf.layers.dense({ units: 16, activation: 'relu', kernelInitializer: init(3) }),
      tf.layers.dropout({ rate: 0.25, seed: 4 }),
      tf.layers.dense({ units: 10, kernelInitializer: init(5) }),
    ],
  });
}

interface TrainingRun {
  losses: number[];
  /** tf.memory().numTensors after each step. */
  tensorCounts: number[];
  /** Buffers the backend holds after each step, which also counts kernels' intermediates. */
  bufferCounts: number[];
}

async function train(backend: BackendName): Promise<TrainingRun> {
  await initEngine({ backend });
  const model = buildModel();
  const optimizer = tf.train.adam(0.01);
  const images = randomTensor([8, 12, 12, 1], 20);
  const labels = tf.cast(tf.oneHot(tf.tensor1d([0, 1, 2, 3, 4, 5, 6, 7], 'int32'), 10), 'float32');
  const run: TrainingRun = { losses: [], tensorCounts: [], bufferCounts: [] };
  for (let step = 0; step < steps; step++) {
    const loss = optimizer.minimize(
      () => tf.losses.softmaxCrossEntropy(labels, model.apply(images, { training: true }) as tf.Tensor),
      true,
    );
    run.losses.push((await loss!.data())[0]);
    loss!.dispose();
    run.tensorCounts.push(tf.memory().numTensors);
    run.bufferCounts.push(tf.engine().backend.numDataIds());
  }
  tf.dispose([images, labels]);
  optimizer.dispose();
  model.dispose();
  return run;
}

test('a few Adam steps of a small CNN give the same losses on wasm as on cpu, without leaking', async () => {
  const cpu = await train('cpu');
  const wasm = await train('wasm');
  assertClose(Float32Array.from(wasm.losses), Float32Array.from(cpu.losses), 1e-4, 'loss per step');
  assert.ok(wasm.losses[steps - 1] < wasm.losses[0], `loss should fall: ${wasm.losses}`);
  // Adam creates its moment estimates on the first step; after that the count must stay put.
  for (const run of [cpu, wasm]) {
    assert.deepEqual(
      run.tensorCounts,
      run.tensorCounts.map(() => run.tensorCounts[0]),
    );
    assert.deepEqual(
      run.bufferCounts,
      run.bufferCounts.map(() => run.bufferCounts[0]),
    );
  }
});
