/**
 * BatchMatMul for wasm without its slow transposed path. With transposeA or transposeB set the
 * stock kernel is about 7x slower (128x1200 times 1200x1200: 27 ms plain, ~190 ms transposed),
 * so transpose explicitly and call the stock kernel with both flags off.
 */
import type { BatchMatMulAttrs, KernelConfig, TensorInfo } from '@tensorflow/tfjs-core';
import { swapInnerDims, wasmKernel } from './wasm.js';

interface Inputs {
  a: TensorInfo;
  b: TensorInfo;
}

/** Wraps `stock`, the backend's own BatchMatMul, which must stay set up. */
export function transposeFreeBatchMatMul(stock: KernelConfig): KernelConfig {
  const config = wasmKernel<Inputs, BatchMatMulAttrs>(stock.kernelName, ({ a, b }, { transposeA, transposeB }, backend) => {
    const plainA = transposeA ? swapInnerDims(backend, a) : a;
    const plainB = transposeB ? swapInnerDims(backend, b) : b;
    const out = stock.kernelFunc({
      inputs: { a: plainA, b: plainB },
      attrs: { transposeA: false, transposeB: false },
      backend,
    }) as TensorInfo;
    if (transposeA) backend.disposeData(plainA.dataId);
    if (transposeB) backend.disposeData(plainB.dataId);
    return out;
  });
  return { ...config, setupFunc: stock.setupFunc, disposeFunc: stock.disposeFunc };
}
