/**
 * Builds teachers and students from the architecture specs in the config: `mlp` and `cnn` here,
 * `resnet` and `mobilenetv2` from the zoo (models/zoo/). Every model maps NHWC images to logits
 * (no softmax): losses apply temperature and softmax themselves. Layer names are stable
 * (`conv_1`, `dense_2`, `block_3`, `stage_2`, `logits`) so feature terms can tap them by name.
 */
import * as tf from '../engine/tf.js';
import { InputError } from '../errors.js';
import type { ModelSpec } from '../config/schema.js';
import { buildResNet, resnetParameterCount } from './zoo/resnet.js';
import { buildMobileNetV2, mobileNetV2ParameterCount } from './zoo/mobilenet_v2.js';

export interface BuildOptions {
  /** [height, width, channels] of one sample. */
  inputShape: readonly [number, number, number];
  numClasses: number;
  /** Seeds the weight initializers. */
  seed: number;
  name: string;
  /** Config field the spec came from, for error messages. */
  field?: string;
}

/** Weights a spec may ask for: 2²⁸ float32 values are 1 GiB, past anything kdkit trains on a CPU. */
export const MAX_PARAMS = 2 ** 28;

/** The number of weights `spec` builds, from its shapes alone (before anything is allocated). */
export function specParameterCount(spec: ModelSpec, inputShape: readonly [number, number, number], numClasses: number): number {
  if (spec.type === 'resnet') return resnetParameterCount(spec, inputShape, numClasses);
  if (spec.type === 'mobilenetv2') return mobileNetV2ParameterCount(spec, inputShape, numClasses);
  let [height, width, channels] = inputShape;
  let params = 0;
  if (spec.type === 'cnn') {
    for (const filters of spec.filters) {
      params += spec.kernelSize * spec.kernelSize * channels * filters + (spec.batchNorm ? 4 * filters : filters);
      channels = filters;
      height = Math.floor(height / 2);
      width = Math.floor(width / 2);
    }
  }
  let features = Math.max(height, 0) * Math.max(width, 0) * channels;
  for (const units of spec.type === 'cnn' ? spec.dense : spec.hidden) {
    params += features * units + units;
    features = units;
  }
  return params + features * numClasses + numClasses;
}

export function buildModel(spec: ModelSpec, options: BuildOptions): tf.LayersModel {
  const field = options.field ?? 'model';
  const params = specParameterCount(spec, options.inputShape, options.numClasses);
  if (params > MAX_PARAMS) {
    throw new InputError(
      `${field}: ${params.toExponential(2)} weights (${((params * 4) / 2 ** 30).toFixed(1)} GiB) is more than kdkit builds (${MAX_PARAMS.toExponential(2)}, 1 GiB); make the layers smaller`,
    );
  }
  if (spec.type === 'resnet') return buildResNet(spec, options);
  if (spec.type === 'mobilenetv2') return buildMobileNetV2(spec, options);
  let layerIndex = 0;
  const init = () => ({
    kernelInitializer: tf.initializers.glorotUniform({ seed: options.seed * 1000 + ++layerIndex }),
    biasInitializer: 'zeros' as const,
  });
  const input = tf.input({ shape: [...options.inputShape], name: 'image' });
  let x = input as tf.SymbolicTensor;

  if (spec.type === 'cnn') {
    let [height, width] = options.inputShape;
    spec.filters.forEach((filters, i) => {
      x = tf.layers
        .conv2d({
          filters,
          kernelSize: spec.kernelSize,
          padding: 'same',
          activation: spec.batchNorm ? 'linear' : 'relu',
          useBias: !spec.batchNorm,
          name: `conv_${i + 1}`,
          ...init(),
        })
        .apply(x) as tf.SymbolicTensor;
      if (spec.batchNorm) {
        x = tf.layers.batchNormalization({ name: `bn_${i + 1}` }).apply(x) as tf.SymbolicTensor;
        x = tf.layers.activation({ activation: 'relu', name: `relu_${i + 1}` }).apply(x) as tf.SymbolicTensor;
      }
      if (height < 2 || width < 2) {
        throw new InputError(
          `${field}.filters: ${spec.filters.length} conv+pool blocks need a larger input than ${options.inputShape.join('×')}; block ${i + 1} would pool a ${height}×${width} map`,
        );
      }
      x = tf.layers.maxPooling2d({ poolSize: 2, strides: 2, name: `pool_${i + 1}` }).apply(x) as tf.SymbolicTensor;
      height = Math.floor(height / 2);
      width = Math.floor(width / 2);
    });
  }
  x = tf.layers.flatten({ name: 'flatten' }).apply(x) as tf.SymbolicTensor;
  const hidden = spec.type === 'cnn' ? spec.dense : spec.hidden;
  const activation = spec.type === 'mlp' ? spec.activation : 'relu';
  hidden.forEach((units, i) => {
    x = tf.layers.dense({ units, activation, name: `dense_${i + 1}`, ...init() }).apply(x) as tf.SymbolicTensor;
    if (spec.dropout > 0) x = tf.layers.dropout({ rate: spec.dropout, name: `dropout_${i + 1}` }).apply(x) as tf.SymbolicTensor;
  });
  const logits = tf.layers.dense({ units: options.numClasses, name: 'logits', ...init() }).apply(x) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: logits, name: options.name });
}

/** Multiply-accumulates for one sample, from the layer shapes (dense, conv, depthwise and separable conv layers). */
export function multiplyAccumulates(model: tf.LayersModel): number {
  let total = 0;
  for (const layer of model.layers) {
    const className = layer.getClassName();
    const outputShape = layer.outputShape as (number | null)[];
    if (className === 'Dense') {
      const [kernel] = layer.getWeights();
      total += kernel.shape[0]! * kernel.shape[1]!;
    } else if (className === 'Conv2D' || className === 'DepthwiseConv2D') {
      const [kernel] = layer.getWeights();
      // Conv2D kernels are [kh, kw, in, out]; depthwise kernels [kh, kw, in, multiplier]: same product.
      const [kernelHeight, kernelWidth, inChannels, outPerPosition] = kernel.shape as number[];
      total += outputShape[1]! * outputShape[2]! * kernelHeight * kernelWidth * inChannels * outPerPosition;
    } else if (className === 'SeparableConv2D') {
      // A depthwise pass ([kh, kw, in, multiplier]) then a 1×1 conv ([1, 1, in · multiplier, out]) at every output position.
      const [depthwise, pointwise] = layer.getWeights();
      const [kernelHeight, kernelWidth, inChannels, multiplier] = depthwise.shape as number[];
      const outChannels = pointwise.shape[3]!;
      total +=
        outputShape[1]! * outputShape[2]! * (kernelHeight * kernelWidth * inChannels * multiplier + inChannels * multiplier * outChannels);
    }
  }
  return total;
}
