/**
 * Each exportable layer kind, in a small model with seeded weights, run in ONNX Runtime and
 * compared with TensorFlow.js's predict in both input layouts. Inputs are uniform in [0, 1];
 * 7×7 maps make 'same' padding asymmetric under stride 2.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '../engine/tf.js';
import { initEngine } from '../engine/index.js';
import { maxExportDiff, seededModel } from './onnx.test.util.js';
import { samePads } from './onnx_layers.js';
import { supportedActivations } from './onnx_activations.js';

await initEngine({ backend: 'wasm' });

/** Absolute tolerance on float32 exports (the bound). */
const tolerance = 1e-4;
type Build = (input: tf.SymbolicTensor) => tf.SymbolicTensor;
const apply = (layer: tf.layers.Layer, input: tf.SymbolicTensor | tf.SymbolicTensor[]) => layer.apply(input) as tf.SymbolicTensor;
/** `layers` applied in order, then Flatten and a 4-way Dense head so every case ends in logits. */
const chain =
  (...layers: tf.layers.Layer[]): Build =>
  (input) =>
    apply(
      tf.layers.dense({ units: 4 }),
      apply(
        tf.layers.flatten(),
        layers.reduce((x, layer) => apply(layer, x), input),
      ),
    );

async function expectMatch(t: { diagnostic(message: string): void }, kind: string, inputShape: number[], build: Build): Promise<void> {
  const model = seededModel(inputShape, build);
  for (const layout of ['nhwc', 'nchw'] as const) {
    const diff = await maxExportDiff(model, { layout });
    t.diagnostic(`${kind} (${layout}): max |diff| ${diff.toExponential(2)}`);
    assert.ok(diff <= tolerance, `${kind} (${layout}): max |diff| ${diff}`);
  }
  model.dispose();
}

test("samePads puts TensorFlow's odd padding pixel at the end", () => {
  // Output ceil(size / stride); total = (out − 1)·stride + (k − 1)·dilation + 1 − size.
  assert.deepEqual(samePads(7, 3, 1), [1, 1]); // (7 − 1)·1 + 3 − 7 = 2
  assert.deepEqual(samePads(7, 3, 2), [1, 1]); // out 4: 3·2 + 3 − 7 = 2
  assert.deepEqual(samePads(8, 3, 2), [0, 1]); // out 4: 3·2 + 3 − 8 = 1
  assert.deepEqual(samePads(6, 2, 1), [0, 1]); // 5 + 2 − 6 = 1
  assert.deepEqual(samePads(7, 3, 1, 2), [2, 2]); // span 5: 6 + 5 − 7 = 4
  assert.deepEqual(samePads(8, 2, 2), [0, 0]); // out 4: 6 + 2 − 8 = 0
});

test('Dense with every supported activation matches', async (t) => {
  for (const activation of supportedActivations) {
    const build: Build = (input) =>
      apply(tf.layers.dense({ units: 5, activation: activation as 'relu' }), apply(tf.layers.dense({ units: 8 }), input));
    await expectMatch(t, `Dense ${activation}`, [6], build);
  }
});

test('Dense on a feature map (its last axis) and on a sequence matches', async (t) => {
  await expectMatch(
    t,
    'Dense on a feature map',
    [5, 5, 3],
    chain(tf.layers.conv2d({ filters: 4, kernelSize: 2 }), tf.layers.dense({ units: 3, activation: 'relu' })),
  );
  await expectMatch(t, 'Dense on a sequence', [12], (input) =>
    apply(
      tf.layers.dense({ units: 2 }),
      apply(tf.layers.flatten(), apply(tf.layers.dense({ units: 5 }), apply(tf.layers.reshape({ targetShape: [4, 3] }), input))),
    ),
  );
});

test('Conv2D with same and valid padding, strides, dilation, no bias and an activation matches', async (t) => {
  await expectMatch(
    t,
    'Conv2D same stride 2',
    [7, 7, 3],
    chain(tf.layers.conv2d({ filters: 4, kernelSize: [3, 2], strides: 2, padding: 'same', activation: 'relu' })),
  );
  await expectMatch(
    t,
    'Conv2D valid dilation 2',
    [7, 7, 3],
    chain(tf.layers.conv2d({ filters: 4, kernelSize: 3, dilationRate: 2, padding: 'valid', useBias: false })),
  );
  await expectMatch(
    t,
    'Conv2D same dilation 2',
    [7, 7, 2],
    chain(tf.layers.conv2d({ filters: 3, kernelSize: 2, dilationRate: 2, padding: 'same', activation: 'tanh' })),
  );
});

