/**
 * Builds teachers and students from the architecture specs in the config: `mlp` and `cnn` here,
 * `resnet` and `mobilenetv2` from the zoo (models/zoo/), which map NHWC images to logits, and
 * `transformer` and `embeddingbag` (models/text/), which map token inputs (`input_ids`,
 * `attention_mask`, `token_type_ids`) to logits. No model ends in a softmax: losses apply
 * temperature and softmax themselves. Layer names are stable (`conv_1`, `dense_2`, `block_3`,
 * `stage_2`, `layer_2.hidden`, `logits`) so feature terms can tap them by name.
 */
import * as tf from '../engine/tf.js';
import { InputError } from '../errors.js';
import type { z } from 'zod';
import { modelSpec, type ModelSpec } from '../config/schema.js';
import { describeIssues } from '../config/parse.js';
import { describeInputs, imageShape, type InputField } from '../data/dataset.js';
import { buildResNet, resnetParameterCount } from './zoo/resnet.js';
import { buildMobileNetV2, mobileNetV2ParameterCount } from './zoo/mobilenet_v2.js';
import { buildEmbeddingBag, embeddingBagParameterCount } from './text/embedding_bag.js';
import { buildTransformer, type TextModelOptions, transformerParameterCount } from './text/transformer.js';

export interface BuildOptions {
  /** [height, width, channels] of one sample, for image models; else taken from `inputs`. */
  inputShape?: readonly [number, number, number];
  /** The dataset's fields: a text model takes its token inputs from them. */
  inputs?: readonly InputField[];
  numClasses: number;
  /** Seeds the weight initializers. */
  seed: number;
  name: string;
  /** Config field the spec came from, for error messages. */
  field?: string;
}

/** Weights a spec may ask for: 2²⁸ float32 values are 1 GiB, past anything kdkit trains on a CPU. */
export const MAX_PARAMS = 2 ** 28;

/** The image shape an image spec is built for. */
function imageShapeOf(spec: ModelSpec, options: BuildOptions): readonly [number, number, number] {
  if (options.inputShape) return options.inputShape;
  if (!options.inputs) throw new Error('buildModel: neither inputShape nor inputs given');
  return imageShape({ name: `${options.field ?? 'model'} (type ${spec.type})`, inputs: options.inputs }, 'this model');
}

/** What a text spec is built for, from the dataset's token fields. */
function textOptionsOf(spec: ModelSpec, options: BuildOptions): TextModelOptions {
  const field = options.field ?? 'model';
  const inputs = options.inputs ?? [];
  const named = (name: string) => inputs.find((input) => input.name === name && input.dtype === 'int32' && input.shape.length === 1);
  const ids = named('input_ids');
  if (!ids?.vocabulary || !named('attention_mask')) {
    throw new InputError(
      `${field}: type '${spec.type}' reads text: int32 input_ids (with a tokenizer's vocabulary) and attention_mask; the dataset's samples are ${
        inputs.length > 0 ? describeInputs(inputs) : `images [${options.inputShape?.join(', ')}]`
      }`,
    );
  }
  return {
    vocabSize: ids.vocabulary,
    maxLength: ids.shape[0],
    typeIds: spec.type === 'transformer' && named('token_type_ids') !== undefined,
    numClasses: options.numClasses,
    seed: options.seed,
    name: options.name,
    field,
  };
}

/** The number of weights `spec` builds, from its shapes alone (before anything is allocated). */
export function specParameterCount(spec: ModelSpec, options: BuildOptions): number {
  const { numClasses } = options;
  if (spec.type === 'transformer') return transformerParameterCount(spec, textOptionsOf(spec, options));
  if (spec.type === 'embeddingbag') return embeddingBagParameterCount(spec, textOptionsOf(spec, options));
  const inputShape = imageShapeOf(spec, options);
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

/**
 * The model a config's `model:` describes. `input` takes the config's syntax, defaults left out
 * (`{type: 'cnn', filters: [32, 64]}`); a wrong field is an InputError naming it.
 */
export function buildModel(given: z.input<typeof modelSpec> | ModelSpec, options: BuildOptions): tf.LayersModel {
  const field = options.field ?? 'model';
  const parsed = modelSpec.safeParse(given);
  if (!parsed.success) throw new InputError(`invalid ${field}\n${describeIssues(parsed.error.issues, field)}`);
  const spec = parsed.data;
  const params = specParameterCount(spec, options);
  if (params > MAX_PARAMS) {
    throw new InputError(
      `${field}: ${params.toExponential(2)} weights (${((params * 4) / 2 ** 30).toFixed(1)} GiB) is more than kdkit builds (${MAX_PARAMS.toExponential(2)}, 1 GiB); make the layers smaller`,
    );
  }
  if (spec.type === 'transformer') return buildTransformer(spec, textOptionsOf(spec, options));
  if (spec.type === 'embeddingbag') return buildEmbeddingBag(spec, textOptionsOf(spec, options));
  const inputShape = imageShapeOf(spec, options);
  if (spec.type === 'resnet') return buildResNet(spec, { ...options, inputShape });
  if (spec.type === 'mobilenetv2') return buildMobileNetV2(spec, { ...options, inputShape });
  let layerIndex = 0;
  const init = () => ({
    kernelInitializer: tf.initializers.glorotUniform({ seed: options.seed * 1000 + ++layerIndex }),
    biasInitializer: 'zeros' as const,
  });
  const input = tf.input({ shape: [...inputShape], name: 'image' });
  let x = input as tf.SymbolicTensor;

  if (spec.type === 'cnn') {
    let [height, width] = inputShape;
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
          `${field}.filters: ${spec.filters.length} conv+pool blocks need a larger input than ${inputShape.join('×')}; block ${i + 1} would pool a ${height}×${width} map`,
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

/** Multiply-accumulates for one sample, from the layer shapes (dense, conv, depthwise and separable conv layers, attention). */
export function multiplyAccumulates(model: tf.LayersModel): number {
  let total = 0;
  for (const layer of model.layers) {
    const className = layer.getClassName();
    const outputShape = layer.outputShape as (number | null)[];
    if (className === 'Dense') {
      const [kernel] = layer.getWeights();
      // On [batch, sequence, features] a dense layer runs at every position.
      const positions = outputShape.slice(1, -1).reduce<number>((product, dim) => product * (dim ?? 1), 1);
      total += positions * kernel.shape[0]! * kernel.shape[1]!;
    } else if (className === 'KdkitAttentionScores' || className === 'KdkitAttentionContext') {
      // Q·Kᵀ and probabilities·V: sequence² · head size per head, sequence² · hidden in all.
      // Their first input (queries) or second (values) is [batch, heads, sequence, head size].
      const inputs = layer.input as tf.SymbolicTensor[];
      const [, heads, sequence, size] = inputs[className === 'KdkitAttentionScores' ? 0 : 1].shape.map((dim) => dim ?? 1);
      total += heads * sequence * sequence * size;
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
