import assert from 'node:assert/strict';
import { test } from 'node:test';
import { tf } from './index.js';
import { assertWasmMatchesCpu, outputsOn, randomTensor } from './parity.test.util.js';
import { ortSessionKeys } from './ort/index.js';
import { setSimdKernelsEnabled } from './simd/module.js';

interface PoolCase {
  shape: [number, number, number, number];
  filter: number | [number, number];
  stride: number | [number, number];
  pad: 'same' | 'valid';
}

const cases: PoolCase[] = [
  // 2×2 windows tiling the input, channels a multiple of 4: the SIMD kernel's fast path.
  { shape: [2, 8, 8, 4], filter: 2, stride: 2, pad: 'valid' },
  { shape: [3, 4, 10, 8], filter: 2, stride: 2, pad: 'same' },
  // Channels off the SIMD lanes (a 4-wide part and a scalar rest) or fewer than 4.
  { shape: [2, 8, 8, 3], filter: 2, stride: 2, pad: 'valid' },
  { shape: [2, 6, 6, 6], filter: 2, stride: 2, pad: 'valid' },
  // Other tiling windows.
  { shape: [1, 9, 6, 2], filter: 3, stride: 3, pad: 'valid' },
  { shape: [3, 4, 9, 5], filter: [2, 3], stride: [2, 3], pad: 'same' },
  // Overlapping windows, uncovered rows and padding.
  { shape: [1, 7, 9, 4], filter: 2, stride: 2, pad: 'same' },
  { shape: [2, 7, 7, 3], filter: 2, stride: 2, pad: 'valid' },
  { shape: [3, 9, 7, 8], filter: 3, stride: 2, pad: 'same' },
  { shape: [2, 6, 5, 5], filter: 3, stride: 1, pad: 'valid' },
  { shape: [1, 5, 5, 1], filter: 3, stride: 1, pad: 'same' },
];

const engines = [
  { label: 'SIMD kernel, accelerate none', simd: true, engine: { accelerate: 'none' } },
  { label: 'SIMD kernel, accelerate ort', simd: true, engine: { accelerate: 'ort' } },
  { label: 'JavaScript kernel', simd: false, engine: { accelerate: 'none' } },
] as const;

async function withSimd<T>(on: boolean, body: () => Promise<T>): Promise<T> {
  setSimdKernelsEnabled(on);
  try {
    return await body();
  } finally {
    setSimdKernelsEnabled(true);
  }
}

for (const c of cases)
  for (const { label: engineLabel, simd, engine } of engines) {
    const label = `maxPool ${c.shape.join('x')}, filter ${c.filter}, stride ${c.stride}, ${c.pad}, ${engineLabel}`;
    test(`${label}: output and gradient on wasm match cpu, ties included`, async () => {
      await withSimd(simd, () =>
        assertWasmMatchesCpu(
          label,
          () => {
            // relu makes many windows hold several zeros: the gradient must go to the first maximum.
            const x = tf.relu(randomTensor(c.shape, 21));
            const pool = (input: tf.Tensor) => tf.maxPool(input as tf.Tensor4D, c.filter, c.stride, c.pad);
            const upstream = randomTensor(pool(x).shape, 22);
            return [pool(x), pool(randomTensor(c.shape, 23)), tf.grad((input: tf.Tensor) => tf.sum(tf.mul(pool(input), upstream)))(x)];
          },
          1e-4,
          engine,
        ),
      );
    });
  }

// The cpu backend's rule, `if (pixel > max)` from −∞: NaN is never the maximum, and a window of
// only −∞ or NaN sends its gradient nowhere. Windows by channel below: [NaN, 1, NaN, 2] → 2,
// [NaN ×4] → none, [−∞ ×4] → none, [−∞, −∞, 5, 5] → the first 5.
const special = [
  [NaN, NaN, -Infinity, -Infinity],
  [1, NaN, -Infinity, -Infinity],
  [NaN, NaN, -Infinity, 5],
  [2, NaN, -Infinity, 5],
];

function specialCase(channels: number): { x: tf.Tensor4D; dy: tf.Tensor4D; expected: number[] } {
  const ones = (count: number) => Array<number>(count).fill(1);
  const x = tf.tensor4d(
    special.flatMap((pixel) => [...pixel, ...ones(channels - 4)]),
    [1, 2, 2, channels],
  );
  const dy = tf.tensor4d(
    Array.from({ length: channels }, (_, c) => 10 + c),
    [1, 1, 1, channels],
  );
  // Channels past the fourth hold 1 everywhere: their gradient goes to the first pixel.
  const expected = [
    [0, 0, 0, 0],
    [0, 0, 0, 0],
    [0, 0, 0, 13],
    [10, 0, 0, 0],
  ].flatMap((pixel, at) => [...pixel, ...Array.from({ length: channels - 4 }, (_, c) => (at === 0 ? 14 + c : 0))]);
  return { x, dy, expected };
}

for (const channels of [4, 5]) {
  const backends = [
    { label: 'cpu backend', backend: 'cpu' as const, simd: true, engine: {} },
    ...engines.map((e) => ({ ...e, backend: 'wasm' as const })),
  ];
  for (const { label: engineLabel, backend, simd, engine } of backends) {
    test(`maxPool gradient with NaN and −∞, ${channels} channels, ${engineLabel}: the values worked by hand`, async () => {
      const [dx] = await withSimd(simd, () =>
        outputsOn(
          backend,
          () => {
            const { x, dy } = specialCase(channels);
            return [tf.grad((input: tf.Tensor) => tf.sum(tf.mul(tf.maxPool(input as tf.Tensor4D, 2, 2, 'valid'), dy)))(x)];
          },
          engine,
        ),
      );
      assert.deepEqual(Array.from(dx.values), specialCase(channels).expected);
    });
  }
}

test('the gradient of 128×28×28×32 2×2 pooling stays on wasm; the pooling runs on ONNX Runtime', async () => {
  await assertWasmMatchesCpu(
    'tiled 2x2',
    () => {
      const x = tf.relu(randomTensor([4, 6, 10, 8], 24));
      const upstream = randomTensor([4, 3, 5, 8], 25);
      return [tf.grad((input: tf.Tensor) => tf.sum(tf.mul(tf.maxPool(input as tf.Tensor4D, 2, 2, 'valid'), upstream)))(x)];
    },
    1e-4,
    { accelerate: 'ort' },
  );
  assert.ok(
    ortSessionKeys().some((key) => key.startsWith('maxPool 4,6,10,8,')),
    'ONNX Runtime pooled',
  );
  assert.ok(!ortSessionKeys().some((key) => key.startsWith('maxPool grad')), 'no ONNX Runtime session for the gradient');
});
