/**
 * Batch norm in training mode over every axis but the last (channels-last activations), as two
 * kernels, on wasm and on cpu:
 * - KdkitBatchNormTraining: y = (x − μ)·γ/√(σ² + ε) + β, and the batch's mean μ and biased
 *   variance σ², in two passes: shifted sums Σ(x − s), Σ(x − s)² with s a sample of each channel
 *   (no cancellation when |μ| ≫ σ), then y.
 * - KdkitBatchNormTrainingGrad: with x̂ = (x − μ)/√(σ² + ε) and N rows, in two passes (Σdy and
 *   Σdy·x̂, then dx):
 *     dx = γ/√(σ² + ε)/N · (N·dy − Σdy − x̂·Σdy·x̂) + dμ/N + dσ²·2(x − μ)/N,
 *     dγ = Σdy·x̂, dβ = Σdy.
 * tfjs-layers' training batch norm (tf.moments, then tf.batchNorm) makes ~12 passes over the
 * activations with its gradients. Sums are f64 (see ./batch_norm_loops.ts), and so is the
 * per-channel arithmetic between the passes, here in JavaScript. Both kernels centre x on the
 * float64 mean, not on the float32 one they output: at 1000 ± 1 that rounding alone puts
 * tf.moments + tf.batchNorm's dx 2e-5 (relative to its largest value) off float64 arithmetic.
 */
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { engine, type GradConfig, type KernelConfig, type NamedTensorMap, type Tensor, type TensorInfo, util } from '@tensorflow/tfjs-core';
import { javaScriptLoops, type BatchNormLoops, wasmLoops } from './batch_norm_loops.js';
import type { CpuBackend } from './gradients.js';
import { assertFloat32, heapFloat32, wasmKernel } from './wasm.js';

export const BatchNormTraining = 'KdkitBatchNormTraining';
export const BatchNormTrainingGrad = 'KdkitBatchNormTrainingGrad';

export interface BatchNormTrainingAttrs {
  epsilon: number;
}

/** scale and offset are [channels]; a batch norm without them is given ones and zeros. */
interface ForwardInputs {
  x: TensorInfo;
  scale: TensorInfo;
  offset: TensorInfo;
}

/** dmean and dvariance are the gradients reaching the mean and variance outputs. */
interface GradientInputs {
  dy: TensorInfo;
  x: TensorInfo;
  mean: TensorInfo;
  variance: TensorInfo;
  scale: TensorInfo;
  dmean: TensorInfo;
  dvariance: TensorInfo;
}

/** Per-channel working arrays: f64 ones for sums, f32 ones for the SIMD loops' coefficients. */
interface Scratch {
  f64: Float64Array[];
  f32: Float32Array[];
}

/** x as [rows, channels]. */
function layout(x: TensorInfo): { rows: number; channels: number } {
  return { rows: util.sizeFromShape(x.shape.slice(0, -1)), channels: x.shape[x.shape.length - 1] };
}

function forward(
  loops: BatchNormLoops,
  arrays: { x: Float32Array; scale: Float32Array; offset: Float32Array; y: Float32Array; mean: Float32Array; variance: Float32Array },
  scratch: Scratch,
  { rows, channels }: { rows: number; channels: number },
  epsilon: number,
): void {
  const { x, scale, offset, y, mean, variance } = arrays;
  const [shift, normScale, normOffset] = scratch.f32;
  const [sums, squares] = scratch.f64;
  for (let channel = 0; channel < channels; channel++) shift[channel] = rows > 0 ? x[channel] : 0;
  loops.moments(x, shift, sums, squares, rows, channels);
  for (let channel = 0; channel < channels; channel++) {
    const centered = sums[channel] / rows;
    const batchMean = shift[channel] + centered;
    mean[channel] = batchMean;
    variance[channel] = Math.max(0, squares[channel] / rows - centered * centered);
    // From the float32 variance, as tf.batchNorm gets it from tf.moments.
    normScale[channel] = scale[channel] / Math.sqrt(variance[channel] + epsilon);
    // y centres x on the float64 mean: (x − mean) − (batchMean − mean), the float32 mean's rounding.
    normOffset[channel] = offset[channel] - (batchMean - mean[channel]) * normScale[channel];
  }
  loops.normalize(x, y, mean, normScale, normOffset, rows, channels);
}

