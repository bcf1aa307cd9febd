/**
 * MaxPool on ONNX Runtime with the graph of pool_graph.ts; other dtypes and shapes ONNX sizes
 * differently go to the plain wasm kernel. The gradient stays on wasm: kdkit's SIMD kernel
 * (../../kernels/max_pool_grad.ts) is 5× faster than an ONNX graph of it was.
 */
import { backend_util, MaxPool, util, type KernelConfig, type MaxPoolAttrs, type TensorInfo } from '@tensorflow/tfjs-core';
import type { SessionCache } from '../session_cache.js';
import { heapFloat32 } from '../../kernels/wasm.js';
import { maxPoolGraph } from './pool_graph.js';
import { runOnViews, withWasmFallback } from './run_graph.js';

type Shape4D = [number, number, number, number];

function poolInfo(x: TensorInfo, attrs: MaxPoolAttrs): backend_util.Conv2DInfo | undefined {
  if (x.dtype !== 'float32' || x.shape.length !== 4 || util.sizeFromShape(x.shape) === 0) return undefined;
  const { filterSize, strides, pad, dimRoundingMode } = attrs;
  const info = backend_util.computePool2DInfo(x.shape as Shape4D, filterSize, strides, 1, pad, dimRoundingMode);
  // ONNX's floor division must give TensorFlow.js's output size for these pads.
  const { top, bottom, left, right } = info.padInfo;
  const floorHeight = Math.floor((info.inHeight + top + bottom - info.filterHeight) / info.strideHeight) + 1;
  const floorWidth = Math.floor((info.inWidth + left + right - info.filterWidth) / info.strideWidth) + 1;
  const consistent = floorHeight === info.outHeight && floorWidth === info.outWidth && util.sizeFromShape(info.outShape) > 0;
  return consistent ? info : undefined;
}

export function ortMaxPool(fallback: KernelConfig, cache: SessionCache): KernelConfig {
  return withWasmFallback<{ x: TensorInfo }, MaxPoolAttrs>(fallback, ({ x }, attrs, backend) => {
    const info = poolInfo(x, attrs);
    if (info === undefined) return undefined;
    const y = backend.makeOutput(info.outShape, 'float32');
    runOnViews(cache, maxPoolGraph(info), { x: heapFloat32(backend, x) }, { y: heapFloat32(backend, y) });
    return y;
  });
}

export const ortPoolKernelNames: readonly string[] = [MaxPool];

export function ortPoolKernels(fallback: (kernelName: string) => KernelConfig, cache: SessionCache): KernelConfig[] {
  return [ortMaxPool(fallback(MaxPool), cache)];
}
