/**
 * _FusedMatMul (matmul + bias + activation, used by dense layers) for wasm without its slow
 * transposed path; see batch_mat_mul.ts.
 */
import type { _FusedMatMulAttrs, KernelConfig, TensorInfo } from '@tensorflow/tfjs-core';
import { swapInnerDims, wasmKernel } from './wasm.js';

interface Inputs {
  a: TensorInfo;
  b: TensorInfo;
  bias?: TensorInfo;
  preluActivationWeights?: TensorInfo;
}

/** Wraps `stock`, the backend's own _FusedMatMul, which must stay set up. */
export function transposeFreeFusedMatMul(stock: KernelConfig): KernelConfig {
  const config = wasmKernel<Inputs, _FusedMatMulAttrs>(stock.kernelName, (inputs, attrs, backend) => {
    const { a, b } = inputs;
    const plainA = attrs.transposeA ? swapInnerDims(backend, a) : a;
    const plainB = attrs.transposeB ? swapInnerDims(backend, b) : b;
    const out = stock.kernelFunc({
      inputs: { ...inputs, a: plainA, b: plainB } as Record<string, TensorInfo>,
      attrs: { ...attrs, transposeA: false, transposeB: false },
      backend,
    }) as TensorInfo;
    if (attrs.transposeA) backend.disposeData(plainA.dataId);
    if (attrs.transposeB) backend.disposeData(plainB.dataId);
    return out;
  });
  return { ...config, setupFunc: stock.setupFunc, disposeFunc: stock.disposeFunc };
}