function backward(
  loops: BatchNormLoops,
  arrays: Record<keyof GradientInputs | 'dx' | 'dscale' | 'doffset', Float32Array>,
  scratch: Scratch,
  { rows, channels }: { rows: number; channels: number },
  epsilon: number,
): void {
  const { dy, x, mean, variance, scale, dmean, dvariance, dx, dscale, doffset } = arrays;
  const [a, b, c] = scratch.f32;
  const [sums, offCenterProducts, centered] = scratch.f64;
  loops.gradientSums(dy, x, mean, { sums, products: offCenterProducts, centered }, rows, channels);
  for (let channel = 0; channel < channels; channel++) {
    // The float32 mean is off the batch's by `shift`; sums about it are corrected to the batch's.
    const shift = centered[channel] / rows;
    const products = offCenterProducts[channel] - shift * sums[channel];
    const rsqrt = 1 / Math.sqrt(variance[channel] + epsilon);
    const gamma = scale[channel];
    dscale[channel] = products * rsqrt;
    doffset[channel] = sums[channel];
    a[channel] = gamma * rsqrt;
    // x̂·Σdy·x̂ = (x − μ)·rsqrt²·Σdy·(x − μ), and x − μ = (x − mean) − shift.
    const slope = (-gamma * rsqrt ** 3 * products + 2 * dvariance[channel]) / rows;
    b[channel] = slope;
    c[channel] = (-gamma * rsqrt * sums[channel] + dmean[channel]) / rows - slope * shift;
  }
  loops.gradientApply(dy, x, dx, mean, { a, b, c }, rows, channels);
}

/** Floats to allocate for per-channel scratch arrays, with room to align the f64 ones. */
const scratchFloats = (channels: number, f64Count: number, f32Count: number) => (2 * f64Count + f32Count) * channels + 1;

/** Views of a scratch tensor on the wasm heap (take them after the last allocation), zeroed. */
function heapScratch(backend: BackendWasm, info: TensorInfo, channels: number, f64Count: number, f32Count: number): Scratch {
  const view = heapFloat32(backend, info);
  const start = (view.byteOffset + 7) & ~7;
  const f32Start = start + 8 * f64Count * channels;
  const f64 = Array.from({ length: f64Count }, (_, i) => new Float64Array(view.buffer, start + 8 * i * channels, channels).fill(0));
  const f32 = Array.from({ length: f32Count }, (_, i) => new Float32Array(view.buffer, f32Start + 4 * i * channels, channels));
  return { f64, f32 };
}

function plainScratch(channels: number, f64Count: number, f32Count: number): Scratch {
  return {
    f64: Array.from({ length: f64Count }, () => new Float64Array(channels)),
    f32: Array.from({ length: f32Count }, () => new Float32Array(channels)),
  };
}

export const batchNormTrainingWasm = wasmKernel<ForwardInputs, BatchNormTrainingAttrs>(
  BatchNormTraining,
  (inputs, { epsilon }, backend) => {
    const { x, scale, offset } = inputs;
    assertFloat32(BatchNormTraining, x, scale, offset);
    const shape = layout(x);
    const outputs = {
      y: backend.makeOutput([...x.shape], 'float32'),
      mean: backend.makeOutput([shape.channels], 'float32'),
      variance: backend.makeOutput([shape.channels], 'float32'),
    };
    const scratch = backend.makeOutput([scratchFloats(shape.channels, 2, 3)], 'float32');
    const view = (info: TensorInfo) => heapFloat32(backend, info);
    forward(
      wasmLoops(backend),
      {
        x: view(x),
        scale: view(scale),
        offset: view(offset),
        y: view(outputs.y),
        mean: view(outputs.mean),
        variance: view(outputs.variance),
      },
      heapScratch(backend, scratch, shape.channels, 2, 3),
      shape,
      epsilon,
    );
    backend.disposeData(scratch.dataId);
    return [outputs.y, outputs.mean, outputs.variance];
  },
);

