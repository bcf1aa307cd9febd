/**
 * kdkit's WebAssembly SIMD kernels (./assembly/, compiled by AssemblyScript into kernels.wasm at
 * build time). The module imports the TensorFlow.js wasm backend's own memory, so a kernel reads
 * and writes tensors where they already are: no copies, and no call overhead beyond a wasm call.
 *
 * The multi-threaded wasm backend's memory is shared, which this single-threaded module cannot
 * import; kernels then take their JavaScript path (see simdKernels).
 */
import { kernelsWasmBase64 } from './kernels_wasm.generated.js';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';

/** The exports of kernels.wasm; pointers are byte offsets into the backend's heap. */
export interface SimdKernels {
  maxPoolGrad2x2(x: number, dy: number, dx: number, images: number, outHeight: number, outWidth: number, channels: number): void;
  maxPoolGrad(
    x: number,
    dy: number,
    dx: number,
    images: number,
    inHeight: number,
    inWidth: number,
    channels: number,
    outHeight: number,
    outWidth: number,
    filterHeight: number,
    filterWidth: number,
    strideHeight: number,
    strideWidth: number,
    padTop: number,
    padLeft: number,
  ): void;
  adam(
    next: number,
    weights: number,
    gradient: number,
    firstMoment: number,
    secondMoment: number,
    size: number,
    beta1: number,
    beta2: number,
    stepSize: number,
    secondCorrection: number,
    epsilon: number,
    decay: number,
    keep: number,
  ): void;
  momentum(
    next: number,
    weights: number,
    gradient: number,
    accumulation: number,
    size: number,
    learningRate: number,
    momentum: number,
    decay: number,
  ): void;
  sgd(next: number, weights: number, gradient: number, size: number, learningRate: number, decay: number): void;
  depthwiseInputGrad(dy: number, w: number, dx: number, list: number, geometry: number): void;
  depthwiseFilterGrad(x: number, dy: number, dw: number, partials: number, totals: number, geometry: number): void;
  maskedGrad(dy: number, x: number, dx: number, size: number, low: number, high: number, lowInclusive: boolean, select: boolean): void;
  batchNormMoments(x: number, shift: number, sums: number, squares: number, rows: number, channels: number): void;
  batchNormNormalize(x: number, y: number, mean: number, scale: number, offset: number, rows: number, channels: number): void;
  batchNormGradientSums(
    dy: number,
    x: number,
    mean: number,
    sums: number,
    products: number,
    centered: number,
    rows: number,
    channels: number,
  ): void;
  dropout(x: number, y: number, mask: number, size: number, seed: number, threshold: number, scale: number): void;
  layerNorm(
    x: number,
    gamma: number,
    beta: number,
    y: number,
    mean: number,
    rstd: number,
    rows: number,
    columns: number,
    epsilon: number,
  ): void;
  layerNormGrad(
    dy: number,
    x: number,
    gamma: number,
    mean: number,
    rstd: number,
    dx: number,
    dgamma: number,
    dbeta: number,
    rows: number,
    columns: number,
  ): void;
  batchNormGradientApply(
    dy: number,
    x: number,
    dx: number,
    mean: number,
    a: number,
    b: number,
    c: number,
    rows: number,
    channels: number,
  ): void;
}

let compiled: WebAssembly.Module | undefined;
let enabled = true;
const instances = new WeakMap<WebAssembly.Memory, SimdKernels>();

/** kernels.wasm, embedded at build time (scripts/embed-wasm.mjs): no file to find, in Node or in a page. */
function compile(): WebAssembly.Module {
  if (compiled === undefined) {
    const text = atob(kernelsWasmBase64);
    const bytes = new Uint8Array(text.length);
    for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
    compiled = new WebAssembly.Module(bytes);
  }
  return compiled;
}

/** The backend's heap as a WebAssembly.Memory, if the backend exposes one. */
function backendMemory(backend: BackendWasm): WebAssembly.Memory | undefined {
  const memory = (backend.wasm as unknown as { asm?: { memory?: unknown } }).asm?.memory;
  return memory instanceof WebAssembly.Memory ? memory : undefined;
}

/**
 * The SIMD kernels working on `backend`'s heap, or undefined when that heap is shared (the
 * multi-threaded wasm backend), where callers use their JavaScript path.
 */
export function simdKernels(backend: BackendWasm): SimdKernels | undefined {
  if (!enabled) return undefined;
  const memory = backendMemory(backend);
  if (memory === undefined || !(memory.buffer instanceof ArrayBuffer)) return undefined;
  let kernels = instances.get(memory);
  if (kernels === undefined) {
    kernels = new WebAssembly.Instance(compile(), { env: { memory } }).exports as unknown as SimdKernels;
    instances.set(memory, kernels);
  }
  return kernels;
}

/**
 * The heap offsets of `views`, checking that each lies on `backend`'s heap (a view of any other
 * memory would have the kernel read the wrong bytes).
 */
export function heapPointers(backend: BackendWasm, ...views: Array<Float32Array | Float64Array>): number[] {
  const heap = backendMemory(backend)?.buffer;
  return views.map((view) => {
    if (view.buffer !== heap) throw new Error('kdkit engine: a SIMD kernel was given an array that is not on the wasm heap.');
    return view.byteOffset;
  });
}

/** Switches the SIMD kernels off (and on again), so that tests and benchmarks reach the JavaScript paths. */
export function setSimdKernelsEnabled(on: boolean): void {
  enabled = on;
}
