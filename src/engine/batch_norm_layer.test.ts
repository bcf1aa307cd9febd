/**
 * tf.layers.batchNormalization with the fused batch norm (batch_norm_layer.ts) against tfjs-layers'
 * own: outputs, gradients and moving statistics of a layer; ten training steps of the zoo's
 * students with the hook and without it.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { mobileNetV2, resnet } from '../models/zoo/index.js';
import { setBatchNormFusionEnabled } from './batch_norm_layer.js';
import { assertAllRelative, outputsOnSetup, setups } from './batch_norm.test.util.js';
import { initEngine, tf } from './index.js';
import { outputsOn, randomTensor } from './parity.test.util.js';

interface LayerCase {
  shape: number[];
  config: {
    momentum?: number;
    epsilon?: number;
    axis?: number;
    scale?: boolean;
    center?: boolean;
    gammaInitializer?: 'ones';
    betaInitializer?: 'zeros';
  };
}

/**
 * Three training calls of a batch norm layer (random gamma and beta): each call's output and
 * gradients in x and the trainable weights, then the moving mean and variance.
 */
function layerOutputs({ shape, config }: LayerCase, stockConfig = config): tf.Tensor[] {
  const layer = tf.layers.batchNormalization({
    gammaInitializer: tf.initializers.randomUniform({ minval: 0.5, maxval: 1.5, seed: 67 }),
    betaInitializer: tf.initializers.randomUniform({ minval: -1, maxval: 1, seed: 68 }),
    ...stockConfig,
  });
  layer.build(shape);
  const results: tf.Tensor[] = [];
  for (let call = 0; call < 3; call++) {
    const x = tf.add(tf.mul(randomTensor(shape, 70 + call), 1 + call), call);
    const upstream = randomTensor(shape, 80 + call);
    const loss = (input: tf.Tensor) => tf.sum(tf.mul(layer.apply(input, { training: true }) as tf.Tensor, upstream)) as tf.Scalar;
    results.push(layer.apply(x, { training: true }) as tf.Tensor, tf.grad(loss)(x));
    // Where stockConfig adds a gamma or beta, compare only what the layer under test has.
    const compared = layer.trainableWeights
      .filter(
        ({ originalName }) =>
          (config.scale !== false || !originalName.endsWith('gamma')) && (config.center !== false || !originalName.endsWith('beta')),
      )
      .map((weight) => weight.read() as tf.Variable);
    if (compared.length > 0) {
      const { grads } = tf.variableGrads(() => loss(x), compared);
      results.push(...compared.map((weight) => grads[weight.name]));
    }
  }
  results.push(...layer.nonTrainableWeights.map((weight) => weight.read().clone()));
  for (const weight of layer.weights) weight.read().dispose();
  return results;
}

const layerCases: LayerCase[] = [
  { shape: [4, 5, 5, 17], config: {} },
  { shape: [2, 4, 4, 3], config: { momentum: 0.9, epsilon: 1e-5 } },
  { shape: [8, 5], config: { axis: 1, momentum: 0.5 } },
  { shape: [3, 4, 6], config: { epsilon: 0.1 } },
];

/** The same layer with fusion off on cpu (the reference) and on every setup. */
async function assertLayerMatchesStock(layerCase: LayerCase, stockConfig = layerCase.config): Promise<void> {
  setBatchNormFusionEnabled(false);
  const expected = await outputsOn('cpu', () => layerOutputs(layerCase, stockConfig)).finally(() => setBatchNormFusionEnabled(true));
  for (const setup of setups) {
    const actual = await outputsOnSetup(setup, () => layerOutputs(layerCase));
    assertAllRelative(actual, expected, 1e-4, (i) => `${setup.label}: output ${i}`);
  }
}

for (const layerCase of layerCases) {
  test(`batchNormalization(${JSON.stringify(layerCase.config)}) on ${layerCase.shape.join('×')} trains as tfjs-layers' own: outputs, gradients, moving statistics`, async () => {
    await assertLayerMatchesStock(layerCase);
  });
}

test('without gamma or beta (tfjs-layers 4.22 throws in training) the fused layer trains as one with gamma 1 and beta 0', async () => {
  for (const config of [{ scale: false }, { center: false }, { scale: false, center: false }]) {
    setBatchNormFusionEnabled(false);
    await initEngine({ backend: 'cpu' });
    const stockLayer = tf.layers.batchNormalization(config);
    assert.throws(() => tf.tidy(() => stockLayer.apply(tf.ones([2, 3]), { training: true }) as tf.Tensor), TypeError);
    for (const weight of stockLayer.weights) weight.read().dispose();
    setBatchNormFusionEnabled(true);
    const layerCase = { shape: [3, 4, 4, 6], config };
    const stockConfig: LayerCase['config'] = { scale: true, center: true };
    if ('scale' in config) stockConfig.gammaInitializer = 'ones';
    if ('center' in config) stockConfig.betaInitializer = 'zeros';
    await assertLayerMatchesStock(layerCase, stockConfig).catch((error: unknown) => {
      throw new Error(`${JSON.stringify(config)}: ${(error as Error).message}`);
    });
  }
});

