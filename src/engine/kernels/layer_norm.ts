/**
 * Layer norm over the last axis (Ba, Kiros & Hinton 2016) as two kernels, one pass of statistics
 * and one of output each way, for tf.layers.layerNormalization (../layer_norm_layer.ts):
 *
 *   μ, σ² over each row of C values;  r = 1 / √(σ² + ε);  x̂ = (x − μ) · r;  y = γ · x̂ + β
 *   dx = r · (g − mean(g) − x̂ · mean(g · x̂)) with g = γ · dy;  dγ = Σ dy · x̂;  dβ = Σ dy
 *
 * tfjs-layers tiles μ, σ², γ and β to the input's shape and calls tf.batchNorm, whose gradient then
 * makes a dozen passes: ~0.15 s of a 4-layer d-256 encoder's step at batch 64 × 32 tokens.
 * KdkitLayerNorm returns y, and μ and r per row for the gradient (they carry no gradient
 * themselves). On the wasm backend, SIMD loops on its heap (../simd/assembly/layer_norm.ts; the
 * JavaScript loops when the SIMD kernels are off); on the cpu backend, JavaScript over its arrays.
 */
import { engine, type GradConfig, type KernelConfig, type NamedTensorMap, type Tensor, type TensorInfo, util } from '@tensorflow/tfjs-core';
import type { CpuBackend } from './gradients.js';
import { heapPointers, simdKernels } from '../simd/module.js';
import { heapFloat32, wasmKernel } from './wasm.js';

export const LayerNorm = 'KdkitLayerNorm';
export const LayerNormGrad = 'KdkitLayerNormGrad';

export interface LayerNormAttrs {
  epsilon: number;
}

export function layerNormValues(
  x: Float32Array,
  gamma: Float32Array,
  beta: Float32Array,
  epsilon: number,
  y: Float32Array,
  mean: Float32Array,
  rstd: Float32Array,
): void {
  const columns = gamma.length;
  for (let row = 0; row < mean.length; row++) {
    const start = row * columns;
    let sum = 0;
    for (let c = 0; c < columns; c++) sum += x[start + c];
    const mu = sum / columns;
    let squares = 0;
    for (let c = 0; c < columns; c++) {
      const d = x[start + c] - mu;
      squares += d * d;
    }
    const r = 1 / Math.sqrt(squares / columns + epsilon);
    for (let c = 0; c < columns; c++) y[start + c] = (x[start + c] - mu) * r * gamma[c] + beta[c];
    mean[row] = mu;
    rstd[row] = r;
  }
}

export function layerNormGradValues(
  dy: Float32Array,
  x: Float32Array,
  gamma: Float32Array,
  mean: Float32Array,
  rstd: Float32Array,
  dx: Float32Array,
  dgamma: Float32Array,
  dbeta: Float32Array,
): void {
  const columns = gamma.length;
  const sumGamma = new Float64Array(columns);
  const sumBeta = new Float64Array(columns);
  for (let row = 0; row < mean.length; row++) {
    const start = row * columns;
    const [mu, r] = [mean[row], rstd[row]];
    let meanG = 0;
    let meanGx = 0;
    for (let c = 0; c < columns; c++) {
      const normalized = (x[start + c] - mu) * r;
      const g = gamma[c] * dy[start + c];
      meanG += g;
      meanGx += g * normalized;
      sumGamma[c] += dy[start + c] * normalized;
      sumBeta[c] += dy[start + c];
    }
    meanG /= columns;
    meanGx /= columns;
    for (let c = 0; c < columns; c++) {
      const normalized = (x[start + c] - mu) * r;
      dx[start + c] = r * (gamma[c] * dy[start + c] - meanG - normalized * meanGx);
    }
  }
  dgamma.set(sumGamma);
  dbeta.set(sumBeta);
}

type ForwardInputs = { x: TensorInfo; gamma: TensorInfo; beta: TensorInfo };
type GradInputs = { dy: TensorInfo; x: TensorInfo; gamma: TensorInfo; mean: TensorInfo; rstd: TensorInfo };

const rowsOf = (x: TensorInfo) => util.sizeFromShape(x.shape.slice(0, -1));