export const batchNormTrainingGradWasm = wasmKernel<GradientInputs, BatchNormTrainingAttrs>(
  BatchNormTrainingGrad,
  (inputs, { epsilon }, backend) => {
    assertFloat32(BatchNormTrainingGrad, ...Object.values(inputs));
    const shape = layout(inputs.x);
    const outputs = {
      dx: backend.makeOutput([...inputs.x.shape], 'float32'),
      dscale: backend.makeOutput([shape.channels], 'float32'),
      doffset: backend.makeOutput([shape.channels], 'float32'),
    };
    const scratch = backend.makeOutput([scratchFloats(shape.channels, 3, 3)], 'float32');
    const views = Object.fromEntries(
      Object.entries({ ...inputs, ...outputs }).map(([name, info]) => [name, heapFloat32(backend, info)]),
    ) as Record<keyof GradientInputs | keyof typeof outputs, Float32Array>;
    backward(wasmLoops(backend), views, heapScratch(backend, scratch, shape.channels, 3, 3), shape, epsilon);
    backend.disposeData(scratch.dataId);
    return [outputs.dx, outputs.dscale, outputs.doffset];
  },
);

interface CpuOutput {
  shape: number[];
  values: Float32Array;
}

/** A cpu kernel from a body that reads its float32 inputs' values and returns its outputs' values. */
function cpuKernel<Inputs>(
  kernelName: string,
  body: (inputs: Inputs, read: (info: TensorInfo) => Float32Array, attrs: BatchNormTrainingAttrs) => CpuOutput[],
): KernelConfig {
  return {
    kernelName,
    backendName: 'cpu',
    kernelFunc: ({ inputs, attrs, backend }) => {
      const cpu = backend as unknown as CpuBackend;
      for (const info of Object.values(inputs)) {
        if (info?.dtype !== 'float32') throw new Error(`kdkit engine: ${kernelName} on cpu supports float32 only, got ${info?.dtype}.`);
      }
      const read = (info: TensorInfo) => cpu.readSync(info.dataId) as Float32Array;
      const outputs = body(inputs as unknown as Inputs, read, attrs as unknown as BatchNormTrainingAttrs);
      return outputs.map(({ shape, values }) => cpu.makeTensorInfo(shape, 'float32', values));
    },
  };
}

/** Outputs for x's shape and two per channel. */
function cpuOutputs(x: TensorInfo, channels: number): [CpuOutput, CpuOutput, CpuOutput] {
  return [
    { shape: [...x.shape], values: new Float32Array(util.sizeFromShape(x.shape)) },
    { shape: [channels], values: new Float32Array(channels) },
    { shape: [channels], values: new Float32Array(channels) },
  ];
}

export const batchNormTrainingCpu = cpuKernel<ForwardInputs>(BatchNormTraining, ({ x, scale, offset }, read, { epsilon }) => {
  const shape = layout(x);
  const outputs = cpuOutputs(x, shape.channels);
  const [y, mean, variance] = outputs.map((output) => output.values);
  forward(
    javaScriptLoops,
    { x: read(x), scale: read(scale), offset: read(offset), y, mean, variance },
    plainScratch(shape.channels, 2, 3),
    shape,
    epsilon,
  );
  return outputs;
});

export const batchNormTrainingGradCpu = cpuKernel<GradientInputs>(BatchNormTrainingGrad, (inputs, read, { epsilon }) => {
  const shape = layout(inputs.x);
  const outputs = cpuOutputs(inputs.x, shape.channels);
  const [dx, dscale, doffset] = outputs.map((output) => output.values);
  const views = Object.fromEntries(Object.entries(inputs).map(([name, info]) => [name, read(info)])) as Record<
    keyof GradientInputs,
    Float32Array
  >;
  backward(javaScriptLoops, { ...views, dx, dscale, doffset }, plainScratch(shape.channels, 3, 3), shape, epsilon);
  return outputs;
});

/**
 * The gradient of KdkitBatchNormTraining for x, scale and offset, from one backward kernel. It runs
 * when the gradient function is called, not in each input's thunk, so that the three share it; the
 * gradients no input asks for are disposed with the backward pass.
 */
export const batchNormTrainingGradient: GradConfig = {
  kernelName: BatchNormTraining,
  inputsToSave: ['x', 'scale'],
  outputsToSave: [false, true, true],
  gradFunc: (dys, saved, attrs) => {
    const [dy, dmean, dvariance] = dys as Tensor[];
    const [x, scale, mean, variance] = saved;
    const inputs: NamedTensorMap = { dy, x, mean, variance, scale, dmean, dvariance };
    const [dx, dscale, doffset] = engine().runKernel(BatchNormTrainingGrad, inputs, attrs) as Tensor[];
    return { x: () => dx, scale: () => dscale, offset: () => doffset };
  },
};
