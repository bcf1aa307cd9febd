import assert from 'node:assert/strict';
import { test } from 'node:test';
import { initEngine, tf, type AcceleratorChoice } from '../index.js';
import { assertClose, randomTensor } from '../parity.test.util.js';
import { ortSessionCount, ortSessionKeys } from './index.js';

const steps = 10;

/** An MLP whose dense layers run _FusedMatMul forward and BatchMatMul (both transposes) backward. */
function buildMlp(): tf.Sequential {
  const init = (seed: number) => tf.initializers.glorotUniform({ seed });
  return tf.sequential({
    layers: [
      tf.layers.dense({ inputShape: [37], units: 64, activation: 'relu', kernelInitializer: init(1) }),
      tf.layers.dense({ units: 29, activation: 'relu', kernelInitializer: init(2) }),
      tf.layers.dense({ units: 10, kernelInitializer: init(3) }),
    ],
  });
}

/**
 * A CNN whose convolutions run Conv2D forward and both convolution gradients backward: the first
 * (3 channels in) on gathered patches, the second's forward pass and input gradient on the blocked
 * graphs (nchwc_graph.ts).
 */
function buildCnn(): tf.Sequential {
  const init = (seed: number) => tf.initializers.glorotUniform({ seed });
  return tf.sequential({
    layers: [
      tf.layers.conv2d({
        inputShape: [12, 12, 3],
        filters: 8,
        kernelSize: 3,
        padding: 'same',
        activation: 'relu',
        kernelInitializer: init(4),
      }),
      tf.layers.maxPooling2d({ poolSize: 2 }),
      tf.layers.conv2d({ filters: 12, kernelSize: 3, activation: 'relu', kernelInitializer: init(5) }),
      tf.layers.flatten(),
      tf.layers.dense({ units: 10, kernelInitializer: init(6) }),
    ],
  });
}

/** Depthwise then pointwise convolutions (a MobileNet block), with a PReLU-free relu6 head. */
function buildDepthwiseCnn(): tf.Sequential {
  const init = (seed: number) => tf.initializers.glorotUniform({ seed });
  return tf.sequential({
    layers: [
      tf.layers.depthwiseConv2d({
        inputShape: [12, 12, 3],
        kernelSize: 3,
        depthMultiplier: 2,
        padding: 'same',
        depthwiseInitializer: init(7),
      }),
      tf.layers.reLU({ maxValue: 6 }),
      tf.layers.conv2d({ filters: 8, kernelSize: 1, activation: 'relu', kernelInitializer: init(8) }),
      tf.layers.maxPooling2d({ poolSize: 2 }),
      tf.layers.flatten(),
      tf.layers.dense({ units: 10, kernelInitializer: init(9) }),
    ],
  });
}

interface TrainingRun {
  losses: number[];
  tensorCounts: number[];
  bufferCounts: number[];
}

async function train(accelerate: AcceleratorChoice, build: () => tf.Sequential): Promise<TrainingRun> {
  const info = await initEngine({ backend: 'wasm', accelerate });
  assert.equal(info.accelerator, accelerate === 'ort' ? 'onnxruntime' : 'none');
  const model = build();
  const optimizer = tf.train.adam(0.01);
  const inputs = randomTensor([24, ...(model.inputs[0].shape.slice(1) as number[])], 50);
  const labels = tf.cast(
    tf.oneHot(
      tf.tensor1d(
        Array.from({ length: 24 }, (_, i) => (i * 7) % 10),
        'int32',
      ),
      10,
    ),
    'float32',
  );
  const run: TrainingRun = { losses: [], tensorCounts: [], bufferCounts: [] };
  for (let step = 0; step < steps; step++) {
    const loss = optimizer.minimize(
      () => tf.losses.softmaxCrossEntropy(labels, model.apply(inputs, { training: true }) as tf.Tensor),
      true,
    );
    run.losses.push((await loss!.data())[0]);
    loss!.dispose();
    run.tensorCounts.push(tf.memory().numTensors);
    run.bufferCounts.push(tf.engine().backend.numDataIds());
  }
  tf.dispose([inputs, labels]);
  optimizer.dispose();
  model.dispose();
  return run;
}

for (const [name, build] of [
  ['an MLP', buildMlp],
  ['a CNN', buildCnn],
  ['a depthwise CNN', buildDepthwiseCnn],
] as const) {
  test(`ten Adam steps of ${name} give the same losses with ONNX Runtime as with plain wasm, without leaking`, async () => {
    const plain = await train('none', build);
    const accelerated = await train('ort', build);
    assert.ok(ortSessionCount() > 0, 'ONNX Runtime ran the products');
    const kinds = {
      [buildCnn.name]: ['conv2d 24 ', 'conv2d nchwc ', 'conv2d filter grad 24 ', 'conv2d nchwc input grad '],
      // Its forward pass is the stock XNNPACK kernel's, faster than ONNX Runtime's (ort/kernels/depthwise.ts).
      [buildDepthwiseCnn.name]: ['depthwise filter grad 24 '],
    }[build.name];
    if (kinds !== undefined) {
      for (const kind of kinds) {
        assert.ok(
          ortSessionKeys().some((key) => key.startsWith(kind)),
          `a session for '${kind}…'`,
        );
      }
    }
    assertClose(Float32Array.from(accelerated.losses), Float32Array.from(plain.losses), 1e-4, 'loss per step');
    assert.ok(accelerated.losses[steps - 1] < accelerated.losses[0], `loss should fall: ${accelerated.losses}`);
    // Adam creates its moment estimates on the first step; after that the counts must stay put.
    for (const run of [plain, accelerated]) {
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
}
