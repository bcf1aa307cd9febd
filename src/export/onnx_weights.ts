/**
 * Reading a layer's weights and rearranging them into ONNX's layouts, with a following
 * BatchNormalization folded in: BN(y) = y · scale + shift per output channel, so
 * W'[…, o] = W[…, o] · scale[o] and b'[o] = b[o] · scale[o] + shift[o]. Arithmetic is in float64,
 * rounded to float32 once when stored.
 */
import type * as tf from '../engine/tf.js';

/** A per-channel affine map y · scale + shift (a BatchNormalization in inference mode). */
export interface ChannelAffine {
  scale: Float64Array;
  shift: Float64Array;
}

export interface WeightData {
  data: Float32Array;
  shape: number[];
}

/** Weights read ahead, asynchronously, by their storage (withWeightsRead): a GPU backend's tensors. */
let readAhead: WeakMap<object, Float32Array> | undefined;

/**
 * Runs `body` (a synchronous export) with every weight of `model` read first, asynchronously: on a
 * GPU backend a synchronous read stalls the device, and on WebGPU it is not reliable.
 */
export async function withWeightsRead<T>(model: tf.LayersModel, body: () => T): Promise<T> {
  const values = new WeakMap<object, Float32Array>();
  for (const weight of model.weights) {
    const tensor = weight.read();
    values.set(tensor.dataId, (await tensor.data()) as Float32Array);
  }
  readAhead = values;
  try {
    return body();
  } finally {
    readAhead = undefined;
  }
}

/** The layer's weight whose name ends in `/suffix` (e.g. 'kernel', 'moving_mean'), if it has one. */
export function layerWeight(layer: tf.layers.Layer, suffix: string): WeightData | undefined {
  const index = layer.weights.findIndex((weight) => weight.originalName.endsWith(`/${suffix}`));
  if (index < 0) return undefined;
  // getWeights() returns the variables' own tensors: read them, never dispose them.
  const tensor = layer.getWeights()[index];
  const data = readAhead?.get(tensor.dataId) ?? (tensor.dataSync() as Float32Array);
  return { data, shape: [...tensor.shape] };
}

/** The inference-mode affine map of a BatchNormalization layer, with its epsilon. */
export function batchNormAffine(layer: tf.layers.Layer): ChannelAffine {
  const epsilon = layer.getConfig().epsilon as number;
  const mean = layerWeight(layer, 'moving_mean')!.data;
  const variance = layerWeight(layer, 'moving_variance')!.data;
  // center: false and scale: false drop beta and gamma, which then act as 0 and 1.
  const gamma = layerWeight(layer, 'gamma')?.data;
  const beta = layerWeight(layer, 'beta')?.data;
  const scale = new Float64Array(mean.length);
  const shift = new Float64Array(mean.length);
  for (let c = 0; c < mean.length; c++) {
    scale[c] = (gamma?.[c] ?? 1) / Math.sqrt(variance[c] + epsilon);
    shift[c] = (beta?.[c] ?? 0) - mean[c] * scale[c];
  }
  return { scale, shift };
}

/** The bias after folding: b · scale + shift; undefined when there is neither a bias nor a fold. */
export function foldedBias(bias: Float32Array | undefined, fold: ChannelAffine | undefined): Float32Array | undefined {
  if (fold === undefined) return bias;
  return Float32Array.from(fold.scale, (scale, o) => (bias?.[o] ?? 0) * scale + fold.shift[o]);
}

/**
 * A Keras Conv2D kernel [kh, kw, in, out] as ONNX's [out, in, kh, kw], each output channel
 * scaled by the fold. Also serves 1×1 pointwise kernels.
 */
export function convKernel({ data, shape }: WeightData, fold: ChannelAffine | undefined): WeightData {
  const [kernelHeight, kernelWidth, inChannels, outChannels] = shape;
  const out = new Float32Array(data.length);
  for (let y = 0; y < kernelHeight; y++) {
    for (let x = 0; x < kernelWidth; x++) {
      for (let i = 0; i < inChannels; i++) {
        for (let o = 0; o < outChannels; o++) {
          const value = data[((y * kernelWidth + x) * inChannels + i) * outChannels + o];
          out[((o * inChannels + i) * kernelHeight + y) * kernelWidth + x] = fold ? value * fold.scale[o] : value;
        }
      }
    }
  }
  return { data: out, shape: [outChannels, inChannels, kernelHeight, kernelWidth] };
}

/**
 * A Keras depthwise kernel [kh, kw, channels, multiplier] as an ONNX grouped-Conv kernel
 * [channels · multiplier, 1, kh, kw]: output channel c · multiplier + m, TensorFlow's order.
 */
export function depthwiseKernel({ data, shape }: WeightData, fold: ChannelAffine | undefined): WeightData {
  const [kernelHeight, kernelWidth, channels, multiplier] = shape;
  const out = new Float32Array(data.length);
  for (let y = 0; y < kernelHeight; y++) {
    for (let x = 0; x < kernelWidth; x++) {
      for (let c = 0; c < channels; c++) {
        for (let m = 0; m < multiplier; m++) {
          const o = c * multiplier + m;
          const value = data[((y * kernelWidth + x) * channels + c) * multiplier + m];
          out[(o * kernelHeight + y) * kernelWidth + x] = fold ? value * fold.scale[o] : value;
        }
      }
    }
  }
  return { data: out, shape: [channels * multiplier, 1, kernelHeight, kernelWidth] };
}

/** A Dense kernel [in, out] (kept in that layout for Gemm/MatMul), columns scaled by the fold. */
export function denseKernel({ data, shape }: WeightData, fold: ChannelAffine | undefined): WeightData {
  if (fold === undefined) return { data, shape };
  const units = shape[shape.length - 1];
  return { data: Float32Array.from(data, (value, i) => value * fold.scale[i % units]), shape };
}
