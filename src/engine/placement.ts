/**
 * Where the training math runs. On the cpu and wasm backends tensors live in host memory, and the
 * response losses (methods/kd.ts, ce.ts) and the optimizers' updates (train/optimizers/) compute in
 * one float64 or float32 pass over it: cheaper there than a chain of kernel launches. On the GPU
 * backends (webgl, webgpu) the same math stays tensor ops on the device, where reading a batch's
 * logits back to the host every step would stall the GPU.
 */
import { getBackend, type Tensor } from '@tensorflow/tfjs-core';

let forced: 'device' | undefined;

/** True when the active backend's tensors are in host memory (cpu, wasm), unless the device path is forced. */
export function mathOnHost(): boolean {
  if (forced === 'device') return false;
  const backend = getBackend();
  return backend === 'cpu' || backend === 'wasm';
}

/** Makes every backend take the device path (tensor ops), so that tests check it against the reference values in Node. */
export function forceDeviceMath(on: boolean): void {
  forced = on ? 'device' : undefined;
}

/**
 * The values of scalar tensors: read at once on the host backends, and asynchronously on the GPU
 * backends, where a synchronous read stalls the device (and on WebGPU is not reliable).
 */
export function readScalars(tensors: readonly Tensor[]): number[] | Promise<number[]> {
  if (mathOnHost()) return tensors.map((tensor) => tensor.dataSync()[0]);
  return Promise.all(tensors.map(async (tensor) => (await tensor.data())[0]));
}
