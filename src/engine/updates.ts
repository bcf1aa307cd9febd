/**
 * Optimizer updates by kdkit's SIMD kernels (./simd/), in one pass over each variable on the wasm
 * heap: a 1.44 M-weight Adam update takes 1.7 ms, against 5.2 ms for an ONNX Runtime graph of
 * elementwise nodes on 2 threads and 7.2 ms for a JavaScript loop. Each function returns false,
 * having done nothing, when the kernels are unavailable (the cpu backend, a shared wasm heap);
 * the caller then runs its own JavaScript loop. Every array must be a view of a tensor on the
 * backend, taken after the last allocation.
 */
import * as tfc from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { heapPointers, simdKernels, type SimdKernels } from './simd/module.js';

export interface AdamArrays {
  /** The new weights, written. */
  next: Float32Array;
  weights: Float32Array;
  gradient: Float32Array;
  /** Updated in place. */
  firstMoment: Float32Array;
  /** Updated in place. */
  secondMoment: Float32Array;
}

export interface AdamHyper {
  beta1: number;
  beta2: number;
  stepSize: number;
  secondCorrection: number;
  epsilon: number;
  /** Coupled weight decay: g ← g + decay·w (0 for none). */
  decay: number;
  /** Decoupled weight decay (AdamW): w ← keep·w before the update (1 for none). */
  keep: number;
}

function kernels(): { backend: BackendWasm; simd: SimdKernels } | undefined {
  if (tfc.getBackend() !== 'wasm') return undefined;
  const backend = tfc.backend() as BackendWasm;
  const simd = simdKernels(backend);
  return simd === undefined ? undefined : { backend, simd };
}

export function simdAdam(arrays: AdamArrays, hyper: AdamHyper): boolean {
  const active = kernels();
  if (active === undefined) return false;
  const { next, weights, gradient, firstMoment, secondMoment } = arrays;
  const [nextAt, weightsAt, gradientAt, firstAt, secondAt] = heapPointers(
    active.backend,
    next,
    weights,
    gradient,
    firstMoment,
    secondMoment,
  );
  active.simd.adam(
    nextAt,
    weightsAt,
    gradientAt,
    firstAt,
    secondAt,
    weights.length,
    hyper.beta1,
    hyper.beta2,
    hyper.stepSize,
    hyper.secondCorrection,
    hyper.epsilon,
    hyper.decay,
    hyper.keep,
  );
  return true;
}

/** SGD with momentum when `accumulation` is given (updated in place), plain SGD otherwise; weight decay coupled. */
export function simdMomentum(
  next: Float32Array,
  weights: Float32Array,
  gradient: Float32Array,
  accumulation: Float32Array | undefined,
  hyper: { learningRate: number; momentum: number; decay: number },
): boolean {
  const active = kernels();
  if (active === undefined) return false;
  if (accumulation === undefined) {
    const [nextAt, weightsAt, gradientAt] = heapPointers(active.backend, next, weights, gradient);
    active.simd.sgd(nextAt, weightsAt, gradientAt, weights.length, hyper.learningRate, hyper.decay);
  } else {
    const [nextAt, weightsAt, gradientAt, accumulationAt] = heapPointers(active.backend, next, weights, gradient, accumulation);
    active.simd.momentum(nextAt, weightsAt, gradientAt, accumulationAt, weights.length, hyper.learningRate, hyper.momentum, hyper.decay);
  }
  return true;
}
