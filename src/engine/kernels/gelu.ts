/**
 * GELU (Hendrycks & Gimpel 2016) in one kernel each way, for BERT's feed-forward blocks:
 *
 *   gelu(x) = x · Φ(x),  Φ(x) = ½ · (1 + erf(x / √2))
 *   gelu'(x) = Φ(x) + x · φ(x),  φ(x) = exp(−x² / 2) / √(2π)
 *
 * tfjs-layers' 'gelu' activation composes it from Erf, Add and Multiply, and tfjs-core's gradient
 * of that takes another eight passes (Erf's through Exp and Square): 0.25 s of a 4-layer d-256
 * encoder's 1.1 s step at batch 64 × 32 tokens. Here KdkitGelu and KdkitGeluGrad take one pass
 * each, in JavaScript on wasm and cpu; with ONNX Runtime, as a graph on its threads
 * (../ort/kernels/gelu.ts). erf is tfjs-core's own approximation (Abramowitz & Stegun 7.1.26,
 * error below 1.5e-7), so the JavaScript kernels agree with the stock activation.
 */
import { type GradConfig, engine, type KernelConfig, type Tensor, type TensorInfo, util } from '@tensorflow/tfjs-core';
import type { CpuBackend } from './gradients.js';
import { heapFloat32, wasmKernel } from './wasm.js';

export const Gelu = 'KdkitGelu';
export const GeluGrad = 'KdkitGeluGrad';

const [p, a1, a2, a3, a4, a5] = [0.3275911, 0.254829592, -0.284496736, 1.421413741, -1.453152027, 1.061405429];

function erf(value: number): number {
  const sign = value < 0 ? -1 : 1;
  const x = Math.abs(value);
  const t = 1 / (1 + p * x);
  return sign * (1 - ((((a5 * t + a4) * t + a3) * t + a2) * t + a1) * t * Math.exp(-x * x));
}

const SQRT_HALF = Math.SQRT1_2;
const INV_SQRT_TWO_PI = 1 / Math.sqrt(2 * Math.PI);

export function geluValues(x: Float32Array, y: Float32Array): void {
  for (let i = 0; i < x.length; i++) y[i] = x[i] * 0.5 * (1 + erf(x[i] * SQRT_HALF));
}

export function geluGradValues(dy: Float32Array, x: Float32Array, dx: Float32Array): void {
  for (let i = 0; i < x.length; i++) {
    const v = x[i];
    dx[i] = dy[i] * (0.5 * (1 + erf(v * SQRT_HALF)) + v * Math.exp(-0.5 * v * v) * INV_SQRT_TWO_PI);
  }
}

export const geluWasm = wasmKernel<{ x: TensorInfo }, Record<string, never>>(Gelu, ({ x }, _attrs, backend) => {
  const y = backend.makeOutput([...x.shape], 'float32');
  geluValues(heapFloat32(backend, x), heapFloat32(backend, y));
  return y;
});

export const geluGradWasm = wasmKernel<{ dy: TensorInfo; x: TensorInfo }, Record<string, never>>(GeluGrad, ({ dy, x }, _attrs, backend) => {
  const dx = backend.makeOutput([...x.shape], 'float32');
  geluGradValues(heapFloat32(backend, dy), heapFloat32(backend, x), heapFloat32(backend, dx));
  return dx;
});

function cpuKernel(kernelName: string, compute: (inputs: Float32Array[], out: Float32Array) => void, names: string[]): KernelConfig {
  return {
    kernelName,
    backendName: 'cpu',
    kernelFunc: ({ inputs, backend }) => {
      const cpu = backend as unknown as CpuBackend;
      const infos = names.map((name) => (inputs as Record<string, TensorInfo>)[name]);
      const out = new Float32Array(util.sizeFromShape(infos[0].shape));
      compute(
        infos.map((info) => cpu.readSync(info.dataId) as Float32Array),
        out,
      );
      return cpu.makeTensorInfo([...infos[infos.length - 1].shape], 'float32', out);
    },
  };
}

export const geluCpu = cpuKernel(Gelu, ([x], y) => geluValues(x, y), ['x']);
export const geluGradCpu = cpuKernel(GeluGrad, ([dy, x], dx) => geluGradValues(dy, x, dx), ['dy', 'x']);

export const geluGradient: GradConfig = {
  kernelName: Gelu,
  inputsToSave: ['x'],
  gradFunc: (dy, saved) => {
    const [x] = saved;
    return { x: () => engine().runKernel(GeluGrad, { dy: dy as Tensor, x }) as Tensor };
  },
};
