import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '../engine/tf.js';
import { initEngine } from '../engine/index.js';
import { decodeModel } from '../engine/ort/onnx_model.js';
import { InputError } from '../errors.js';
import { buildModel } from '../models/build.js';
import { exportOnnx, exportOnnxAsync, onnxOpset } from './onnx.js';
import { writeOnnx } from './onnx_file.js';
import { maxExportDiff, randomizeWeights, seededModel } from './onnx.test.util.js';
import { OnnxSession, measureOnnxLatency, onnxLogits, verifyOnnx } from './onnx_run.js';
import { timeCallsAsync } from '../eval/latency.js';
import { imageDataset, imageField } from '../data/dataset.js';

await initEngine({ backend: 'wasm' });

const imageShape = [12, 12, 1] as const;
const build = (spec: Parameters<typeof buildModel>[0], seed = 1) => {
  const model = buildModel(spec, { inputShape: imageShape, numClasses: 10, seed, name: 'zoo' });
  randomizeWeights(model, seed);
  return model;
};
const cnnSpec = { type: 'cnn' as const, filters: [8, 16], kernelSize: 3, dense: [32], dropout: 0.3, batchNorm: true };
const mlpSpec = { type: 'mlp' as const, hidden: [64, 32], dropout: 0.2, activation: 'relu' as const };
const randomImages = (count: number, seed: number) =>
  tf.tidy(() => tf.randomUniform([count, ...imageShape], 0, 1, 'float32', seed).dataSync() as Float32Array);

interface DecodedGraph {
  input: { name: string; type: { tensorType: { shape: { dim: object[] } } } }[];
  output: { name: string; type: { tensorType: { shape: { dim: object[] } } } }[];
  node: { opType: string }[];
  initializer: { name: string; dims: number[]; dataType: number; rawData: Uint8Array }[];
}
const graphOf = (bytes: Uint8Array) => (decodeModel(bytes) as { graph: DecodedGraph }).graph;
const opTypes = (bytes: Uint8Array) => graphOf(bytes).node.map((node) => node.opType);

test('the exported graph has a symbolic batch, the input layer name, logits, and folded batch norm', () => {
  const model = build(cnnSpec);
  const nhwc = exportOnnx(model);
  const decoded = decodeModel(nhwc) as { irVersion: number; opsetImport: unknown[]; graph: DecodedGraph };
  assert.equal(onnxOpset, 17);
  assert.deepEqual(decoded.opsetImport, [{ version: 17 }]);
  assert.deepEqual(
    decoded.graph.input.map((value) => [value.name, value.type.tensorType.shape.dim]),
    [['image', [{ dimParam: 'batch' }, { dimValue: 12 }, { dimValue: 12 }, { dimValue: 1 }]]],
  );
  assert.deepEqual(
    decoded.graph.output.map((value) => [value.name, value.type.tensorType.shape.dim]),
    [['logits', [{ dimParam: 'batch' }, { dimValue: 10 }]]],
  );
  // One Transpose into NCHW, one back before Flatten; batch norm folded into the convs; dropout gone.
  assert.deepEqual(opTypes(nhwc), [
    'Transpose',
    'Conv',
    'Relu',
    'MaxPool',
    'Conv',
    'Relu',
    'MaxPool',
    'Transpose',
    'Flatten',
    'Gemm',
    'Relu',
    'Gemm',
  ]);
  assert.deepEqual(opTypes(exportOnnx(model, { layout: 'nchw' })), [
    'Conv',
    'Relu',
    'MaxPool',
    'Conv',
    'Relu',
    'MaxPool',
    'Transpose',
    'Flatten',
    'Gemm',
    'Relu',
    'Gemm',
  ]);
  const nchwInput = graphOf(exportOnnx(model, { layout: 'nchw' })).input[0].type.tensorType.shape.dim;
  assert.deepEqual(nchwInput, [{ dimParam: 'batch' }, { dimValue: 1 }, { dimValue: 12 }, { dimValue: 12 }]);
  // The first conv's kernel, stored as float32 [out, in, kh, kw] = [8, 1, 3, 3], raw little-endian.
  const kernel = decoded.graph.initializer.find((initializer) => initializer.name === 'conv_1/kernel')!;
  assert.deepEqual([kernel.dims, kernel.dataType, kernel.rawData.length], [[8, 1, 3, 3], 1, 8 * 9 * 4]);
  model.dispose();
});

