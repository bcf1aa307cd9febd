/**
 * The zoo against PyTorch: parameter counts against torchvision's own blocks, and the outputs of
 * the same weights in training mode (batch statistics) and inference mode (moving statistics),
 * with the moving statistics one training pass moves. Fixture: scripts/make_zoo_fixture.py.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '../../engine/tf.js';
import { initEngine } from '../../engine/index.js';
import { InputError } from '../../errors.js';
import { modelSpec } from '../../config/schema.js';
import { parseConfig } from '../../config/parse.js';
import { buildModel, multiplyAccumulates, specParameterCount } from '../build.js';
import { loadModelDir, saveModelDir } from '../io.js';
import { tappedModel } from '../taps.js';
import { makeDivisible } from './zoo.js';
import { mobileNetV2, resnet } from './index.js';
import { decodeModel } from '../../engine/ort/onnx_model.js';
import { exportOnnx } from '../../export/onnx.js';
import { maxExportDiff, randomizeWeights } from '../../export/onnx.test.util.js';

await initEngine({ backend: 'wasm' });

interface Values {
  shape: number[];
  values: number[];
}
interface Fixture {
  parameters: { spec: object; inputShape: [number, number, number]; classes: number; trainable: number; runningStatistics: number }[];
  modes: {
    spec: object;
    inputShape: [number, number, number];
    input: Values;
    weights: Record<string, Values[]>;
    trainLogits: number[];
    evalLogits: number[];
    movingAfterTrain: Record<string, { mean: number[]; variance: number[] }>;
  }[];
}
const fixture = JSON.parse(readFileSync(new URL('../../../test/fixtures/zoo.json', import.meta.url), 'utf8')) as Fixture;

const onnxNodeTypes = (bytes: Uint8Array) =>
  (decodeModel(bytes) as { graph: { node: { opType: string }[] } }).graph.node.map((node) => node.opType);
const size = (weights: tf.LayerVariable[]) =>
  weights.reduce((sum, weight) => sum + (weight.shape as number[]).reduce((a, b) => a * b, 1), 0);

function assertClose(actual: ArrayLike<number>, expected: number[], tolerance: number, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  let worst = 0;
  for (let i = 0; i < expected.length; i++) worst = Math.max(worst, Math.abs(actual[i] - expected[i]) / Math.max(1, Math.abs(expected[i])));
  assert.ok(worst <= tolerance, `${what}: max relative difference ${worst.toExponential(2)} > ${tolerance}`);
}

test('makeDivisible rounds as torchvision and Keras do', () => {
  // _make_divisible(v, 8): nearest multiple of 8, at least 8, never more than 10 % below v.
  assert.deepEqual(
    [32 * 1.4, 16 * 0.5, 24 * 0.75, 12, 3, 1280 * 1.4].map((v) => makeDivisible(v)),
    [48, 8, 24, 16, 8, 1792],
  );
});

test('parameter counts match PyTorch models assembled from torchvision blocks', () => {
  for (const { spec, inputShape, classes, trainable, runningStatistics } of fixture.parameters) {
    const parsed = modelSpec.parse(spec);
    const what = JSON.stringify(spec);
    assert.equal(
      specParameterCount(parsed, { inputShape, numClasses: classes, seed: 1, name: 'count' }),
      trainable + runningStatistics,
      `${what}: counted from the spec`,
    );
    if (trainable > 1_000_000) continue; // the ImageNet-sized ones are counted, not built
    const model = buildModel(parsed, { inputShape, numClasses: classes, seed: 1, name: 'zoo' });
    assert.equal(size(model.trainableWeights), trainable, `${what}: trainable weights`);
    assert.equal(size(model.nonTrainableWeights), runningStatistics, `${what}: batch norm's moving statistics`);
    model.dispose();
  }
});

test("the same weights give PyTorch's logits in training mode (batch statistics) and inference mode (moving statistics)", () => {
  for (const { spec, inputShape, input, weights, trainLogits, evalLogits, movingAfterTrain } of fixture.modes) {
    const what = JSON.stringify(spec);
    const model = buildModel(modelSpec.parse(spec), { inputShape, numClasses: 3, seed: 1, name: 'zoo' });
    const named = new Set(Object.keys(weights));
    for (const layer of model.layers) {
      const expected = weights[layer.name];
      if (layer.getWeights().length === 0) continue;
      assert.ok(expected, `${what}: the fixture has weights for layer '${layer.name}'`);
      named.delete(layer.name);
      layer.setWeights(expected.map(({ shape, values }) => tf.tensor(values, shape)));
    }
    assert.deepEqual([...named], [], `${what}: every PyTorch module maps onto a layer`);
    const x = tf.tensor(input.values, input.shape);
    tf.tidy(() => {
      assertClose((model.apply(x, { training: false }) as tf.Tensor).dataSync(), evalLogits, 1e-4, `${what}: inference mode`);
      assertClose((model.apply(x, { training: true }) as tf.Tensor).dataSync(), trainLogits, 1e-4, `${what}: training mode`);
    });
    for (const [name, { mean, variance }] of Object.entries(movingAfterTrain)) {
      const [, , movingMean, movingVariance] = model.getLayer(name).getWeights();
      assertClose(movingMean.dataSync(), mean, 1e-5, `${what}: ${name} moving mean`);
      assertClose(movingVariance.dataSync(), variance, 1e-5, `${what}: ${name} moving variance`);
    }
    x.dispose();
    model.dispose();
  }
});

test('blocks and stages are named for feature taps, with the shapes the strides give', () => {
  const resnet = buildModel(modelSpec.parse({ type: 'resnet' }), { inputShape: [28, 28, 1], numClasses: 10, seed: 1, name: 'r' });
  const shape = (model: tf.LayersModel, name: string) => model.getLayer(name).outputShape;
  assert.deepEqual(shape(resnet, 'stage_1'), [null, 28, 28, 16]);
  assert.deepEqual(shape(resnet, 'stage_2'), [null, 14, 14, 32]);
  assert.deepEqual(shape(resnet, 'block_6'), [null, 7, 7, 64]);
  assert.deepEqual(shape(resnet, 'pool'), [null, 64]);
  const mobile = buildModel(modelSpec.parse({ type: 'mobilenetv2' }), { inputShape: [28, 28, 1], numClasses: 10, seed: 1, name: 'm' });
  assert.deepEqual(
    [1, 2, 3, 4].map((stage) => shape(mobile, `stage_${stage}`)),
    [
      [null, 28, 28, 16],
      [null, 14, 14, 24],
      [null, 7, 7, 32],
      [null, 4, 4, 64],
    ],
  );
  assert.deepEqual(shape(mobile, 'block_8'), [null, 4, 4, 64]);
  // Multiply-adds by hand for the default ResNet on 28×28×1: the stem, then each block's convs.
  const conv = (size: number, k: number, cin: number, cout: number) => size * size * k * k * cin * cout;
  const expected =
    conv(28, 3, 1, 16) +
    4 * conv(28, 3, 16, 16) +
    (conv(14, 3, 16, 32) + conv(14, 3, 32, 32) + conv(14, 1, 16, 32)) +
    2 * conv(14, 3, 32, 32) +
    (conv(7, 3, 32, 64) + conv(7, 3, 64, 64) + conv(7, 1, 32, 64)) +
    2 * conv(7, 3, 64, 64) +
    64 * 10;
  assert.equal(multiplyAccumulates(resnet), expected);

  const before = tf.memory().numTensors;
  const tapped = tappedModel(mobile, ['stage_3', 'block_2'], (name) => name);
  const outputs = tf.tidy(() => (tapped.model.predict(tf.zeros([2, 28, 28, 1])) as tf.Tensor[]).map((t) => t.shape));
  assert.deepEqual(outputs[tapped.outputs.stage_3], [2, 7, 7, 32]);
  assert.deepEqual(outputs[tapped.outputs.block_2], [2, 14, 14, 24]);
  assert.equal(tf.memory().numTensors, before);
  resnet.dispose();
  mobile.dispose();
});

test('a saved ResNet and MobileNetV2 load back with the same weights and outputs, moving statistics included', async () => {
  const directory = mkdtempSync(join(tmpdir(), 'kdkit-zoo-'));
  try {
    for (const spec of [
      { type: 'resnet', bottleneck: true, blocks: [1, 1], filters: [4, 8] },
      { type: 'mobilenetv2', widthMultiplier: 0.5 },
    ]) {
      const model = buildModel(modelSpec.parse(spec), { inputShape: [12, 12, 1], numClasses: 4, seed: 2, name: 'zoo' });
      const x = tf.randomUniform([3, 12, 12, 1], 0, 1, 'float32', 5);
      tf.tidy(() => model.apply(x, { training: true }) as tf.Tensor); // moves the moving statistics off their initial values
      const path = join(directory, spec.type);
      await saveModelDir(model, path);
      const loaded = await loadModelDir(path);
      assert.deepEqual(
        loaded.getWeights().map((w) => Array.from(w.dataSync())),
        model.getWeights().map((w) => Array.from(w.dataSync())),
      );
      const [a, b] = [model, loaded].map((m) => (m.predict(x) as tf.Tensor).dataSync());
      assert.deepEqual(Array.from(a), Array.from(b));
      tf.dispose([x]);
      model.dispose();
      loaded.dispose();
    }
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
});

test('a ResNet spec with a filters entry per stage missing is exit 2 naming the field', () => {
  const config = {
    dataset: { name: 'digits' },
    teacher: { model: { type: 'resnet', blocks: [2, 2, 2], filters: [16, 32] }, epochs: 1 },
    student: { model: { type: 'mobilenetv2', stages: [[6, 16, 1, 3]] } },
    distill: { epochs: 1, terms: [{ method: 'kd', weight: 1 }] },
  };
  assert.throws(
    () => parseConfig(config, 'exp.yaml'),
    (error: unknown) =>
      error instanceof InputError &&
      /teacher\.model\.filters: 2 stages of filters for 3 stages of blocks/.test(error.message) &&
      /student\.model\.stages\[0\]\[3\]/.test(error.message),
  );
});

test('ResNet and MobileNetV2 export to ONNX with batch norm folded, ReLU6 as Clip and residual adds, matching TensorFlow.js', async () => {
  for (const [spec, layout] of [
    [{ type: 'resnet', blocks: [1, 1], filters: [4, 8] }, 'nhwc'],
    [{ type: 'resnet', bottleneck: true, blocks: [1, 1], filters: [2, 4] }, 'nchw'],
    [{ type: 'mobilenetv2', widthMultiplier: 0.5 }, 'nhwc'],
    [
      {
        type: 'mobilenetv2',
        stages: [
          [1, 8, 1, 1],
          [6, 16, 2, 2],
        ],
        stem: 8,
        lastFilters: 16,
      },
      'nchw',
    ],
  ] as const) {
    const model = buildModel(modelSpec.parse(spec), { inputShape: [28, 28, 1], numClasses: 10, seed: 3, name: 'zoo' });
    randomizeWeights(model, 4);
    const bytes = exportOnnx(model, { layout });
    const graph = onnxNodeTypes(bytes);
    assert.ok(!graph.includes('BatchNormalization'), `${spec.type}: every batch norm follows a conv and is folded into it`);
    if (spec.type === 'mobilenetv2') assert.ok(graph.includes('Clip'), 'ReLU6 is a Clip');
    assert.ok(graph.includes('Sum') || graph.includes('Add'), 'residual adds');
    const diff = await maxExportDiff(model, { layout });
    assert.ok(diff <= 1e-4, `${JSON.stringify(spec)} (${layout}): max |TensorFlow.js − ONNX Runtime| ${diff.toExponential(2)}`);
    model.dispose();
  }
});

test('resnet() and mobileNetV2() build what the config builds, for distill() users, and name a bad option', () => {
  const fromFunction = resnet({ blocks: [1, 1], filters: [4, 8] }, { inputShape: [9, 9, 2], numClasses: 3, seed: 7 });
  const fromSpec = buildModel(modelSpec.parse({ type: 'resnet', blocks: [1, 1], filters: [4, 8] }), {
    inputShape: [9, 9, 2],
    numClasses: 3,
    seed: 7,
    name: 'resnet',
  });
  assert.deepEqual(
    fromFunction.getWeights().map((w) => Array.from(w.dataSync())),
    fromSpec.getWeights().map((w) => Array.from(w.dataSync())),
  );
  const mobile = mobileNetV2({}, { inputShape: [28, 28, 1], numClasses: 10 });
  assert.equal(mobile.countParams(), 145_642);
  mobile.dispose();
  assert.throws(
    () => mobileNetV2({ widthMultiplier: -1 }, { inputShape: [28, 28, 1], numClasses: 10 }),
    (error: unknown) => error instanceof InputError && /mobileNetV2\(\): invalid spec\n.*widthMultiplier/.test(error.message),
  );
  assert.throws(
    () => resnet({}, { inputShape: [28, 28] as unknown as [number, number, number], numClasses: 10 }),
    (error: unknown) => error instanceof InputError && /resnet\(\): inputShape/.test(error.message),
  );
  fromFunction.dispose();
  fromSpec.dispose();
});
