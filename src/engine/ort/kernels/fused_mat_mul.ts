/**
 * _FusedMatMul (matmul + bias + activation, used by dense layers) computed by ONNX Runtime.
 * Anything the plan cannot express goes to `fallback`, kdkit's wasm kernel.
 */
import type { _FusedMatMulAttrs, KernelConfig, TensorInfo } from '@tensorflow/tfjs-core';
import type { SessionCache } from '../session_cache.js';
import { isOrtActivation, cachedMatMulPlan, type KeyedMatMulPlan } from './mat_mul_graph.js';
import { runGraph, withWasmFallback } from './run_graph.js';

interface Inputs {
  a: TensorInfo;
  b: TensorInfo;
  bias?: TensorInfo;
  preluActivationWeights?: TensorInfo;
}

function plan(inputs: Inputs, attrs: _FusedMatMulAttrs): KeyedMatMulPlan | undefined {
  const { a, b, bias, preluActivationWeights } = inputs;
  const activation = attrs.activation ?? 'linear';
  if (!isOrtActivation(activation)) return undefined;
  if ([a, b, bias, preluActivationWeights].some((info) => info != null && info.dtype !== 'float32')) return undefined;
  if (activation === 'prelu' && preluActivationWeights == null) return undefined;
  return cachedMatMulPlan({
    aShape: a.shape,
    bShape: b.shape,
    transposeA: attrs.transposeA,
    transposeB: attrs.transposeB,
    biasShape: bias?.shape,
    activation,
    leakyreluAlpha: attrs.leakyreluAlpha,
    preluShape: preluActivationWeights?.shape,
  });
}

export function ortFusedMatMul(fallback: KernelConfig, cache: SessionCache): KernelConfig {
  return withWasmFallback<Inputs, _FusedMatMulAttrs>(fallback, (inputs, attrs, backend) => {
    const matMulPlan = plan(inputs, attrs);
    if (matMulPlan === undefined) return undefined;
    const { a, b, bias, preluActivationWeights } = inputs;
    const operands: Record<string, TensorInfo> = { a, b };
    if (bias != null) operands.bias = bias;
    if (preluActivationWeights != null) operands.preluWeights = preluActivationWeights;
    return runGraph(backend, cache, matMulPlan.graph, operands, matMulPlan.outputShape);
  });
}
