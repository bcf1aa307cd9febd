import assert from 'node:assert/strict';
import { test } from 'node:test';
import { tf } from '../../index.js';
import { assertWasmMatchesCpu, randomTensor } from '../../parity.test.util.js';
import { convAndGradients } from './conv.test.util.js';
import { ortSessionKeys } from '../index.js';
import { patchBudget } from './conv_graph.js';
import { shiftedViews } from './shifted_filter_grad.js';

// Convolution geometry (strides, padding, odd shapes) and gradients on both engines are in
// ../../conv2d.test.ts; these cover what only the ONNX Runtime kernels do.
const accelerated = { accelerate: 'ort' } as const;

function sessionsStartingWith(prefix: string): number {
  return ortSessionKeys().filter((key) => key.startsWith(prefix)).length;
}

// TensorFlow.js computes no gradient for dilated convolutions, so dilation is checked forward.
for (const inChannels of [3, 9]) {
  const path = inChannels < 8 ? 'sliced' : 'gathered';
  test(`ONNX Runtime conv2d with dilations, ${path} patches, matches cpu`, async () => {
    await assertWasmMatchesCpu(
      `dilated conv2d, ${inChannels} channels`,
      () => [
        tf.conv2d(
          randomTensor([2, 11, 10, inChannels], 64) as tf.Tensor4D,
          randomTensor([3, 3, inChannels, 4], 65) as tf.Tensor4D,
          1,
          'same',
          'NHWC',
          [2, 2],
        ),
        tf.conv2d(
          randomTensor([1, 9, 12, inChannels], 66) as tf.Tensor4D,
          randomTensor([2, 3, inChannels, 5], 67) as tf.Tensor4D,
          1,
          'valid',
          'NHWC',
          [2, 3],
        ),
        tf.conv2d(
          randomTensor([3, 8, 8, inChannels], 68) as tf.Tensor4D,
          randomTensor([3, 2, inChannels, 2], 69) as tf.Tensor4D,
          1,
          'same',
          'NHWC',
          [1, 2],
        ),
      ],
      1e-4,
      accelerated,
    );
    assert.ok(sessionsStartingWith('conv2d 2 ') > 0, 'ONNX Runtime ran the convolution');
  });
}

test('ONNX Runtime conv2d of a batch of one, and a 1×1 filter, match cpu with gradients', async () => {
  await assertWasmMatchesCpu('batch 1', () => convAndGradients([1, 6, 5, 7], [3, 3, 7, 3], [1, 1], 'same'), 1e-4, accelerated);
  await assertWasmMatchesCpu('1x1 filter', () => convAndGradients([2, 5, 6, 12], [1, 1, 12, 7], [1, 1], 'valid'), 1e-4, accelerated);
  assert.ok(sessionsStartingWith('conv2d input grad 1 ') > 0, 'ONNX Runtime ran the input gradient');
});

test('ONNX Runtime conv2d splits a batch whose patches exceed the budget into chunks, with the same results', async () => {
  const budget = patchBudget.maxValues;
  // 7×7 outputs × 9 taps × 6 channels = 2646 patch values per image: 3 images per run of 5.
  // (6 channels, not a multiple of 4, keep the forward pass and input gradient off the blocked graphs.)
  patchBudget.maxValues = 8000;
  try {
    await assertWasmMatchesCpu('chunked', () => convAndGradients([5, 7, 7, 6], [3, 3, 6, 6], [1, 1], 'same'), 1e-4, accelerated);
  } finally {
    patchBudget.maxValues = budget;
  }
  // Filter gradients: runs of 3 images (147 rows, one product) and 2 (98 rows, in halves).
  for (const kind of [
    'conv2d 3 ',
    'conv2d 2 ',
    'conv2d filter grad 3 ',
    'conv2d filter grad 2 ',
    'conv2d input grad 3 ',
    'conv2d input grad 2 ',
  ]) {
    assert.ok(sessionsStartingWith(kind) > 0, `a session for '${kind}…'`);
  }
});

test('ONNX Runtime input gradient of strided layers by phase: odd sizes, positions no tap reaches, 1×1, chunks', async () => {
  const budget = patchBudget.maxValues;
  // 9×7 input, 3×3 stride 2 'same' (padding 1 all round): the four phases have 12 positions × 4
  // taps, 16 × 2, 15 × 2 and 20 × 1, 130 taps of 5 channels per image, 650 values: 2 images per
  // run of 3.
  patchBudget.maxValues = 1400;
  try {
    await assertWasmMatchesCpu(
      'phased input gradients',
      () => [
        ...convAndGradients([3, 9, 7, 4], [3, 3, 4, 5], [2, 2], 'same', 101),
        // Stride 3 over a 2×2 filter: a third of the rows and columns get no gradient.
        ...convAndGradients([2, 8, 7, 3], [2, 2, 3, 4], [3, 3], 'valid', 104),
        // Strides of 2 and 1, and a 1×1 filter with stride 2 (not by phase).
        ...convAndGradients([2, 7, 6, 5], [3, 2, 5, 3], [2, 1], 'same', 107),
        ...convAndGradients([2, 7, 7, 6], [1, 1, 6, 4], [2, 2], 'valid', 110),
      ],
      1e-4,
      accelerated,
    );
  } finally {
    patchBudget.maxValues = budget;
  }
  for (const images of [2, 1]) assert.ok(sessionsStartingWith(`conv2d input grad ${images} 9,7,4,`) > 0, `a run of ${images} images`);
});

