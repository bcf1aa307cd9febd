/**
 * BatchMatMul on the wasm backend's data computed by ONNX Runtime (MLAS, multithreaded).
 * Anything the plan cannot express (non-float32, empty operands) goes to `fallback`, kdkit's
 * wasm kernel.
 */
import type { BatchMatMulAttrs, KernelConfig, TensorInfo } from '@tensorflow/tfjs-core';
import type { SessionCache } from '../session_cache.js';
import { cachedMatMulPlan } from './mat_mul_graph.js';
import { runGraph, withWasmFallback } from './run_graph.js';

interface Inputs {
  a: TensorInfo;
  b: TensorInfo;
}

export function ortBatchMatMul(fallback: KernelConfig, cache: SessionCache): KernelConfig {
  return withWasmFallback<Inputs, BatchMatMulAttrs>(fallback, (inputs, attrs, backend) => {
    const { a, b } = inputs;
    if (a.dtype !== 'float32' || b.dtype !== 'float32') return undefined;
    const plan = cachedMatMulPlan({
      aShape: a.shape,
      bShape: b.shape,
      transposeA: attrs.transposeA,
      transposeB: attrs.transposeB,
      activation: 'linear',
    });
    return plan === undefined ? undefined : runGraph(backend, cache, plan.graph, { a, b }, plan.outputShape);
  });
}
