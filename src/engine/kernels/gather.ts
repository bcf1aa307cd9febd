/**
 * GatherV2 for wasm as row copies: for each index, the block of params below the gather axis is
 * copied whole (one `set`), where the stock kernel computes the source of every element.
 * An embedding lookup of 2,048 tokens from an 8,000 × 256 table took 35 ms stock, the lookups of
 * a transformer's step ~70 ms. Indices out of range are an error, as on the stock kernel; batch
 * dimensions, strings and complex values go to the stock kernel.
 */
import { type GatherV2Attrs, type KernelConfig, type TensorInfo, util } from '@tensorflow/tfjs-core';
import { wasmKernel } from './wasm.js';

interface Inputs {
  x: TensorInfo;
  indices: TensorInfo;
}

type HeapArray = Float32Array | Int32Array | Uint8Array;

/** Wraps `stock`, the backend's own GatherV2, which must stay set up. */
export function rowCopyGather(stock: KernelConfig): KernelConfig {
  const config = wasmKernel<Inputs, GatherV2Attrs>(stock.kernelName, ({ x, indices }, attrs, backend) => {
    if (attrs.batchDims !== 0 || x.dtype === 'string' || x.dtype === 'complex64' || indices.dtype !== 'int32') {
      return stock.kernelFunc({ inputs: { x, indices }, attrs: { ...attrs }, backend }) as TensorInfo;
    }
    const [axis] = util.parseAxisParam(attrs.axis, x.shape);
    const outer = util.sizeFromShape(x.shape.slice(0, axis));
    const size = x.shape[axis];
    const inner = util.sizeFromShape(x.shape.slice(axis + 1));
    const count = util.sizeFromShape(indices.shape);
    // Checked before the output is allocated, so that a bad index leaves nothing behind.
    for (const id of backend.typedArrayFromHeap(indices) as Int32Array) {
      if (id < 0 || id >= size) throw new Error(`GatherV2: the index value ${id} is not in [0, ${size - 1}]`);
    }
    const out = backend.makeOutput([...x.shape.slice(0, axis), ...indices.shape, ...x.shape.slice(axis + 1)], x.dtype);
    if (util.sizeFromShape(out.shape) === 0) return out;
    // Views after the allocation, which may have moved the heap.
    const source = backend.typedArrayFromHeap(x) as HeapArray;
    const target = backend.typedArrayFromHeap(out) as HeapArray;
    const ids = backend.typedArrayFromHeap(indices) as Int32Array;
    for (let o = 0; o < outer; o++) {
      for (let i = 0; i < count; i++) {
        const from = (o * size + ids[i]) * inner;
        target.set(source.subarray(from, from + inner), (o * count + i) * inner);
      }
    }
    return out;
  });
  return { ...config, setupFunc: stock.setupFunc, disposeFunc: stock.disposeFunc };
}