test('ONNX Runtime filter gradient of stride-1 layers on shifted views: padding on any side, runs of odd and even length, chunks', async () => {
  const [budget, bounds] = [patchBudget.maxValues, { ...shiftedViews }];
  // A 3×3 'same' layer on 7×6 images: a grid of 8 × 7 = 56 cells of 6 channels, 336 values per
  // image: 2 images per run of 5 (runs of 112, 112 and 56 rows).
  patchBudget.maxValues = 700;
  Object.assign(shiftedViews, { minChannels: 1, maxGridGrowth: Number.POSITIVE_INFINITY });
  try {
    await assertWasmMatchesCpu(
      'shifted views',
      () => [
        ...convAndGradients([5, 7, 6, 6], [3, 3, 6, 5], [1, 1], 'same', 81),
        // Padding on one side only, and more of it than the other.
        ...convAndGradients(
          [3, 6, 5, 4],
          [3, 3, 4, 3],
          [1, 1],
          [
            [0, 0],
            [2, 0],
            [0, 1],
            [0, 0],
          ],
          84,
        ),
        // An even filter: TensorFlow's 'same' pads bottom and right.
        ...convAndGradients([2, 5, 6, 3], [2, 2, 3, 4], [1, 1], 'same', 87),
        // A 5×5 filter without padding: a grid of 7 × 5 = 35 cells, 3 images a run of 4: 105
        // rows rounded up to 106, then 35 to 36, where the first run left the next image's dy.
        ...convAndGradients([4, 5, 7, 6], [5, 5, 6, 2], [1, 1], 'valid', 90),
      ],
      1e-4,
      accelerated,
    );
  } finally {
    patchBudget.maxValues = budget;
    Object.assign(shiftedViews, bounds);
  }
  for (const kind of ['112 ', '56 ', '144 ', '84 ', '106 ', '36 ']) {
    assert.ok(sessionsStartingWith(`conv2d filter grad shifted ${kind}`) > 0, `a shifted session of ${kind}rows`);
  }
});

test('ONNX Runtime fused conv2d: bias and PReLU slopes per channel or single, every activation, gradients', async () => {
  const activations = ['linear', 'relu', 'elu', 'sigmoid', 'leakyrelu', 'relu6', 'prelu'] as const;
  await assertWasmMatchesCpu(
    'fused conv2d activations',
    () =>
      activations.flatMap((activation) =>
        [randomTensor([4], 70), randomTensor([1], 71)].map((bias) =>
          tf.fused.conv2d({
            // Scaled so that relu6 clips.
            x: tf.mul(randomTensor([2, 6, 7, 9], 72), 4) as tf.Tensor4D,
            filter: randomTensor([3, 3, 9, 4], 73) as tf.Tensor4D,
            strides: 1,
            pad: 'same',
            bias,
            activation,
            leakyreluAlpha: 0.3,
            preluActivationWeights: activation === 'prelu' ? randomTensor(bias.size === 1 ? [4] : [1], 74) : undefined,
          }),
        ),
      ),
    1e-4,
    accelerated,
  );
  assert.ok(
    ortSessionKeys().some((key) => key.startsWith('conv2d 2 ') && key.includes(' prelu ')),
    'PReLU ran on ONNX Runtime',
  );
  assert.ok(
    ortSessionKeys().some((key) => key.startsWith('conv2d 2 ') && key.includes(' relu6 ')),
    'relu6 ran on ONNX Runtime',
  );
  assert.ok(
    ortSessionKeys().some((key) => key.startsWith('conv2d 2 ') && key.includes(' channel relu')),
    'fused relu ran on ONNX Runtime',
  );
  await assertWasmMatchesCpu(
    'fused conv2d gradients',
    () => {
      const x = randomTensor([2, 5, 6, 3], 75) as tf.Tensor4D;
      const filter = randomTensor([3, 3, 3, 4], 76) as tf.Tensor4D;
      const bias = randomTensor([4], 77);
      const forward = (input: tf.Tensor, kernel: tf.Tensor, b: tf.Tensor) =>
        tf.fused.conv2d({ x: input as tf.Tensor4D, filter: kernel as tf.Tensor4D, strides: [2, 1], pad: 'same', bias: b });
      const upstream = randomTensor(forward(x, filter, bias).shape, 78);
      const grads = tf.grads((input: tf.Tensor, kernel: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(forward(input, kernel, b), upstream)))([
        x,
        filter,
        bias,
      ]);
      return [forward(x, filter, bias), ...grads];
    },
    1e-4,
    accelerated,
  );
});