test('the hook runs the fused kernel only in training with channels last, and keeps the class and config', async () => {
  await initEngine({ backend: 'wasm' });
  const kernelsOf = async (layer: ReturnType<typeof tf.layers.batchNormalization>, shape: number[], training: boolean) => {
    const profile = await tf.profile(() => tf.dispose(layer.apply(tf.ones(shape), { training }) as tf.Tensor));
    return profile.kernelNames;
  };
  const layer = tf.layers.batchNormalization();
  assert.ok((await kernelsOf(layer, [2, 3, 3, 4], true)).includes('KdkitBatchNormTraining'));
  assert.ok(!(await kernelsOf(layer, [2, 3, 3, 4], false)).includes('KdkitBatchNormTraining'));
  const channelsFirst = tf.layers.batchNormalization({ axis: 1 });
  assert.ok(!(await kernelsOf(channelsFirst, [2, 3, 3, 4], true)).includes('KdkitBatchNormTraining'));
  assert.equal(layer.getClassName(), 'BatchNormalization');
  assert.deepEqual(Object.keys(layer.getConfig()).sort(), Object.keys(tf.layers.batchNormalization().getConfig()).sort());
  tf.dispose([layer, channelsFirst].flatMap((used) => used.weights.map((weight) => weight.read())));
});

/** Ten SGD steps of `build()`'s model on a fixed batch: the loss of each, and the tensors alive after it. */
function trainZooModel(build: () => tf.LayersModel): { losses: number[]; tensorCounts: number[] } {
  const model = build();
  const optimizer = tf.train.sgd(0.05);
  const images = randomTensor([8, 12, 12, 3], 90);
  const labels = tf.tidy(() => tf.cast(tf.oneHot(tf.tensor1d([0, 1, 2, 3, 4, 0, 1, 2], 'int32'), 5), 'float32'));
  const run = { losses: [] as number[], tensorCounts: [] as number[] };
  for (let step = 0; step < 10; step++) {
    const loss = optimizer.minimize(
      () => tf.losses.softmaxCrossEntropy(labels, model.apply(images, { training: true }) as tf.Tensor),
      true,
    );
    run.losses.push(loss!.dataSync()[0]);
    loss!.dispose();
    run.tensorCounts.push(tf.memory().numTensors);
  }
  tf.dispose([images, labels]);
  optimizer.dispose();
  model.dispose();
  return run;
}

const zooStudents: Record<string, () => tf.LayersModel> = {
  resnet: () => resnet({ blocks: [1, 1], filters: [8, 16] }, { inputShape: [12, 12, 3], numClasses: 5, seed: 5 }),
  mobilenetv2: () =>
    mobileNetV2(
      {
        stages: [
          [1, 8, 1, 1],
          [6, 16, 2, 2],
        ],
        stem: 8,
        lastFilters: 32,
      },
      { inputShape: [12, 12, 3], numClasses: 5, seed: 6 },
    ),
};

/**
 * The reference trains without the hook on cpu, whose tf.moments sums in float64: on wasm the stock
 * Mean sums in float32, and by the tenth step its losses drift ~5e-4 from cpu's (the fused
 * kernels' stay within 1e-6).
 */
for (const [name, build] of Object.entries(zooStudents)) {
  test(`ten training steps of the zoo's ${name} give the same losses with the fused batch norm as without, leaking nothing`, async () => {
    await initEngine({ backend: 'cpu' });
    setBatchNormFusionEnabled(false);
    const stock = trainZooModel(build);
    setBatchNormFusionEnabled(true);
    for (const setup of [setups[0], setups[1], setups[2]]) {
      await initEngine({ backend: setup.backend, ...setup.engine });
      const before = tf.memory().numTensors;
      const fused = trainZooModel(build);
      for (const [i, loss] of fused.losses.entries()) {
        const error = Math.abs(loss - stock.losses[i]);
        assert.ok(error <= 1e-4 * Math.abs(stock.losses[i]), `${setup.label}, step ${i}: ${loss} fused, ${stock.losses[i]} stock`);
      }
      assert.ok(fused.losses[9] < fused.losses[0], `the loss should fall: ${fused.losses}`);
      assert.deepEqual(
        fused.tensorCounts,
        fused.tensorCounts.map(() => fused.tensorCounts[0]),
        `${setup.label}: tensors per step`,
      );
      assert.equal(tf.memory().numTensors, before, `${setup.label}: tensors left after training`);
    }
  });
}