test('DepthwiseConv2D with a depth multiplier, and SeparableConv2D, match', async (t) => {
  await expectMatch(
    t,
    'DepthwiseConv2D ×2 same stride 2',
    [7, 7, 3],
    chain(tf.layers.depthwiseConv2d({ kernelSize: 3, depthMultiplier: 2, strides: 2, padding: 'same', activation: 'relu6' })),
  );
  await expectMatch(
    t,
    'SeparableConv2D',
    [7, 7, 3],
    chain(tf.layers.separableConv2d({ filters: 5, kernelSize: 3, depthMultiplier: 2, padding: 'same', activation: 'elu' })),
  );
});

test('max and average pooling, same and valid, and global pooling match', async (t) => {
  await expectMatch(t, 'MaxPooling2D same 3/2', [7, 7, 3], chain(tf.layers.maxPooling2d({ poolSize: 3, strides: 2, padding: 'same' })));
  await expectMatch(t, 'MaxPooling2D valid 2', [7, 7, 3], chain(tf.layers.maxPooling2d({ poolSize: 2, padding: 'valid' })));
  // 'same' average pooling divides by the real pixels in the window (count_include_pad = 0).
  await expectMatch(
    t,
    'AveragePooling2D same 3/2',
    [7, 7, 3],
    chain(tf.layers.averagePooling2d({ poolSize: 3, strides: 2, padding: 'same' })),
  );
  await expectMatch(t, 'AveragePooling2D valid 2', [7, 7, 3], chain(tf.layers.averagePooling2d({ poolSize: 2, padding: 'valid' })));
  const pooledHead =
    (pool: tf.layers.Layer): Build =>
    (input) =>
      apply(tf.layers.dense({ units: 4 }), apply(pool, apply(tf.layers.conv2d({ filters: 4, kernelSize: 3 }), input)));
  await expectMatch(t, 'GlobalAveragePooling2D', [7, 7, 3], pooledHead(tf.layers.globalAveragePooling2d({})));
  await expectMatch(t, 'GlobalMaxPooling2D', [7, 7, 3], pooledHead(tf.layers.globalMaxPooling2d({})));
});

test('BatchNormalization folded into Conv2D, DepthwiseConv2D, SeparableConv2D and Dense matches', async (t) => {
  const bn = () => tf.layers.batchNormalization({ epsilon: 0.01 });
  await expectMatch(
    t,
    'BN folded into Conv2D',
    [7, 7, 3],
    chain(tf.layers.conv2d({ filters: 4, kernelSize: 3, padding: 'same' }), bn(), tf.layers.reLU()),
  );
  await expectMatch(
    t,
    'BN folded into Conv2D without bias',
    [7, 7, 3],
    chain(tf.layers.conv2d({ filters: 4, kernelSize: 3, useBias: false }), bn()),
  );
  await expectMatch(
    t,
    'BN folded into DepthwiseConv2D',
    [7, 7, 3],
    chain(tf.layers.depthwiseConv2d({ kernelSize: 3, depthMultiplier: 2 }), bn()),
  );
  await expectMatch(t, 'BN folded into SeparableConv2D', [7, 7, 3], chain(tf.layers.separableConv2d({ filters: 4, kernelSize: 3 }), bn()));
  await expectMatch(t, 'BN folded into Dense', [6], (input) =>
    apply(tf.layers.dense({ units: 3 }), apply(bn(), apply(tf.layers.dense({ units: 8 }), input))),
  );
});

test('BatchNormalization that cannot be folded (after an activation, on the input, without center or scale) matches', async (t) => {
  await expectMatch(
    t,
    'BN after ReLU conv',
    [7, 7, 3],
    chain(tf.layers.conv2d({ filters: 4, kernelSize: 3, activation: 'relu' }), tf.layers.batchNormalization({})),
  );
  await expectMatch(
    t,
    'BN on the image input',
    [7, 7, 3],
    chain(tf.layers.batchNormalization({ center: false }), tf.layers.conv2d({ filters: 2, kernelSize: 3 })),
  );
  await expectMatch(t, 'BN on a vector, no scale', [6], (input) =>
    apply(tf.layers.dense({ units: 3 }), apply(tf.layers.batchNormalization({ scale: false }), input)),
  );
});

