import assert from 'node:assert/strict';
import { test } from 'node:test';
import { initEngine, tf } from './index.js';
import { assertClose, assertWasmMatchesCpu, outputsOn, randomTensor } from './parity.test.util.js';
import { ortSessionKeys } from './ort/index.js';
import { setSimdKernelsEnabled } from './simd/module.js';

interface DepthwiseCase {
  batch: number;
  height: number;
  width: number;
  channels: number;
  multiplier: number;
  filter: [number, number];
  strides: [number, number];
  pad: 'same' | 'valid';
}

const cases: DepthwiseCase[] = [
  { batch: 1, height: 5, width: 5, channels: 1, multiplier: 1, filter: [3, 3], strides: [1, 1], pad: 'same' },
  { batch: 3, height: 7, width: 9, channels: 4, multiplier: 1, filter: [3, 3], strides: [1, 1], pad: 'valid' },
  { batch: 2, height: 9, width: 7, channels: 3, multiplier: 2, filter: [3, 3], strides: [2, 2], pad: 'same' },
  { batch: 2, height: 8, width: 8, channels: 5, multiplier: 2, filter: [3, 3], strides: [2, 2], pad: 'valid' },
  { batch: 1, height: 11, width: 6, channels: 8, multiplier: 1, filter: [2, 3], strides: [2, 1], pad: 'same' },
  { batch: 4, height: 6, width: 7, channels: 2, multiplier: 2, filter: [5, 5], strides: [1, 1], pad: 'same' },
  { batch: 2, height: 7, width: 6, channels: 9, multiplier: 3, filter: [1, 1], strides: [2, 2], pad: 'valid' },
  // Multiplier 1 (kdkit's SIMD gradients): channel tails, stride 2 both ways, 5×5 and 1×1 filters.
  { batch: 3, height: 9, width: 8, channels: 17, multiplier: 1, filter: [3, 3], strides: [2, 2], pad: 'same' },
  { batch: 2, height: 10, width: 9, channels: 6, multiplier: 1, filter: [3, 3], strides: [2, 2], pad: 'valid' },
  { batch: 1, height: 8, width: 7, channels: 12, multiplier: 1, filter: [5, 5], strides: [1, 2], pad: 'same' },
  { batch: 2, height: 5, width: 6, channels: 3, multiplier: 1, filter: [1, 1], strides: [1, 1], pad: 'valid' },
];

/**
 * Both engines (the plain wasm kernels, and ONNX Runtime's), each with kdkit's SIMD kernels and
 * without them (the JavaScript loops and ONNX Runtime's graphs they stand in for at multiplier 1).
 */
const engines = [
  { accelerate: 'none', simd: true },
  { accelerate: 'ort', simd: true },
  { accelerate: 'none', simd: false },
  { accelerate: 'ort', simd: false },
] as const;

for (const c of cases)
  for (const { simd, ...engine } of engines) {
    const label =
      `depthwiseConv2d ${c.batch}x${c.height}x${c.width}x${c.channels} x${c.multiplier}, ` +
      `filter ${c.filter}, strides ${c.strides}, ${c.pad}, accelerate ${engine.accelerate}${simd ? '' : ', no SIMD'}`;
    test(`${label}: output and gradients on wasm match cpu`, async () => {
      setSimdKernelsEnabled(simd);
      await assertWasmMatchesCpu(
        label,
        () => {
          const x = randomTensor([c.batch, c.height, c.width, c.channels], 4) as tf.Tensor4D;
          const filter = randomTensor([...c.filter, c.channels, c.multiplier], 5) as tf.Tensor4D;
          const forward = (input: tf.Tensor4D, kernel: tf.Tensor4D) => tf.depthwiseConv2d(input, kernel, c.strides, c.pad);
          const y = forward(x, filter);
          const upstream = randomTensor(y.shape, 6);
          const [dx, dFilter] = tf.grads((input: tf.Tensor, kernel: tf.Tensor) =>
            tf.sum(tf.mul(forward(input as tf.Tensor4D, kernel as tf.Tensor4D), upstream)),
          )([x, filter]);
          return [y, dx, dFilter];
        },
        1e-4,
        engine,
      ).finally(() => setSimdKernelsEnabled(true));
    });
  }

