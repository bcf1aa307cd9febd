/**
 * Sum for wasm with a fast path for reducing leading axes, as bias gradients do (all axes but
 * channels). The stock kernel transposes the reduced axes to the end first, ~20 ms for a
 * 128x28x28x32 tensor; adding rows in place needs one pass. Other reductions go to the stock kernel.
 */
import { backend_util, util, type KernelConfig, type SumAttrs, type TensorInfo } from '@tensorflow/tfjs-core';
import { heapFloat32, wasmKernel } from './wasm.js';

interface Inputs {
  x: TensorInfo;
}

/** How many leading axes `axes` reduces, if it is exactly 0..n-1 and leaves some axis; else 0. */
function leadingAxesCount(axes: number[], rank: number): number {
  const sorted = [...axes].sort((a, b) => a - b);
  const isPrefix = sorted.every((axis, i) => axis === i);
  return isPrefix && sorted.length < rank ? sorted.length : 0;
}

/** Wraps `stock`, the backend's own Sum, which must stay set up. */
export function leadingAxesSum(stock: KernelConfig): KernelConfig {
  const config = wasmKernel<Inputs, SumAttrs>(stock.kernelName, ({ x }, attrs, backend) => {
    const axes = util.parseAxisParam(attrs.axis, x.shape);
    const reducedCount = leadingAxesCount(axes, x.shape.length);
    if (x.dtype !== 'float32' || reducedCount === 0) {
      return stock.kernelFunc({ inputs: { x }, attrs: { ...attrs }, backend }) as TensorInfo;
    }
    const keptShape = x.shape.slice(reducedCount);
    const rowSize = util.sizeFromShape(keptShape);
    const rows = util.sizeFromShape(x.shape.slice(0, reducedCount));
    const outShape = attrs.keepDims ? backend_util.expandShapeToKeepDim(keptShape, axes) : keptShape;

    const out = backend.makeOutput(outShape, 'float32');
    const xValues = heapFloat32(backend, x);
    // Rows can number in the hundreds of thousands; float64 keeps the sum as exact as the cpu's.
    const sums = new Float64Array(rowSize);
    let row = 0;
    // Four rows per pass: half the loads and stores of `sums`, measured 2.3x faster.
    for (; row + 4 <= rows; row += 4) {
      const offset = row * rowSize;
      for (let i = 0; i < rowSize; i++) {
        const column = offset + i;
        sums[i] += xValues[column] + xValues[column + rowSize] + xValues[column + 2 * rowSize] + xValues[column + 3 * rowSize];
      }
    }
    for (; row < rows; row++) {
      const offset = row * rowSize;
      for (let i = 0; i < rowSize; i++) sums[i] += xValues[offset + i];
    }
    heapFloat32(backend, out).set(sums);
    return out;
  });
  return { ...config, setupFunc: stock.setupFunc, disposeFunc: stock.disposeFunc };
}
