import assert from 'node:assert/strict';
import { test } from 'node:test';
import { tf } from '../../index.js';
import { assertWasmMatchesCpu, randomTensor } from '../../parity.test.util.js';
import { convAndGradients } from './conv.test.util.js';
import { ortSessionKeys } from '../index.js';
import { blockedBudget } from './nchwc_graph.js';

// The blocked (NCHWc) convolution graphs against the cpu backend: forward, input and filter
// gradients, channel counts on and off MLAS's block (4, 12, 16, 24, 32), strides, padding, and
// bias and activations inside and after the kernel.
const accelerated = { accelerate: 'ort' } as const;

function blockedSessions(prefix: string): string[] {
  return ortSessionKeys().filter((key) => key.startsWith(prefix));
}

const geometries: { label: string; x: number[]; filter: number[]; strides: [number, number]; pad: 'same' | 'valid' | number }[] = [
  { label: '3×3 same, 16 → 16', x: [3, 9, 8, 16], filter: [3, 3, 16, 16], strides: [1, 1], pad: 'same' },
  { label: '3×3 same, 4 → 12', x: [2, 7, 7, 4], filter: [3, 3, 4, 12], strides: [1, 1], pad: 'same' },
  { label: '3×3 valid, 24 → 8', x: [2, 8, 9, 24], filter: [3, 3, 24, 8], strides: [1, 1], pad: 'valid' },
  { label: '3×3 same, 32 → 20', x: [2, 5, 6, 32], filter: [3, 3, 32, 20], strides: [1, 1], pad: 'same' },
  { label: '3×3 same stride 2, 16 → 32', x: [2, 9, 10, 16], filter: [3, 3, 16, 32], strides: [2, 2], pad: 'same' },
  { label: '1×1 stride 2, 16 → 32', x: [2, 8, 8, 16], filter: [1, 1, 16, 32], strides: [2, 2], pad: 'valid' },
  { label: '2×4 same (uneven padding), 8 → 8', x: [2, 6, 7, 8], filter: [2, 4, 8, 8], strides: [1, 1], pad: 'same' },
  { label: '5×3 explicit padding 1, 12 → 4', x: [2, 7, 6, 12], filter: [5, 3, 12, 4], strides: [1, 1], pad: 1 },
];

for (const [i, { label, x, filter, strides, pad }] of geometries.entries()) {
  test(`blocked conv2d ${label}: forward and both gradients match cpu`, async () => {
    await assertWasmMatchesCpu(label, () => convAndGradients(x, filter, strides, pad, 80 + 3 * i), 1e-4, accelerated);
    assert.ok(blockedSessions(`conv2d nchwc `).length > 0, 'the forward pass ran blocked');
  });
}

test('blocked conv2d input gradient runs for stride 1 and not for stride 2', async () => {
  await assertWasmMatchesCpu('stride 1', () => convAndGradients([2, 6, 6, 8], [3, 3, 8, 12], [1, 1], 'same', 110), 1e-4, accelerated);
  assert.ok(blockedSessions('conv2d nchwc input grad ').some((key) => key.includes(' 2 6,6,8,6,6,12,3,3,1,1,')));
  await assertWasmMatchesCpu('stride 2', () => convAndGradients([2, 6, 6, 8], [3, 3, 8, 12], [2, 2], 'same', 113), 1e-4, accelerated);
  assert.ok(ortSessionKeys().some((key) => key.startsWith('conv2d input grad 2 6,6,8,3,3,12,3,3,2,2,')));
});

test('blocked conv2d with dilations matches cpu (forward; TensorFlow.js has no dilated gradient)', async () => {
  await assertWasmMatchesCpu(
    'dilated',
    () => [
      tf.conv2d(
        randomTensor([2, 11, 10, 8], 120) as tf.Tensor4D,
        randomTensor([3, 3, 8, 4], 121) as tf.Tensor4D,
        1,
        'same',
        'NHWC',
        [2, 2],
      ),
      tf.conv2d(
        randomTensor([1, 9, 12, 4], 122) as tf.Tensor4D,
        randomTensor([2, 3, 4, 5], 123) as tf.Tensor4D,
        1,
        'valid',
        'NHWC',
        [2, 3],
      ),
    ],
    1e-4,
    accelerated,
  );
  assert.ok(blockedSessions('conv2d nchwc ').some((key) => key.includes(',2,2,') || key.includes(',2,3,')));
});

test('blocked fused conv2d: bias per channel or single, each activation, inside and after the kernel', async () => {
  const activations = ['linear', 'relu', 'relu6', 'leakyrelu', 'prelu'] as const;
  await assertWasmMatchesCpu(
    'fused',
    () =>
      activations.flatMap((activation) =>
        [randomTensor([12], 130), randomTensor([1], 131)].map((bias) =>
          tf.fused.conv2d({
            x: tf.mul(randomTensor([2, 6, 7, 8], 132), 4) as tf.Tensor4D,
            filter: randomTensor([3, 3, 8, 12], 133) as tf.Tensor4D,
            strides: 1,
            pad: 'same',
            bias,
            activation,
            leakyreluAlpha: 0.3,
            preluActivationWeights: activation === 'prelu' ? randomTensor([12], 134) : undefined,
          }),
        ),
      ),
    1e-4,
    accelerated,
  );
  for (const kind of ['channel relu', 'scalar relu', 'channel relu6', 'channel prelu', 'scalar linear']) {
    assert.ok(
      blockedSessions('conv2d nchwc ').some((key) => key.includes(` ${kind} `)),
      `a blocked session for ${kind}`,
    );
  }
});

test('blocked conv2d splits a batch beyond its budget into chunks, with the same results', async () => {
  const budget = blockedBudget.maxValues;
  // 7×7 × (16 + 16) padded channels = 1568 values per image: 3 images per run of 5.
  blockedBudget.maxValues = 5000;
  try {
    await assertWasmMatchesCpu('chunked', () => convAndGradients([5, 7, 7, 8], [3, 3, 8, 16], [1, 1], 'same', 140), 1e-4, accelerated);
  } finally {
    blockedBudget.maxValues = budget;
  }
  const chunks = blockedSessions('conv2d nchwc ').filter((key) => key.includes(' 7,7,8,7,7,16,3,3,'));
  assert.ok(chunks.length >= 2, `runs of 3 images and of 2: ${chunks.join('; ')}`);
});
