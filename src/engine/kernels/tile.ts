/**
 * Tile for wasm in one pass over the output: each block of the input is copied once, then
 * doubled in place (copyWithin) until it fills its repetitions. The stock kernel computes the
 * source index of every output element: batch norm's gradient tiles a [1,1,1,C] vector to the
 * activations' shape, 110 ms for 128×14×14×144, most of a MobileNetV2 step's Tile time.
 * Strings go to the stock kernel.
 */
import { type KernelConfig, type TensorInfo, type TileAttrs, util } from '@tensorflow/tfjs-core';
import { wasmKernel } from './wasm.js';

interface Inputs {
  x: TensorInfo;
}

type HeapArray = Float32Array | Int32Array | Uint8Array;

/**
 * The same tiling on fewer axes: an axis of size 1 is dropped when repeated once, and merged
 * into the axis before when that axis is not repeated (contiguous runs copy as one) or is of
 * size 1 (repetitions multiply).
 */
export function collapseTile(shape: readonly number[], reps: readonly number[]): { shape: number[]; reps: number[] } {
  const outShape: number[] = [];
  const outReps: number[] = [];
  for (let axis = 0; axis < shape.length; axis++) {
    const [size, rep] = [shape[axis], reps[axis]];
    if (size === 1 && rep === 1) continue;
    const last = outShape.length - 1;
    if (last >= 0 && rep === 1 && outReps[last] === 1) {
      outShape[last] *= size;
    } else if (last >= 0 && size === 1 && outShape[last] === 1) {
      outReps[last] *= rep;
    } else {
      outShape.push(size);
      outReps.push(rep);
    }
  }
  return outShape.length === 0 ? { shape: [1], reps: [1] } : { shape: outShape, reps: outReps };
}

/**
 * Writes the tiling of `x` (collapsed `shape`, `reps`) into `out`: on each axis, the block of
 * every input index, then that axis's block doubled until it repeats `reps` times.
 */
export function tileInto(x: HeapArray, out: HeapArray, shape: readonly number[], reps: readonly number[]): void {
  const rank = shape.length;
  // Elements of one output block below axis a (the output's strides), and the input's.
  const outBlock = new Array<number>(rank + 1).fill(1);
  const inBlock = new Array<number>(rank + 1).fill(1);
  for (let axis = rank - 1; axis >= 0; axis--) {
    outBlock[axis] = outBlock[axis + 1] * shape[axis] * reps[axis];
    inBlock[axis] = inBlock[axis + 1] * shape[axis];
  }
  const repeat = (start: number, length: number, times: number) => {
    const end = start + length * times;
    for (let filled = start + length; filled < end; ) {
      const chunk = Math.min(filled - start, end - filled);
      out.copyWithin(filled, start, start + chunk);
      filled += chunk;
    }
  };
  const fill = (axis: number, outOffset: number, inOffset: number) => {
    const size = shape[axis];
    const once = size * outBlock[axis + 1];
    if (axis === rank - 1) {
      if (size === 1) out.fill(x[inOffset], outOffset, outOffset + reps[axis]);
      else {
        out.set(x.subarray(inOffset, inOffset + size), outOffset);
        repeat(outOffset, once, reps[axis]);
      }
      return;
    }
    for (let i = 0; i < size; i++) fill(axis + 1, outOffset + i * outBlock[axis + 1], inOffset + i * inBlock[axis + 1]);
    repeat(outOffset, once, reps[axis]);
  };
  fill(0, 0, 0);
}

/** Wraps `stock`, the backend's own Tile, which must stay set up. */
export function onePassTile(stock: KernelConfig): KernelConfig {
  const config = wasmKernel<Inputs, TileAttrs>(stock.kernelName, ({ x }, attrs, backend) => {
    if (x.dtype === 'string' || x.dtype === 'complex64') {
      return stock.kernelFunc({ inputs: { x }, attrs: { ...attrs }, backend }) as TensorInfo;
    }
    const reps = [...attrs.reps];
    const out = backend.makeOutput(
      x.shape.map((size, axis) => size * reps[axis]),
      x.dtype,
    );
    if (util.sizeFromShape(out.shape) === 0) return out;
    const collapsed = collapseTile(x.shape, reps);
    tileInto(backend.typedArrayFromHeap(x) as HeapArray, backend.typedArrayFromHeap(out) as HeapArray, collapsed.shape, collapsed.reps);
    return out;
  });
  return { ...config, setupFunc: stock.setupFunc, disposeFunc: stock.disposeFunc };
}