export const layerNormWasm = wasmKernel<ForwardInputs, LayerNormAttrs>(LayerNorm, ({ x, gamma, beta }, { epsilon }, backend) => {
  const outputs = [
    backend.makeOutput([...x.shape], 'float32'),
    backend.makeOutput([rowsOf(x)], 'float32'),
    backend.makeOutput([rowsOf(x)], 'float32'),
  ];
  const [y, mean, rstd] = outputs.map((info) => heapFloat32(backend, info));
  const views = [heapFloat32(backend, x), heapFloat32(backend, gamma), heapFloat32(backend, beta)] as const;
  const simd = simdKernels(backend);
  if (simd) {
    const [xAt, gammaAt, betaAt, yAt, meanAt, rstdAt] = heapPointers(backend, ...views, y, mean, rstd);
    simd.layerNorm(xAt, gammaAt, betaAt, yAt, meanAt, rstdAt, mean.length, views[1].length, epsilon);
  } else {
    layerNormValues(...views, epsilon, y, mean, rstd);
  }
  return outputs;
});

export const layerNormGradWasm = wasmKernel<GradInputs, LayerNormAttrs>(LayerNormGrad, ({ dy, x, gamma, mean, rstd }, _attrs, backend) => {
  const outputs = [
    backend.makeOutput([...x.shape], 'float32'),
    backend.makeOutput([...gamma.shape], 'float32'),
    backend.makeOutput([...gamma.shape], 'float32'),
  ];
  const [dx, dgamma, dbeta] = outputs.map((info) => heapFloat32(backend, info));
  const read = (info: TensorInfo) => heapFloat32(backend, info);
  const views = [read(dy), read(x), read(gamma), read(mean), read(rstd)] as const;
  const simd = simdKernels(backend);
  if (simd) {
    const pointers = heapPointers(backend, ...views, dx, dgamma, dbeta);
    simd.layerNormGrad(...(pointers as [number, number, number, number, number, number, number, number]), views[3].length, views[2].length);
  } else {
    layerNormGradValues(...views, dx, dgamma, dbeta);
  }
  return outputs;
});

export const layerNormCpu: KernelConfig = {
  kernelName: LayerNorm,
  backendName: 'cpu',
  kernelFunc: ({ inputs, attrs, backend }) => {
    const { x, gamma, beta } = inputs as unknown as ForwardInputs;
    const cpu = backend as unknown as CpuBackend;
    const read = (info: TensorInfo) => cpu.readSync(info.dataId) as Float32Array;
    const rows = rowsOf(x);
    const [y, mean, rstd] = [new Float32Array(util.sizeFromShape(x.shape)), new Float32Array(rows), new Float32Array(rows)];
    layerNormValues(read(x), read(gamma), read(beta), (attrs as unknown as LayerNormAttrs).epsilon, y, mean, rstd);
    return [
      cpu.makeTensorInfo([...x.shape], 'float32', y),
      cpu.makeTensorInfo([rows], 'float32', mean),
      cpu.makeTensorInfo([rows], 'float32', rstd),
    ];
  },
};

export const layerNormGradCpu: KernelConfig = {
  kernelName: LayerNormGrad,
  backendName: 'cpu',
  kernelFunc: ({ inputs, backend }) => {
    const { dy, x, gamma, mean, rstd } = inputs as unknown as GradInputs;
    const cpu = backend as unknown as CpuBackend;
    const read = (info: TensorInfo) => cpu.readSync(info.dataId) as Float32Array;
    const [dx, dgamma, dbeta] = [
      new Float32Array(util.sizeFromShape(x.shape)),
      new Float32Array(gamma.shape[0]),
      new Float32Array(gamma.shape[0]),
    ];
    layerNormGradValues(read(dy), read(x), read(gamma), read(mean), read(rstd), dx, dgamma, dbeta);
    return [
      cpu.makeTensorInfo([...x.shape], 'float32', dx),
      cpu.makeTensorInfo([...gamma.shape], 'float32', dgamma),
      cpu.makeTensorInfo([...gamma.shape], 'float32', dbeta),
    ];
  },
};

export const layerNormGradient: GradConfig = {
  kernelName: LayerNorm,
  inputsToSave: ['x', 'gamma'],
  outputsToSave: [false, true, true],
  gradFunc: (dys, saved, attrs) => {
    const [dy] = dys as Tensor[];
    const [x, gamma, mean, rstd] = saved;
    const inputs: NamedTensorMap = { dy, x, gamma, mean, rstd };
    const [dx, dgamma, dbeta] = engine().runKernel(LayerNormGrad, inputs, attrs) as Tensor[];
    return { x: () => dx, gamma: () => dgamma, beta: () => dbeta };
  },
};