test('an MLP on images needs no Transpose with NHWC input', () => {
  const model = build(mlpSpec);
  assert.deepEqual(opTypes(exportOnnx(model)), ['Flatten', 'Gemm', 'Relu', 'Gemm', 'Relu', 'Gemm']);
  assert.deepEqual(opTypes(exportOnnx(model, { layout: 'nchw' })), ['Transpose', 'Flatten', 'Gemm', 'Relu', 'Gemm', 'Relu', 'Gemm']);
  model.dispose();
});

test('the zoo CNN (batch norm, dropout) and MLP match TensorFlow.js within 1e-4 in both layouts', async (t) => {
  const images = randomImages(300, 5);
  for (const [name, spec] of [
    ['cnn', cnnSpec],
    ['mlp', mlpSpec],
  ] as const) {
    const model = build(spec);
    for (const layout of ['nhwc', 'nchw'] as const) {
      const result = await verifyOnnx(exportOnnx(model, { layout }), model, images, imageShape, { layout, batchSize: 128 });
      t.diagnostic(`${name} ${layout}: max |diff| ${result.maxAbsDiff.toExponential(2)}, agreement ${result.agreement}`);
      assert.equal(result.samples, 300);
      assert.ok(result.maxAbsDiff <= 1e-4, `${name} ${layout}: ${result.maxAbsDiff}`);
      assert.equal(result.agreement, 1);
    }
    model.dispose();
  }
});

test('quantized exports: uint8 is about a quarter and float16 half of float32, with close outputs', async (t) => {
  // A Fashion-MNIST-sized student: 784·64 + 64 + 64·10 + 10 = 50,890 parameters, weight-dominated.
  const shape = [28, 28, 1] as const;
  const model = buildModel(
    { type: 'mlp', hidden: [64], dropout: 0, activation: 'relu' },
    { inputShape: shape, numClasses: 10, seed: 3, name: 'student' },
  );
  randomizeWeights(model, 3);
  assert.equal(model.countParams(), 50_890);
  const float32 = exportOnnx(model);
  const float16 = exportOnnx(model, { quantize: 'float16' });
  const uint8 = exportOnnx(model, { quantize: 'uint8' });
  const float16Ratio = float16.length / float32.length;
  const uint8Ratio = uint8.length / float32.length;
  t.diagnostic(
    `sizes: float32 ${float32.length} B, float16 ${float16.length} B (${float16Ratio.toFixed(4)}), uint8 ${uint8.length} B (${uint8Ratio.toFixed(4)})`,
  );
  // Each output channel adds a float32 bias (kept), a float32 scale and a float32 zero point.
  assert.ok(float16Ratio > 0.5 && float16Ratio < 0.51, `float16 ratio ${float16Ratio}`);
  assert.ok(uint8Ratio > 0.25 && uint8Ratio <= 0.27, `uint8 ratio ${uint8Ratio}`);
  assert.equal(graphOf(uint8).initializer.find((initializer) => initializer.name === 'dense_1/kernel_uint8')!.dataType, 2);
  assert.equal(graphOf(float16).initializer.find((initializer) => initializer.name === 'dense_1/kernel_float16')!.dataType, 10);
  // Expanded by ops ONNX Runtime constant-folds at load; it would run a DequantizeLinear every call.
  const uint8Ops = opTypes(uint8);
  assert.ok(!uint8Ops.includes('DequantizeLinear'));
  assert.deepEqual(uint8Ops.filter((op) => op === 'Cast' || op === 'Sub').length, 2 * 2, 'a Cast and a Sub per kernel');

  // Tolerances: float16 keeps 11 significant bits (relative 2⁻¹¹ per weight); uint8 is within
  // half a step of a 255-step per-channel range. On logits of order 1 that is about 1e-3 and
  // 3e-2; arg-max may flip only where the top two logits are that close, so ≥ 97% must agree.
  const images = tf.tidy(() => tf.randomUniform([500, ...shape], 0, 1, 'float32', 9).dataSync() as Float32Array);
  for (const [name, bytes, bound] of [
    ['float16', float16, 1e-2],
    ['uint8', uint8, 1e-1],
  ] as const) {
    const result = await verifyOnnx(bytes, model, images, shape);
    t.diagnostic(`mlp ${name}: max |diff| ${result.maxAbsDiff.toExponential(2)}, argmax agreement ${result.agreement}`);
    assert.ok(result.maxAbsDiff <= bound, `${name}: ${result.maxAbsDiff}`);
    assert.ok(result.agreement >= 0.97, `${name}: ${result.agreement}`);
  }
  const cnn = build(cnnSpec);
  const cnnImages = randomImages(500, 9);
  for (const [quantize, bound] of [
    ['float16', 1e-2],
    ['uint8', 1e-1],
  ] as const) {
    const result = await verifyOnnx(exportOnnx(cnn, { quantize, layout: 'nchw' }), cnn, cnnImages, imageShape, { layout: 'nchw' });
    t.diagnostic(`cnn ${quantize}: max |diff| ${result.maxAbsDiff.toExponential(2)}, argmax agreement ${result.agreement}`);
    assert.ok(result.maxAbsDiff <= bound, `cnn ${quantize}: ${result.maxAbsDiff}`);
    assert.ok(result.agreement >= 0.97, `cnn ${quantize}: ${result.agreement}`);
  }
  model.dispose();
  cnn.dispose();
});

