/**
 * The four passes over the activations that batch norm in training mode makes (./batch_norm.ts
 * does the per-channel arithmetic between them), on channels-last data seen as [rows, channels]:
 * kdkit's SIMD kernels on the wasm heap (../simd/assembly/batch_norm.ts), or JavaScript loops for
 * the cpu backend and a shared wasm heap. Sums are added to the f64 arrays
 * given, which the caller zeroes.
 */
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { heapPointers, simdKernels } from '../simd/module.js';

export interface BatchNormLoops {
  /** sums += Σ (x − shift), squares += Σ (x − shift)², per channel. */
  moments(x: Float32Array, shift: Float32Array, sums: Float64Array, squares: Float64Array, rows: number, channels: number): void;
  /** y = (x − mean) · scale + offset, per channel. */
  normalize(
    x: Float32Array,
    y: Float32Array,
    mean: Float32Array,
    scale: Float32Array,
    offset: Float32Array,
    rows: number,
    channels: number,
  ): void;
  /** sums += Σ dy, products += Σ dy · (x − mean), centered += Σ (x − mean), per channel. */
  gradientSums(
    dy: Float32Array,
    x: Float32Array,
    mean: Float32Array,
    totals: { sums: Float64Array; products: Float64Array; centered: Float64Array },
    rows: number,
    channels: number,
  ): void;
  /** dx = dy · a + (x − mean) · b + c, per channel. */
  gradientApply(
    dy: Float32Array,
    x: Float32Array,
    dx: Float32Array,
    mean: Float32Array,
    coefficients: { a: Float32Array; b: Float32Array; c: Float32Array },
    rows: number,
    channels: number,
  ): void;
}

export const javaScriptLoops: BatchNormLoops = {
  moments(x, shift, sums, squares, rows, channels) {
    for (let row = 0, at = 0; row < rows; row++) {
      for (let channel = 0; channel < channels; channel++, at++) {
        const d = x[at] - shift[channel];
        sums[channel] += d;
        squares[channel] += d * d;
      }
    }
  },
  normalize(x, y, mean, scale, offset, rows, channels) {
    for (let row = 0, at = 0; row < rows; row++) {
      for (let channel = 0; channel < channels; channel++, at++) {
        y[at] = (x[at] - mean[channel]) * scale[channel] + offset[channel];
      }
    }
  },
  gradientSums(dy, x, mean, { sums, products, centered }, rows, channels) {
    for (let row = 0, at = 0; row < rows; row++) {
      for (let channel = 0; channel < channels; channel++, at++) {
        const d = x[at] - mean[channel];
        sums[channel] += dy[at];
        products[channel] += dy[at] * d;
        centered[channel] += d;
      }
    }
  },
  gradientApply(dy, x, dx, mean, { a, b, c }, rows, channels) {
    for (let row = 0, at = 0; row < rows; row++) {
      for (let channel = 0; channel < channels; channel++, at++) {
        dx[at] = dy[at] * a[channel] + (x[at] - mean[channel]) * b[channel] + c[channel];
      }
    }
  },
};

/**
 * The loops for `backend`: the SIMD kernels, or the JavaScript ones where those cannot run (a
 * shared heap). Every array given to the SIMD ones must be a view of the heap.
 */
export function wasmLoops(backend: BackendWasm): BatchNormLoops {
  const simd = simdKernels(backend);
  if (simd === undefined) return javaScriptLoops;
  return {
    moments(x, shift, sums, squares, rows, channels) {
      const [xAt, shiftAt, sumsAt, squaresAt] = heapPointers(backend, x, shift, sums, squares);
      simd.batchNormMoments(xAt, shiftAt, sumsAt, squaresAt, rows, channels);
    },
    normalize(x, y, mean, scale, offset, rows, channels) {
      const [xAt, yAt, meanAt, scaleAt, offsetAt] = heapPointers(backend, x, y, mean, scale, offset);
      simd.batchNormNormalize(xAt, yAt, meanAt, scaleAt, offsetAt, rows, channels);
    },
    gradientSums(dy, x, mean, { sums, products, centered }, rows, channels) {
      const [dyAt, xAt, meanAt, sumsAt, productsAt, centeredAt] = heapPointers(backend, dy, x, mean, sums, products, centered);
      simd.batchNormGradientSums(dyAt, xAt, meanAt, sumsAt, productsAt, centeredAt, rows, channels);
    },
    gradientApply(dy, x, dx, mean, { a, b, c }, rows, channels) {
      const [dyAt, xAt, dxAt, meanAt, aAt, bAt, cAt] = heapPointers(backend, dy, x, dx, mean, a, b, c);
      simd.batchNormGradientApply(dyAt, xAt, dxAt, meanAt, aAt, bAt, cAt, rows, channels);
    },
  };
}
