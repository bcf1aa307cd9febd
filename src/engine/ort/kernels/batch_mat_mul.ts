/**
 * BatchMatMul on the wasm backend's data computed by ONNX Runtime (MLAS, multithreaded).
 * Anything the plan cannot express (non-float32, empty operands) goes to `fallback`, kdkit's
 * wasm kernel.
 */
import type { BatchMatMulAttrs, KernelConfig, TensorInfo } from '@tensorflow/tfjs-core';
import type { SessionCache } from '../session_cache.js';
import { wasmKernel } from '../../kernels/wasm.js';
import { planMatMul } from './mat_mul_graph.js';
import { runGraph } from './run_graph.js';

interface Inputs {
  a: TensorInfo;
  b: TensorInfo;
}

export function ortBatchMatMul(fallback: KernelConfig, cache: SessionCache): KernelConfig {
  const config = wasmKernel<Inputs, BatchMatMulAttrs>(fallback.kernelName, (inputs, attrs, backend) => {
    const { a, b } = inputs;
    const plan =
      a.dtype === 'float32' && b.dtype === 'float32'
        ? planMatMul({
            aShape: a.shape,
            bShape: b.shape,
            transposeA: attrs.transposeA,
            transposeB: attrs.transposeB,
            activation: 'linear',
          })
        : undefined;
    if (plan === undefined) {
      return fallback.kernelFunc({ inputs: { a, b }, attrs: { ...attrs }, backend }) as TensorInfo;
    }
    return runGraph(backend, cache, plan.graph, { a, b }, plan.outputShape);
  });
  return { ...config, setupFunc: fallback.setupFunc, disposeFunc: fallback.disposeFunc };
}
