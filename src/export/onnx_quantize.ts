/**
 * Weight-only quantization of exported ONNX initializers, as bytes for TensorProto.raw_data.
 *
 * - float16: IEEE 754 half precision, rounded to nearest, ties to even (by @petamoriken/float16,
 *   the Float16Array polyfill). Relative error ≤ 2⁻¹¹ for normal values.
 * - uint8: asymmetric, one scale and zero point per output channel, so that a channel of small
 *   weights is not crushed by another channel's large ones. The range always contains 0, so 0 is
 *   stored exactly: scale = (max(0, hi) − min(0, lo)) / 255, zeroPoint = round(−min(0, lo) / scale),
 *   q = clamp(round(x / scale) + zeroPoint, 0, 255). Dequantized x̂ = (q − zeroPoint) · scale, the
 *   formula of ONNX DequantizeLinear; |x − x̂| ≤ scale / 2.
 */
import { setFloat16 } from '@petamoriken/float16';

/** The float16 bit pattern nearest to `value` (ties to even; beyond ±65504 rounds to ±infinity). */
export function float16Bits(value: number): number {
  const view = new DataView(new ArrayBuffer(2));
  setFloat16(view, 0, value);
  return view.getUint16(0);
}

/** `data` as little-endian float16 bytes. */
export function float16Bytes(data: Float32Array): Uint8Array {
  const bytes = new Uint8Array(data.length * 2);
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < data.length; i++) setFloat16(view, i * 2, data[i], true);
  return bytes;
}

/** `data` as little-endian float32 bytes. */
export function float32Bytes(data: Float32Array): Uint8Array {
  const bytes = new Uint8Array(data.length * 4);
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < data.length; i++) view.setFloat32(i * 4, data[i], true);
  return bytes;
}

/** `values` as little-endian int64 bytes (for shapes and pads, which ONNX wants as int64). */
export function int64Bytes(values: readonly number[]): Uint8Array {
  const bytes = new Uint8Array(values.length * 8);
  const view = new DataView(bytes.buffer);
  values.forEach((value, i) => {
    view.setBigInt64(i * 8, BigInt(value), true);
  });
  return bytes;
}

export interface Uint8Quantized {
  /** One byte per weight, in the layout of the input. */
  quantized: Uint8Array;
  /** One float32 scale per channel along the quantization axis. */
  scales: Float32Array;
  zeroPoints: Uint8Array;
}

/** Per-channel asymmetric uint8 quantization of a row-major tensor along `axis` (see the header). */
export function quantizeUint8(data: Float32Array, dims: readonly number[], axis: number): Uint8Quantized {
  const channels = dims[axis];
  const inner = dims.slice(axis + 1).reduce((product, size) => product * size, 1);
  const channelOf = (index: number) => Math.floor(index / inner) % channels;
  const low = new Float64Array(channels);
  const high = new Float64Array(channels);
  for (let i = 0; i < data.length; i++) {
    const channel = channelOf(i);
    low[channel] = Math.min(low[channel], data[i]);
    high[channel] = Math.max(high[channel], data[i]);
  }
  const scales = new Float32Array(channels);
  const zeroPoints = new Uint8Array(channels);
  for (let channel = 0; channel < channels; channel++) {
    const range = high[channel] - low[channel];
    // An all-zero channel: any scale reproduces it; 1 keeps the division finite.
    scales[channel] = range > 0 ? range / 255 : 1;
    zeroPoints[channel] = Math.min(255, Math.max(0, Math.round(-low[channel] / scales[channel])));
  }
  const quantized = new Uint8Array(data.length);
  for (let i = 0; i < data.length; i++) {
    const channel = channelOf(i);
    quantized[i] = Math.min(255, Math.max(0, Math.round(data[i] / scales[channel]) + zeroPoints[channel]));
  }
  return { quantized, scales, zeroPoints };
}
