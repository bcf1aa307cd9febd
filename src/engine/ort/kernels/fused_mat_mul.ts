/**
 * _FusedMatMul (matmul + bias + activation, used by dense layers) computed by ONNX Runtime.
 * PReLU, relu6 and anything else the plan cannot express go to `fallback`, kdkit's wasm kernel.
 */
import type { _FusedMatMulAttrs, KernelConfig, TensorInfo } from '@tensorflow/tfjs-core';
import type { SessionCache } from '../session_cache.js';
import { isOrtActivation, planMatMul, type MatMulPlan } from './mat_mul_graph.js';
import { runGraph, withWasmFallback } from './run_graph.js';

interface Inputs {
  a: TensorInfo;
  b: TensorInfo;
  bias?: TensorInfo;
  preluActivationWeights?: TensorInfo;
}

function plan(inputs: Inputs, attrs: _FusedMatMulAttrs): MatMulPlan | undefined {
  const { a, b, bias, preluActivationWeights } = inputs;
  const activation = attrs.activation ?? 'linear';
  if (preluActivationWeights != null || !isOrtActivation(activation)) return undefined;
  if ([a, b, ...(bias == null ? [] : [bias])].some((info) => info.dtype !== 'float32')) return undefined;
  return planMatMul({
    aShape: a.shape,
    bShape: b.shape,
    transposeA: attrs.transposeA,
    transposeB: attrs.transposeB,
    biasShape: bias?.shape,
    activation,
    leakyreluAlpha: attrs.leakyreluAlpha,
  });
}

export function ortFusedMatMul(fallback: KernelConfig, cache: SessionCache): KernelConfig {
  return withWasmFallback<Inputs, _FusedMatMulAttrs>(fallback, (inputs, attrs, backend) => {
    const matMulPlan = plan(inputs, attrs);
    if (matMulPlan === undefined) return undefined;
    const { a, b, bias } = inputs;
    return runGraph(backend, cache, matMulPlan.graph, bias == null ? { a, b } : { a, b, bias }, matMulPlan.outputShape);
  });
}