test('activation layers match, including a channel softmax on a feature map', async (t) => {
  await expectMatch(
    t,
    'ReLU maxValue 0.5',
    [7, 7, 3],
    chain(tf.layers.conv2d({ filters: 4, kernelSize: 3 }), tf.layers.reLU({ maxValue: 0.5 })),
  );
  await expectMatch(t, 'LeakyReLU', [7, 7, 3], chain(tf.layers.conv2d({ filters: 4, kernelSize: 3 }), tf.layers.leakyReLU({ alpha: 0.2 })));
  // TensorFlow.js's ELU layer rejects any alpha but 1.
  await expectMatch(t, 'ELU', [7, 7, 3], chain(tf.layers.conv2d({ filters: 4, kernelSize: 3 }), tf.layers.elu({})));
  await expectMatch(t, 'ThresholdedReLU', [6], (input) =>
    apply(tf.layers.dense({ units: 3 }), apply(tf.layers.thresholdedReLU({ theta: 0.4 }), input)),
  );
  await expectMatch(
    t,
    'Softmax layer on channels',
    [7, 7, 3],
    chain(tf.layers.conv2d({ filters: 4, kernelSize: 3 }), tf.layers.softmax({ axis: -1 })),
  );
  await expectMatch(
    t,
    'Activation sigmoid on a feature map',
    [7, 7, 3],
    chain(tf.layers.conv2d({ filters: 4, kernelSize: 3 }), tf.layers.activation({ activation: 'sigmoid' })),
  );
});

test('Flatten after convolutions keeps NHWC order; Reshape and ZeroPadding2D match', async (t) => {
  await expectMatch(t, 'Flatten of a feature map', [5, 4, 3], chain(tf.layers.conv2d({ filters: 6, kernelSize: 2 })));
  await expectMatch(t, 'Reshape to a map', [12], (input) =>
    apply(
      tf.layers.flatten(),
      apply(tf.layers.conv2d({ filters: 2, kernelSize: 2 }), apply(tf.layers.reshape({ targetShape: [2, 3, 2] }), input)),
    ),
  );
  await expectMatch(
    t,
    'ZeroPadding2D',
    [5, 5, 2],
    chain(
      tf.layers.zeroPadding2d({
        padding: [
          [1, 2],
          [0, 1],
        ],
      }),
      tf.layers.conv2d({ filters: 2, kernelSize: 3 }),
    ),
  );
});

test('multi-branch models with Add, Concatenate and the other merges match', async (t) => {
  const conv = () => tf.layers.conv2d({ filters: 3, kernelSize: 3, padding: 'same' });
  const head = (x: tf.SymbolicTensor) => apply(tf.layers.dense({ units: 4 }), apply(tf.layers.flatten(), x));
  // [input, conv(input)] and [conv(input), input] merge a value held in NHWC with one in NCHW.
  await expectMatch(t, 'Add residual', [6, 6, 3], (input) =>
    head(apply(tf.layers.add(), [input, apply(conv(), apply(tf.layers.reLU(), apply(conv(), input)))])),
  );
  await expectMatch(t, 'Concatenate channels', [6, 6, 3], (input) =>
    head(apply(tf.layers.concatenate({ axis: -1 }), [apply(conv(), input), input])),
  );
  await expectMatch(t, 'Concatenate rows', [6, 6, 3], (input) =>
    head(apply(tf.layers.concatenate({ axis: 1 }), [apply(conv(), input), input])),
  );
  const merges = { Multiply: tf.layers.multiply, Average: tf.layers.average, Maximum: tf.layers.maximum, Minimum: tf.layers.minimum };
  for (const [kind, merge] of Object.entries(merges)) {
    await expectMatch(t, kind, [6, 6, 3], (input) => head(apply(merge({}), [apply(conv(), input), input])));
  }
});

test('training-only layers are dropped', async (t) => {
  await expectMatch(
    t,
    'Dropout, GaussianNoise, GaussianDropout, AlphaDropout',
    [7, 7, 3],
    chain(
      tf.layers.dropout({ rate: 0.5 }),
      tf.layers.gaussianNoise({ stddev: 1 }),
      tf.layers.conv2d({ filters: 2, kernelSize: 3 }),
      tf.layers.gaussianDropout({ rate: 0.5 }),
      tf.layers.alphaDropout({ rate: 0.5 }),
    ),
  );
});