test('an unsupported layer is an InputError naming it and its class, and writeOnnx writes nothing', () => {
  const model = seededModel([8, 8, 2], (input) => {
    const upsampled = tf.layers.upSampling2d({ size: [2, 2], name: 'grow' }).apply(input) as tf.SymbolicTensor;
    return tf.layers.dense({ units: 3 }).apply(tf.layers.flatten().apply(upsampled)) as tf.SymbolicTensor;
  });
  const directory = mkdtempSync(join(tmpdir(), 'kdkit-onnx-'));
  assert.throws(
    () => writeOnnx(model, join(directory, 'model.onnx'), { source: 'runs/a/student/model.json' }),
    (error: unknown) =>
      error instanceof InputError &&
      /^runs\/a\/student\/model\.json: layer 'grow' \(UpSampling2D\) cannot be exported to ONNX; supported: InputLayer, Dense, Conv2D/.test(
        error.message,
      ),
  );
  assert.deepEqual(readdirSync(directory), []);
  const recurrent = tf.sequential({
    layers: [tf.layers.simpleRNN({ units: 4, inputShape: [5, 3], recurrentInitializer: 'glorotUniform', name: 'rnn' })],
  });
  assert.throws(() => exportOnnx(recurrent), /layer 'rnn' \(SimpleRNN\) cannot be exported/);
  model.dispose();
  recurrent.dispose();
});

test('unsupported activations, configs, shared layers and multi-output models are InputErrors', () => {
  const rejects = (model: tf.LayersModel, pattern: RegExp) => {
    assert.throws(
      () => exportOnnx(model),
      (error: unknown) => error instanceof InputError && pattern.test(error.message),
    );
    model.dispose();
  };
  rejects(
    seededModel([4], (input) => tf.layers.dense({ units: 2, activation: 'gelu_new', name: 'd' }).apply(input) as tf.SymbolicTensor),
    /layer 'd' \(Dense\) cannot be exported to ONNX: activation 'gelu_new' is not supported; supported activations: linear, relu/,
  );
  rejects(
    seededModel(
      [4, 4, 3],
      (input) =>
        tf.layers
          .flatten()
          .apply(tf.layers.conv2d({ filters: 2, kernelSize: 3, padding: 'causal' as 'same', name: 'c' }).apply(input)) as tf.SymbolicTensor,
    ),
    /layer 'c' \(Conv2D\) cannot be exported to ONNX: padding 'causal' is not supported/,
  );
  const shared = tf.layers.dense({ units: 4, name: 'twice' });
  rejects(
    seededModel([4], (input) => shared.apply(shared.apply(input)) as tf.SymbolicTensor),
    /layer 'twice' \(Dense\) cannot be exported to ONNX: it is applied more than once/,
  );
  const a = tf.input({ shape: [3] });
  rejects(
    tf.model({
      inputs: a,
      outputs: [tf.layers.dense({ units: 2 }).apply(a), tf.layers.dense({ units: 3 }).apply(a)] as tf.SymbolicTensor[],
      name: 'two',
    }),
    /^model 'two': only models with one output can be exported to ONNX; this one has 2 outputs$/,
  );
});

test('writeOnnx writes exactly the exported bytes, and returns their count', () => {
  const model = build(mlpSpec);
  const path = join(mkdtempSync(join(tmpdir(), 'kdkit-onnx-')), 'nested', 'student.onnx');
  const written = writeOnnx(model, path, { quantize: 'uint8' });
  assert.ok(readFileSync(path).equals(exportOnnx(model, { quantize: 'uint8' })));
  assert.equal(written, readFileSync(path).length);
  assert.ok(existsSync(path));
  model.dispose();
});

