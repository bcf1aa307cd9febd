/**
 * Dropout in one pass (Srivastava et al. 2014): y = x · m, m = 1 / keep where an element is kept
 * (probability keep = 1 − rate), else 0; the gradient is dy · m.
 *
 * tf.dropout draws its uniform numbers one at a time in JavaScript (seedrandom's alea), then
 * adds, floors, divides and multiplies: ~40 ms of a 4-layer d-256 encoder's forward pass at batch
 * 64 × 32 tokens. KdkitDropout draws from a counter-based hash of (seed, element) — mulberry32's
 * output function, the generator kdkit seeds its other draws with (util/rng.ts) — so the SIMD
 * kernel (../simd/assembly/dropout.ts), its JavaScript fallback and the cpu backend make the same
 * mask. The seed is an attribute: the caller draws it (engine/dropout_layer.ts, from Math.random,
 * which kdkit's trainer seeds per step).
 */
import { type GradConfig, type KernelConfig, mul, type Tensor, type TensorInfo, util } from '@tensorflow/tfjs-core';
import { heapPointers, simdKernels } from '../simd/module.js';
import type { CpuBackend } from './gradients.js';
import { heapFloat32, wasmKernel } from './wasm.js';

import { Dropout } from '../dropout_op.js';

export { Dropout };

export interface DropoutAttrs {
  rate: number;
  /** A 32-bit unsigned seed. */
  seed: number;
}

/** An element is kept when the top 24 bits of its draw are below this. */
export const keepThreshold = (rate: number) => Math.round((1 - rate) * 2 ** 24);

export function dropoutValues(x: Float32Array, y: Float32Array, mask: Float32Array, { rate, seed }: DropoutAttrs): void {
  const threshold = keepThreshold(rate);
  const scale = Math.fround(1 / (1 - rate));
  for (let i = 0; i < x.length; i++) {
    let t = (seed + Math.imul(i + 1, 0x6d2b79f5)) | 0;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    const m = (t ^ (t >>> 14)) >>> 8 < threshold ? scale : 0;
    mask[i] = m;
    y[i] = x[i] * m;
  }
}

export const dropoutWasm = wasmKernel<{ x: TensorInfo }, DropoutAttrs>(Dropout, ({ x }, attrs, backend) => {
  const outputs = [backend.makeOutput([...x.shape], 'float32'), backend.makeOutput([...x.shape], 'float32')];
  const [input, y, mask] = [x, ...outputs].map((info) => heapFloat32(backend, info));
  const simd = simdKernels(backend);
  if (simd) {
    const [xAt, yAt, maskAt] = heapPointers(backend, input, y, mask);
    simd.dropout(xAt, yAt, maskAt, input.length, attrs.seed >>> 0, keepThreshold(attrs.rate), Math.fround(1 / (1 - attrs.rate)));
  } else {
    dropoutValues(input, y, mask, attrs);
  }
  return outputs;
});

export const dropoutCpu: KernelConfig = {
  kernelName: Dropout,
  backendName: 'cpu',
  kernelFunc: ({ inputs, attrs, backend }) => {
    const { x } = inputs as unknown as { x: TensorInfo };
    const cpu = backend as unknown as CpuBackend;
    const size = util.sizeFromShape(x.shape);
    const [y, mask] = [new Float32Array(size), new Float32Array(size)];
    dropoutValues(cpu.readSync(x.dataId) as Float32Array, y, mask, attrs as unknown as DropoutAttrs);
    return [cpu.makeTensorInfo([...x.shape], 'float32', y), cpu.makeTensorInfo([...x.shape], 'float32', mask)];
  },
};

export const dropoutGradient: GradConfig = {
  kernelName: Dropout,
  outputsToSave: [false, true],
  gradFunc: (dys, saved) => {
    const [dy] = dys as Tensor[];
    const [mask] = saved;
    return { x: () => mul(dy, mask) };
  },
};
