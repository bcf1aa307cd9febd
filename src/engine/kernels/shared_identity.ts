/**
 * Identity and Cast for wasm. Identity, and Cast to the dtype a tensor already has: the stock kernels copy the
 * data (3.0 ms for a 128×28×28×32 tensor, three times per CNN training step, from the relu
 * gradient's cast); these share it, reference-counted, as Reshape does and as the cpu backend's
 * Identity does. Nothing in kdkit writes into a tensor's memory after it is made.
 *
 * Cast to bool is fixed too: the stock kernel truncates first (0.3 → false, 2 → 2), where
 * TensorFlow.js's definition, and the cpu backend, give x ≠ 0 (NaN → true).
 */
import { Cast, Identity, type CastAttrs, type KernelConfig, type TensorInfo } from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { heapFloat32, wasmKernel } from './wasm.js';

function share(x: TensorInfo, backend: BackendWasm): TensorInfo {
  backend.incRef(x.dataId);
  return { dataId: x.dataId, shape: [...x.shape], dtype: x.dtype };
}

function keepSetup(config: KernelConfig, stock: KernelConfig): KernelConfig {
  return { ...config, setupFunc: stock.setupFunc, disposeFunc: stock.disposeFunc };
}

export function sharedIdentity(stock: KernelConfig): KernelConfig {
  return keepSetup(
    wasmKernel<{ x: TensorInfo }, Record<string, never>>(Identity, ({ x }, attrs, backend) =>
      x.dtype === 'string' ? (stock.kernelFunc({ inputs: { x }, attrs, backend }) as TensorInfo) : share(x, backend),
    ),
    stock,
  );
}

function toBool(x: TensorInfo, backend: BackendWasm): TensorInfo {
  const out = backend.makeOutput([...x.shape], 'bool');
  const values = x.dtype === 'float32' ? heapFloat32(backend, x) : (backend.typedArrayFromHeap(x) as Int32Array);
  const flags = backend.typedArrayFromHeap(out) as Uint8Array;
  for (let i = 0; i < values.length; i++) flags[i] = values[i] !== 0 ? 1 : 0;
  return out;
}

export function castKernel(stock: KernelConfig): KernelConfig {
  return keepSetup(
    wasmKernel<{ x: TensorInfo }, CastAttrs>(Cast, ({ x }, attrs, backend) => {
      if (x.dtype === 'string') return stock.kernelFunc({ inputs: { x }, attrs: { ...attrs }, backend }) as TensorInfo;
      if (x.dtype === attrs.dtype) return share(x, backend);
      if (attrs.dtype === 'bool') return toBool(x, backend);
      return stock.kernelFunc({ inputs: { x }, attrs: { ...attrs }, backend }) as TensorInfo;
    }),
    stock,
  );
}
