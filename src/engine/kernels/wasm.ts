/**
 * Shared plumbing for kdkit's kernels on the TensorFlow.js wasm backend. Kernels read and
 * write the backend's heap directly and call the stock wasm kernels for the heavy lifting.
 */
import { getKernel, Transpose, type KernelConfig, type TensorInfo } from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';

/** A kernel body with typed inputs and attributes, returning its output or outputs. */
export type WasmKernelFunc<Inputs, Attrs> = (inputs: Inputs, attrs: Attrs, backend: BackendWasm) => TensorInfo | TensorInfo[];

/** Wraps a typed kernel body as a wasm KernelConfig. */
export function wasmKernel<Inputs, Attrs>(kernelName: string, body: WasmKernelFunc<Inputs, Attrs>): KernelConfig {
  return {
    kernelName,
    backendName: 'wasm',
    kernelFunc: ({ inputs, attrs, backend }) => body(inputs as Inputs, attrs as Attrs, backend as BackendWasm),
  };
}

/** Runs whichever kernel is registered for `kernelName` on the wasm backend. */
export function runWasmKernel(kernelName: string, inputs: Record<string, TensorInfo>, attrs: object, backend: BackendWasm): TensorInfo {
  const config = getKernel(kernelName, 'wasm');
  if (config == null) throw new Error(`kdkit engine: the wasm backend has no ${kernelName} kernel.`);
  return config.kernelFunc({ inputs, attrs: attrs as Record<string, never>, backend }) as TensorInfo;
}

/**
 * A float32 view of a tensor on the wasm heap. Any allocation can grow the heap and detach
 * earlier views, so take views only after every output of a kernel has been allocated.
 */
export function heapFloat32(backend: BackendWasm, info: TensorInfo): Float32Array {
  return backend.typedArrayFromHeap(info) as Float32Array;
}

/** The same data seen with another shape, without copying (a reshape that owns nothing). */
export function withShape(info: TensorInfo, shape: number[]): TensorInfo {
  return { dataId: info.dataId, shape, dtype: info.dtype };
}

/** `x` with its last two dimensions swapped, as a new tensor the caller disposes. */
export function swapInnerDims(backend: BackendWasm, x: TensorInfo): TensorInfo {
  const rank = x.shape.length;
  const perm = x.shape.map((_, axis) => axis);
  perm[rank - 2] = rank - 1;
  perm[rank - 1] = rank - 2;
  return runWasmKernel(Transpose, { x }, { perm }, backend);
}

export function assertFloat32(kernelName: string, ...infos: TensorInfo[]): void {
  for (const info of infos) {
    if (info.dtype !== 'float32') {
      throw new Error(`kdkit engine: ${kernelName} on wasm supports float32 only, got ${info.dtype}.`);
    }
  }
}

/** Rejects dilations other than 1, which kdkit's wasm kernels do not implement. */
export function assertNoDilation(kernelName: string, dilations: number | [number, number] | undefined): void {
  const [height, width] = typeof dilations === 'number' ? [dilations, dilations] : (dilations ?? [1, 1]);
  if (height !== 1 || width !== 1) {
    throw new Error(`kdkit engine: ${kernelName} on wasm supports dilations of 1 only, got [${height}, ${width}].`);
  }
}

export function assertChannelsLast(kernelName: string, dataFormat: string): void {
  if (dataFormat !== 'NHWC') {
    throw new Error(`kdkit engine: ${kernelName} on wasm supports NHWC data only, got ${dataFormat}.`);
  }
}