test('exportOnnxAsync (weights read asynchronously, for GPU backends) gives exportOnnx bytes, batch norm folded', async () => {
  const model = build(cnnSpec);
  const expected = exportOnnx(model);
  // No weight is read synchronously: dataSync fails while the export runs.
  const dataSync = tf.Tensor.prototype.dataSync;
  tf.Tensor.prototype.dataSync = () => {
    throw new Error('a synchronous read during exportOnnxAsync');
  };
  let bytes: Uint8Array;
  try {
    bytes = await exportOnnxAsync(model);
  } finally {
    tf.Tensor.prototype.dataSync = dataSync;
  }
  assert.deepEqual(bytes, expected);
  assert.deepEqual(
    await exportOnnxAsync(model, { layout: 'nchw', quantize: 'uint8' }),
    exportOnnx(model, { layout: 'nchw', quantize: 'uint8' }),
  );
  model.dispose();
});

test('one session runs any batch size; onnxLogits batches a dataset; nothing leaks tensors', async () => {
  const model = build(cnnSpec);
  const before = tf.memory().numTensors;
  const bytes = exportOnnx(model, { quantize: 'float16' });
  const session = await OnnxSession.create(bytes);
  assert.deepEqual([session.inputName, session.outputName], ['image', 'logits']);
  const images = randomImages(5, 2);
  const whole = await session.run(images, [5, ...imageShape]);
  const single = await session.run(images.subarray(3 * 144, 4 * 144), [1, ...imageShape]);
  assert.deepEqual(single, whole.subarray(30, 40));
  await session.release();
  assert.deepEqual(
    await onnxLogits(
      bytes,
      imageDataset({ name: 'five', images, labels: new Int32Array(5), sampleShape: imageShape, numClasses: 10, classNames: [] }),
      { batchSize: 2 },
    ),
    whole,
  );
  await verifyOnnx(bytes, model, images, imageShape, { batchSize: 2 });
  exportOnnx(model, { layout: 'nchw', quantize: 'uint8' });
  assert.equal(tf.memory().numTensors, before);
  model.dispose();
});

test('a file ONNX Runtime rejects, or a batch of the wrong shape, is an InputError naming the source', async () => {
  await assert.rejects(
    OnnxSession.create(Uint8Array.of(1, 2, 3), 'bad.onnx'),
    (error: unknown) => error instanceof InputError && /^bad\.onnx: ONNX Runtime cannot load it/.test(error.message),
  );
  const model = build(mlpSpec);
  const wrongShape = imageDataset({
    name: 'wrong',
    images: new Float32Array(2 * 144),
    labels: new Int32Array(2),
    sampleShape: [1, 12, 12],
    numClasses: 10,
    classNames: [],
  });
  await assert.rejects(
    onnxLogits(exportOnnx(model), wrongShape, { source: 'm.onnx' }),
    /^InputError: m\.onnx: ONNX Runtime cannot run it on a batch of image \[2, 1, 12, 12\]/,
  );
  model.dispose();
});

test('timeCallsAsync warms up, then repeats at least minRepeats times', async () => {
  let calls = 0;
  const stats = await timeCallsAsync(
    async () => {
      calls++;
    },
    4,
    { warmup: 2, minRepeats: 5, maxRepeats: 5, minTotalMs: 1000 },
  );
  assert.equal(calls, 2 + 5);
  assert.equal(stats.repeats, 5);
  assert.equal(stats.batchSize, 4);
  assert.ok(stats.p95Ms >= stats.p50Ms && stats.samplesPerSecond === 4 / (stats.p50Ms / 1000));
});

test('measureOnnxLatency times the exported model in onnxruntime-node', async (t) => {
  const model = build(cnnSpec);
  for (const layout of ['nhwc', 'nchw'] as const) {
    const stats = await measureOnnxLatency(exportOnnx(model, { layout }), [imageField(imageShape)], 8, {
      layout,
      minRepeats: 3,
      minTotalMs: 0,
    });
    t.diagnostic(`cnn ${layout} batch 8: p50 ${stats.p50Ms.toFixed(3)} ms, ${Math.round(stats.samplesPerSecond)} samples/s`);
    assert.equal(stats.batchSize, 8);
    assert.ok(stats.repeats >= 3 && stats.p50Ms > 0);
  }
  assert.ok((await maxExportDiff(model)) <= 1e-4);
  model.dispose();
});
