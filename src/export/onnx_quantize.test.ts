import { test } from 'node:test';
import assert from 'node:assert/strict';
import { float16Bits, float16Bytes, float32Bytes, int64Bytes, quantizeUint8 } from './onnx_quantize.js';

test('float16Bits rounds to the nearest half, ties to even, as IEEE 754 says', () => {
  // sign | 5 exponent bits (bias 15) | 10 mantissa bits.
  assert.equal(float16Bits(1), 0x3c00);
  assert.equal(float16Bits(-2), 0xc000);
  assert.equal(float16Bits(0.1), 0x2e66); // 0.1 = 1.6 · 2⁻⁴; 0.6 · 1024 = 614.4 → 614 = 0x266
  assert.equal(float16Bits(65504), 0x7bff); // the largest half
  assert.equal(float16Bits(65520), 0x7c00); // halfway to 2¹⁶: ties to even, which overflows to infinity
  assert.equal(float16Bits(1 + 2 ** -11), 0x3c00); // halfway between 1 and 1 + 2⁻¹⁰: even is 1
  assert.equal(float16Bits(1 + 3 * 2 ** -11), 0x3c02); // halfway between mantissas 1 and 2: even is 2
  assert.equal(float16Bits(2 ** -24), 0x0001); // the smallest subnormal
  assert.equal(float16Bits(3 * 2 ** -25), 0x0002); // 1.5 subnormal steps: ties to even
  assert.equal(float16Bits(2 ** -25), 0x0000); // half a step: ties to even, zero
  assert.equal(float16Bits(-0), 0x8000);
  assert.equal(float16Bits(Infinity), 0x7c00);
  assert.equal(float16Bits(NaN) & 0x7c00, 0x7c00);
  assert.notEqual(float16Bits(NaN) & 0x03ff, 0);
});

test('weights are stored little-endian', () => {
  assert.deepEqual([...float16Bytes(Float32Array.of(1, -2))], [0x00, 0x3c, 0x00, 0xc0]);
  assert.deepEqual([...float32Bytes(Float32Array.of(1))], [0x00, 0x00, 0x80, 0x3f]);
  assert.deepEqual([...int64Bytes([-1, 258])], [255, 255, 255, 255, 255, 255, 255, 255, 2, 1, 0, 0, 0, 0, 0, 0]);
});

test('quantizeUint8 takes one range per channel along the axis, always containing 0', () => {
  // A [4, 3] Dense kernel quantized along axis 1 (its 3 output columns).
  const kernel = Float32Array.of(-1, 0.2, 0, 0, 1, 0, 1, 0.6, 0, 2, 0.4, 0);
  const { quantized, scales, zeroPoints } = quantizeUint8(kernel, [4, 3], 1);
  // Column 0: range [-1, 2], scale 3/255, zero point 1/(3/255) = 85; x/scale = 85·x.
  // Column 1: range [0, 1] (0 is added), scale 1/255, zero point 0; x/scale = 255·x.
  // Column 2: all zero; scale 1 keeps the division finite.
  assert.deepEqual([...scales], [Math.fround(3 / 255), Math.fround(1 / 255), 1]);
  assert.deepEqual([...zeroPoints], [85, 0, 0]);
  assert.deepEqual([...quantized], [0, 51, 0, 85, 255, 0, 170, 153, 0, 255, 102, 0]);
});

test('quantizeUint8 along the first axis of a conv kernel, and dequantization error stays within half a step', () => {
  // ONNX Conv kernels are [out, in, kh, kw]: channel = index / (in · kh · kw).
  const kernel = Float32Array.from({ length: 2 * 3 * 2 * 2 }, (_, i) => Math.sin(i) * (i < 12 ? 0.1 : 5));
  const { quantized, scales, zeroPoints } = quantizeUint8(kernel, [2, 3, 2, 2], 0);
  assert.ok(scales[0] < 0.001 && scales[1] > 0.03, 'each output channel has its own scale');
  kernel.forEach((value, i) => {
    const channel = i < 12 ? 0 : 1;
    const restored = (quantized[i] - zeroPoints[channel]) * scales[channel];
    assert.ok(Math.abs(restored - value) <= scales[channel] / 2 + 1e-7, `weight ${i}: ${value} restored as ${restored}`);
  });
});
