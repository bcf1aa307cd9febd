/**
 * Optimizer updates computed by ONNX Runtime when it accelerates the engine. Each function
 * returns false, having done nothing, when it does not (cpu backend, `accelerate: 'none'`, ONNX
 * Runtime unavailable) or the variable is too small to be worth a session call; the caller then
 * runs its own JavaScript loop.
 */
import { runOnActiveRuntime } from './ort/index.js';
import { adamGraph, adamHyper, minAcceleratedSize, momentumGraph, momentumHyper, sgdGraph } from './ort/kernels/update_graphs.js';

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

export type AdamHyper = Record<(typeof adamHyper)[number], number>;

export function acceleratedAdam(arrays: AdamArrays, hyper: AdamHyper): boolean {
  const size = arrays.weights.length;
  if (size < minAcceleratedSize) return false;
  return runOnActiveRuntime(
    adamGraph(size),
    {
      w: arrays.weights,
      g: arrays.gradient,
      m: arrays.firstMoment,
      v: arrays.secondMoment,
      hyper: Float32Array.from(adamHyper, (name) => hyper[name]),
    },
    { next: arrays.next, mNext: arrays.firstMoment, vNext: arrays.secondMoment },
  );
}

/** SGD with momentum when `accumulation` is given (updated in place), plain SGD otherwise. */
export function acceleratedMomentum(
  next: Float32Array,
  weights: Float32Array,
  gradient: Float32Array,
  accumulation: Float32Array | undefined,
  hyper: Record<(typeof momentumHyper)[number], number>,
): boolean {
  const size = weights.length;
  if (size < minAcceleratedSize) return false;
  if (accumulation === undefined) {
    return runOnActiveRuntime(sgdGraph(size), { w: weights, g: gradient, hyper: Float32Array.of(hyper.learningRate) }, { next });
  }
  return runOnActiveRuntime(
    momentumGraph(size),
    { w: weights, g: gradient, a: accumulation, hyper: Float32Array.from(momentumHyper, (name) => hyper[name]) },
    { next, aNext: accumulation },
  );
}