test('depthwise backprop kernels on plain wasm reject dilations rather than computing wrong answers', async () => {
  await initEngine({ backend: 'wasm', accelerate: 'none' });
  const x = tf.zeros([1, 6, 6, 2]);
  const dy = tf.zeros([1, 6, 6, 2]);
  const filter = tf.zeros([3, 3, 2, 1]);
  const attrs = { strides: 1, pad: 'same', dilations: 2 };
  assert.throws(
    () => tf.engine().runKernel('DepthwiseConv2dNativeBackpropFilter', { x, dy }, { ...attrs, filterShape: [3, 3, 2, 1] }),
    /dilations of 1 only/,
  );
  assert.throws(
    () => tf.engine().runKernel('DepthwiseConv2dNativeBackpropInput', { dy, filter }, { ...attrs, inputShape: [1, 6, 6, 2] }),
    /dilations of 1 only/,
  );
  tf.dispose([x, dy, filter]);
});

/** `filter` ([fh, fw, C, q]) with dilation − 1 zeros between its taps: the undilated equivalent. */
function dilatedFilter(filter: tf.Tensor4D, [dh, dw]: [number, number]): tf.Tensor4D {
  const [fh, fw, channels, q] = filter.shape;
  const values = filter.arraySync();
  const expanded = tf.buffer([(fh - 1) * dh + 1, (fw - 1) * dw + 1, channels, q]);
  values.forEach((row, kh) => {
    row.forEach((column, kw) => {
      column.forEach((taps, c) => {
        taps.forEach((value, j) => {
          expanded.set(value, kh * dh, kw * dw, c, j);
        });
      });
    });
  });
  return expanded.toTensor() as tf.Tensor4D;
}

test('ONNX Runtime depthwise forward with dilations matches cpu, and its dilated gradients match the undilated equivalent', async () => {
  const dilations: [number, number] = [2, 3];
  const attrs = { strides: 1, pad: 'same' } as const;
  const compute = (dilated: boolean) => () => {
    const x = randomTensor([2, 9, 10, 3], 7) as tf.Tensor4D;
    const filter = randomTensor([3, 2, 3, 2], 8) as tf.Tensor4D;
    const kernel = dilated ? filter : dilatedFilter(filter, dilations);
    const y = tf.depthwiseConv2d(x, kernel, 1, 'same', 'NHWC', dilated ? dilations : 1);
    const dy = randomTensor(y.shape, 9);
    const backprop = (name: string, inputs: Record<string, tf.Tensor>, extra: object) =>
      tf.engine().runKernel(name, inputs, { ...attrs, dilations: dilated ? dilations : 1, ...extra }) as tf.Tensor;
    const dx = backprop('DepthwiseConv2dNativeBackpropInput', { dy, filter: kernel }, { inputShape: x.shape });
    let dFilter = backprop('DepthwiseConv2dNativeBackpropFilter', { x, dy }, { filterShape: kernel.shape });
    // The undilated filter's gradient at the taps the dilated filter has.
    if (!dilated) dFilter = tf.stridedSlice(dFilter, [0, 0, 0, 0], dFilter.shape, [dilations[0], dilations[1], 1, 1]);
    return [y, dx, dFilter];
  };
  const expected = await outputsOn('cpu', compute(false));
  const actual = await outputsOn('wasm', compute(true), { accelerate: 'ort' });
  actual.forEach((output, i) => {
    assert.deepEqual(output.shape, expected[i].shape, `output ${i}: shape`);
    assertClose(output.values, expected[i].values, 1e-4, `output ${i}`);
  });
  assert.ok(
    ortSessionKeys().some((key) => key.startsWith('depthwise input grad 2 ')),
    'ONNX Runtime ran the input gradient',
  );
});
