import assert from 'node:assert/strict';
import { test } from 'node:test';
import { initEngine, tf } from './index.js';
import { assertWasmMatchesCpu, randomTensor } from './parity.test.util.js';

interface Conv2DCase {
  batch: number;
  height: number;
  width: number;
  inChannels: number;
  outChannels: number;
  filter: [number, number];
  strides: [number, number];
  pad: 'same' | 'valid' | number | [[0, 0], [number, number], [number, number], [0, 0]];
}

const cases: Conv2DCase[] = [
  { batch: 1, height: 5, width: 5, inChannels: 1, outChannels: 1, filter: [3, 3], strides: [1, 1], pad: 'same' },
  { batch: 3, height: 7, width: 9, inChannels: 2, outChannels: 4, filter: [3, 3], strides: [1, 1], pad: 'valid' },
  { batch: 2, height: 9, width: 7, inChannels: 3, outChannels: 5, filter: [3, 3], strides: [2, 2], pad: 'same' },
  { batch: 2, height: 8, width: 8, inChannels: 4, outChannels: 3, filter: [3, 3], strides: [2, 2], pad: 'valid' },
  { batch: 1, height: 11, width: 6, inChannels: 5, outChannels: 8, filter: [2, 3], strides: [2, 1], pad: 'same' },
  { batch: 4, height: 6, width: 6, inChannels: 8, outChannels: 16, filter: [5, 5], strides: [1, 1], pad: 'same' },
  { batch: 2, height: 7, width: 7, inChannels: 3, outChannels: 2, filter: [1, 1], strides: [2, 2], pad: 'valid' },
  { batch: 2, height: 6, width: 5, inChannels: 2, outChannels: 3, filter: [3, 3], strides: [1, 1], pad: 1 },
  // Big enough that the filter gradient sums over several chunks of images (2048 positions each).
  { batch: 5, height: 30, width: 31, inChannels: 2, outChannels: 3, filter: [3, 3], strides: [1, 1], pad: 'same' },
  { batch: 2, height: 50, width: 46, inChannels: 1, outChannels: 2, filter: [3, 3], strides: [1, 1], pad: 'valid' },
  // Stride 1 with uneven explicit pads; then pads wider than the filter, which the flipped-filter
  // convolution for the input gradient cannot express.
  {
    batch: 2,
    height: 6,
    width: 7,
    inChannels: 3,
    outChannels: 2,
    filter: [3, 3],
    strides: [1, 1],
    pad: [
      [0, 0],
      [2, 0],
      [1, 1],
      [0, 0],
    ],
  },
  { batch: 2, height: 5, width: 5, inChannels: 2, outChannels: 3, filter: [1, 1], strides: [1, 1], pad: 1 },
  {
    batch: 2,
    height: 7,
    width: 6,
    inChannels: 3,
    outChannels: 2,
    filter: [3, 2],
    strides: [2, 1],
    pad: [
      [0, 0],
      [2, 0],
      [0, 1],
      [0, 0],
    ],
  },
  // 8 or more input channels: ONNX Runtime gathers the patches instead of slicing them.
  { batch: 3, height: 9, width: 8, inChannels: 9, outChannels: 5, filter: [3, 3], strides: [2, 2], pad: 'same' },
  { batch: 2, height: 8, width: 9, inChannels: 8, outChannels: 7, filter: [3, 2], strides: [1, 2], pad: 'valid' },
  {
    batch: 2,
    height: 6,
    width: 7,
    inChannels: 10,
    outChannels: 3,
    filter: [3, 3],
    strides: [1, 1],
    pad: [
      [0, 0],
      [2, 0],
      [1, 1],
      [0, 0],
    ],
  },
];

/** Both engines: the plain wasm kernels, and ONNX Runtime's. */
const engines = [{ accelerate: 'none' }, { accelerate: 'ort' }] as const;

for (const c of cases)
  for (const engine of engines) {
    const label =
      `conv2d ${c.batch}x${c.height}x${c.width}x${c.inChannels} -> ${c.outChannels}, ` +
      `filter ${c.filter}, strides ${c.strides}, pad ${JSON.stringify(c.pad)}, accelerate ${engine.accelerate}`;
    test(`${label}: output and gradients on wasm match cpu`, async () => {
      await assertWasmMatchesCpu(
        label,
        () => {
          const x = randomTensor([c.batch, c.height, c.width, c.inChannels], 1) as tf.Tensor4D;
          const filter = randomTensor([...c.filter, c.inChannels, c.outChannels], 2) as tf.Tensor4D;
          const forward = (input: tf.Tensor4D, kernel: tf.Tensor4D) => tf.conv2d(input, kernel, c.strides, c.pad);
          const y = forward(x, filter);
          // A random upstream gradient, so that a misplaced element cannot hide behind dy = 1.
          const upstream = randomTensor(y.shape, 3);
          const [dx, dFilter] = tf.grads((input: tf.Tensor, kernel: tf.Tensor) =>
            tf.sum(tf.mul(forward(input as tf.Tensor4D, kernel as tf.Tensor4D), upstream)),
          )([x, filter]);
          return [y, dx, dFilter];
        },
        1e-4,
        engine,
      );
    });
  }

test('Conv2DBackpropFilter on wasm rejects NCHW data rather than misreading it', async () => {
  await initEngine({ backend: 'wasm' });
  const x = tf.zeros([1, 4, 4, 2]);
  const dy = tf.zeros([1, 4, 4, 3]);
  assert.throws(
    () =>
      tf.engine().runKernel(
        'Conv2DBackpropFilter',
        { x, dy },
        {
          strides: 1,
          pad: 'same',
          dataFormat: 'NCHW',
          filterShape: [3, 3, 2, 3],
        },
      ),
    /supports NHWC data only/,
  );
  tf.dispose([x, dy]);
});
