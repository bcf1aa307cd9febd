/**
 * BatchMatMul for wasm without its slow transposed path. With transposeA or transposeB set the
 * stock kernel leaves XNNPACK for a naive loop, about 8x slower (128x1200 times 1200x1200:
 * ~20 ms plain, ~170 ms with transposeB; bench/engine-step.js). So transpose explicitly and call
 * the stock kernel with both flags off.
 *
 * The stock fast path packs its right operand on every call with fresh data. For a single
 * (unbatched) product the transposes can go either way round, C = A·B or C = (Bᵀ·Aᵀ)ᵀ, so pick the
 * one that moves and packs fewer elements: for a dense layer's input gradient dy·Wᵀ that avoids
 * transposing and packing all of W. Untransposed products go straight to the stock kernel,
 * which caches the packing of a constant right operand (inference weights).
 */
import { util, type BatchMatMulAttrs, type KernelConfig, type TensorInfo } from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { swapInnerDims, wasmKernel, withShape } from './wasm.js';

interface Inputs {
  a: TensorInfo;
  b: TensorInfo;
}

/** Cost of packing one element of the right operand, relative to transposing it (measured ~2-3x). */
const packCostPerTranspose = 2;

/**
 * Whether computing (Bᵀ·Aᵀ)ᵀ moves fewer elements than transposing in place and computing A·B,
 * counting a transpose as 1 per element and packing the right operand as packCostPerTranspose.
 */
export function prefersSwappedProduct(aShape: number[], bShape: number[], transposeA: boolean, transposeB: boolean): boolean {
  const sizeA = util.sizeFromShape(aShape);
  const sizeB = util.sizeFromShape(bShape);
  const rows = transposeA ? aShape[aShape.length - 1] : aShape[aShape.length - 2];
  const columns = transposeB ? bShape[bShape.length - 2] : bShape[bShape.length - 1];
  const direct = (transposeA ? sizeA : 0) + (transposeB ? sizeB : 0) + packCostPerTranspose * sizeB;
  const swapped = (transposeB ? 0 : sizeB) + (transposeA ? 0 : sizeA) + packCostPerTranspose * sizeA + rows * columns;
  return swapped < direct;
}

/** Shape without its leading batch dimensions of size 1, or undefined if it has a real batch. */
function asMatrix(info: TensorInfo): TensorInfo | undefined {
  const rank = info.shape.length;
  if (util.sizeFromShape(info.shape.slice(0, -2)) !== 1) return undefined;
  return withShape(info, info.shape.slice(rank - 2));
}

/** Wraps `stock`, the backend's own BatchMatMul, which must stay set up. */
export function transposeFreeBatchMatMul(stock: KernelConfig): KernelConfig {
  const multiply = (a: TensorInfo, b: TensorInfo, backend: BackendWasm) =>
    stock.kernelFunc({ inputs: { a, b }, attrs: { transposeA: false, transposeB: false }, backend }) as TensorInfo;

  const config = wasmKernel<Inputs, BatchMatMulAttrs>(stock.kernelName, ({ a, b }, attrs, backend) => {
    const { transposeA, transposeB } = attrs;
    if (!transposeA && !transposeB) return multiply(a, b, backend);

    const matrixA = asMatrix(a);
    const matrixB = asMatrix(b);
    if (matrixA !== undefined && matrixB !== undefined && prefersSwappedProduct(a.shape, b.shape, transposeA, transposeB)) {
      // op(B)ᵀ is B as stored when transposeB is set, and likewise op(A)ᵀ.
      const left = transposeB ? matrixB : swapInnerDims(backend, matrixB);
      const right = transposeA ? matrixA : swapInnerDims(backend, matrixA);
      const productT = multiply(left, right, backend);
      const product = swapInnerDims(backend, productT);
      for (const temporary of [productT, ...(transposeB ? [] : [left]), ...(transposeA ? [] : [right])]) {
        backend.disposeData(temporary.dataId);
      }
      const batchShape = a.shape.length >= b.shape.length ? a.shape.slice(0, -2) : b.shape.slice(0, -2);
      product.shape = [...batchShape, ...product.shape];
      return product;
    }

    const plainA = transposeA ? swapInnerDims(backend, a) : a;
    const plainB = transposeB ? swapInnerDims(backend, b) : b;
    const product = multiply(plainA, plainB, backend);
    if (transposeA) backend.disposeData(plainA.dataId);
    if (transposeB) backend.disposeData(plainB.dataId);
    return product;
  });
  return { ...config, setupFunc: stock.setupFunc, disposeFunc: stock.disposeFunc };
}
