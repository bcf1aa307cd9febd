/**
 * Direct access to float32 storage on the active backend, for updates that run in one pass over
 * memory (the fused optimizers) instead of a chain of tensor ops.
 *
 * Updates write a fresh buffer and swap it into the variable rather than writing in place: the
 * wasm backend's XNNPACK operators cache packed weights by buffer identity, so a weight changed
 * in place would keep being multiplied in its stale packed form.
 */
import * as tfc from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import type { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';

function storage(tensor: tfc.TensorInfo): Float32Array {
  if (tensor.dtype !== 'float32') throw new Error(`direct access needs float32, got ${tensor.dtype}`);
  const name = tfc.getBackend();
  if (name === 'wasm') return (tfc.backend() as BackendWasm).typedArrayFromHeap(tensor) as Float32Array;
  if (name === 'cpu') {
    const values = (tfc.backend() as MathBackendCPU).data.get(tensor.dataId).values;
    if (values instanceof Float32Array) return values;
  }
  throw new Error(`direct float32 access is not supported on the '${name}' backend`);
}

/**
 * A read-only view of a tensor's values, without the copy dataSync() makes. Valid until the next
 * allocation (wasm memory may grow and move): take it, use it, drop it.
 */
export function float32View(tensor: tfc.Tensor): Float32Array {
  return storage(tensor);
}

/**
 * Replaces a variable's values with `write(next, current)`, where `next` is a new buffer to fill
 * and `current` the variable's present values. Views taken inside `write` are valid throughout it.
 */
export function updateVariable(variable: tfc.Variable, write: (next: Float32Array, current: Float32Array) => void): void {
  let replacement: tfc.Tensor;
  if (tfc.getBackend() === 'wasm') {
    const info = (tfc.backend() as BackendWasm).makeOutput([...variable.shape], 'float32');
    write(storage(info), storage(variable));
    replacement = tfc.engine().makeTensorFromTensorInfo(info);
  } else {
    const next = new Float32Array(variable.size);
    write(next, storage(variable));
    replacement = tfc.tensor(next, variable.shape, 'float32');
  }
  variable.assign(replacement);
  replacement.dispose();
}
