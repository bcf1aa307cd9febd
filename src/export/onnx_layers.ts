/**
 * One converter per exportable Keras layer class: it reads the layer's config and weights and
 * adds ONNX nodes for it to the graph, given the ONNX values of the layer's inputs.
 */
import type * as tf from '../engine/tf.js';
import type { AttributeValue } from '../engine/ort/onnx_model.js';
import { applyActivation, clip } from './onnx_activations.js';
import { textLayerConverters } from './onnx_text_layers.js';
import { axisIn, type GraphValue, type OnnxGraphBuilder, type ValueLayout } from './onnx_graph.js';
import type { LayerConversion, LayerConverter } from './onnx_conversion.js';
import { convKernel, depthwiseKernel, denseKernel, foldedBias, batchNormAffine, layerWeight, type WeightData } from './onnx_weights.js';

export type { LayerConversion, LayerConverter } from './onnx_conversion.js';

/** Layer classes whose output channels can absorb a following BatchNormalization. */
export const foldableClasses: ReadonlySet<string> = new Set(['Conv2D', 'DepthwiseConv2D', 'SeparableConv2D', 'Dense']);

/**
 * [begin, end] padding of Keras 'same' along one spatial axis: TensorFlow puts the odd pixel at
 * the end (ONNX's SAME_UPPER), written out explicitly here.
 */
export function samePads(size: number, kernel: number, stride: number, dilation = 1): [number, number] {
  const span = (kernel - 1) * dilation + 1;
  const total = Math.max((Math.ceil(size / stride) - 1) * stride + span - size, 0);
  return [Math.floor(total / 2), total - Math.floor(total / 2)];
}

function requireChannelsLast({ config, reject }: LayerConversion): void {
  if (config.dataFormat !== undefined && config.dataFormat !== 'channelsLast')
    reject(`dataFormat '${String(config.dataFormat)}' (only channelsLast)`);
}

/** kernel_shape, strides and explicit pads of a convolution or pooling window over an NCHW input. */
function windowAttributes(conversion: LayerConversion, kernel: readonly number[], dilations: readonly number[]) {
  const { layer, config, reject } = conversion;
  requireChannelsLast(conversion);
  const strides = (config.strides as number[] | undefined) ?? [...kernel];
  const [, height, width] = (layer.input as tf.SymbolicTensor).shape;
  let pads = [0, 0, 0, 0];
  if (config.padding === 'same') {
    if (height === null || width === null) return reject("'same' padding without a fixed input height and width");
    const [top, bottom] = samePads(height, kernel[0], strides[0], dilations[0]);
    const [left, right] = samePads(width, kernel[1], strides[1], dilations[1]);
    pads = [top, left, bottom, right];
  } else if (config.padding !== 'valid') {
    reject(`padding '${String(config.padding)}'`);
  }
  const attributes: Record<string, AttributeValue> = { kernel_shape: { ints: kernel }, strides: { ints: strides }, pads: { ints: pads } };
  return attributes;
}

/** A Conv node on the NCHW input; `hint` names its output and weights. */
function conv(
  conversion: LayerConversion,
  input: string,
  kernel: WeightData,
  bias: Float32Array | undefined,
  group: number,
  hint: string,
): string {
  const { config, graph } = conversion;
  const dilations = (config.dilationRate as number[] | undefined) ?? [1, 1];
  const attributes = {
    ...windowAttributes(conversion, kernel.shape.slice(2), dilations),
    dilations: { ints: dilations },
    group: { int: group },
  };
  const inputs = [input, graph.weight(`${hint}/kernel`, kernel.data, kernel.shape, 0)];
  if (bias !== undefined) inputs.push(graph.constant(`${hint}/bias`, bias, [bias.length]));
  return graph.node('Conv', inputs, hint, attributes);
}

function withActivation(conversion: LayerConversion, value: GraphValue): GraphValue {
  const { graph, config, layer } = conversion;
  return applyActivation(graph, value, (config.activation as string | undefined) ?? 'linear', `${layer.name}_${String(config.activation)}`);
}

const nchwValue = (name: string): GraphValue => ({ rank: 4, names: { nchw: name } });

const conv2d: LayerConverter = (conversion) => {
  const { layer, inputs, graph, fold } = conversion;
  const kernel = convKernel(layerWeight(layer, 'kernel')!, fold);
  const bias = foldedBias(layerWeight(layer, 'bias')?.data, fold);
  return withActivation(conversion, nchwValue(conv(conversion, graph.inLayout(inputs[0], 'nchw'), kernel, bias, 1, layer.name)));
};

const depthwiseConv2d: LayerConverter = (conversion) => {
  const { layer, inputs, graph, fold } = conversion;
  const source = layerWeight(layer, 'depthwise_kernel')!;
  const kernel = depthwiseKernel(source, fold);
  const bias = foldedBias(layerWeight(layer, 'bias')?.data, fold);
  return withActivation(
    conversion,
    nchwValue(conv(conversion, graph.inLayout(inputs[0], 'nchw'), kernel, bias, source.shape[2], layer.name)),
  );
};

// A depthwise Conv (no bias) then a 1×1 Conv, as Keras computes it; the fold goes into the 1×1.
const separableConv2d: LayerConverter = (conversion) => {
  const { layer, inputs, graph, fold } = conversion;
  const source = layerWeight(layer, 'depthwise_kernel')!;
  const depthwise = conv(
    conversion,
    graph.inLayout(inputs[0], 'nchw'),
    depthwiseKernel(source, undefined),
    undefined,
    source.shape[2],
    `${layer.name}_depthwise`,
  );
  const pointwise = convKernel(layerWeight(layer, 'pointwise_kernel')!, fold);
  const bias = foldedBias(layerWeight(layer, 'bias')?.data, fold);
  const pointwiseConversion = { ...conversion, config: { ...conversion.config, padding: 'valid', strides: [1, 1], dilationRate: [1, 1] } };
  return withActivation(conversion, nchwValue(conv(pointwiseConversion, depthwise, pointwise, bias, 1, layer.name)));
};

const dense: LayerConverter = (conversion) => {
  const { layer, inputs, graph, fold } = conversion;
  const kernel = denseKernel(layerWeight(layer, 'kernel')!, fold);
  const bias = foldedBias(layerWeight(layer, 'bias')?.data, fold);
  const input = graph.inLayout(inputs[0], 'keras');
  const weight = graph.weight(`${layer.name}/kernel`, kernel.data, kernel.shape, 1);
  const biasName = bias && graph.constant(`${layer.name}/bias`, bias, [bias.length]);
  let output: string;
  if (inputs[0].rank === 2) {
    output = graph.node('Gemm', biasName ? [input, weight, biasName] : [input, weight], layer.name);
  } else {
    // Keras applies Dense to the last axis of a higher-rank input; MatMul broadcasts the same way.
    output = graph.node('MatMul', [input, weight], biasName ? `${layer.name}_matmul` : layer.name);
    if (biasName) output = graph.node('Add', [output, biasName], layer.name);
  }
  return withActivation(conversion, { rank: inputs[0].rank, names: { keras: output } });
};

/** A stand-alone BatchNormalization (nothing to fold into): x · scale + shift per channel. */
const batchNormalization: LayerConverter = ({ layer, config, inputs, graph, reject }) => {
  const [value] = inputs;
  const axis = config.axis as number;
  if (axis !== -1 && axis !== value.rank - 1) reject(`axis ${axis} (only the channel axis, -1)`);
  const { scale, shift } = batchNormAffine(layer);
  const layout = graph.availableLayout(value);
  const dims = layout === 'nchw' ? [scale.length, 1, 1] : [scale.length];
  const scaled = graph.node(
    'Mul',
    [graph.inLayout(value, layout), graph.constant(`${layer.name}/scale`, Float32Array.from(scale), dims)],
    `${layer.name}_scaled`,
  );
  const shifted = graph.node('Add', [scaled, graph.constant(`${layer.name}/shift`, Float32Array.from(shift), dims)], layer.name);
  return { rank: value.rank, names: { [layout]: shifted } };
};

const pooling =
  (opType: 'MaxPool' | 'AveragePool'): LayerConverter =>
  (conversion) => {
    const { layer, config, inputs, graph } = conversion;
    const attributes = windowAttributes(conversion, config.poolSize as number[], [1, 1]);
    // TensorFlow averages over the window's real pixels only: ONNX's count_include_pad = 0.
    if (opType === 'AveragePool') attributes.count_include_pad = { int: 0 };
    return nchwValue(graph.node(opType, [graph.inLayout(inputs[0], 'nchw')], layer.name, attributes));
  };

const globalPooling =
  (opType: 'ReduceMean' | 'ReduceMax'): LayerConverter =>
  (conversion) => {
    const { layer, inputs, graph } = conversion;
    requireChannelsLast(conversion);
    const layout = graph.availableLayout(inputs[0]);
    const axes = layout === 'nchw' ? [2, 3] : [1, 2];
    return {
      rank: 2,
      names: { keras: graph.node(opType, [graph.inLayout(inputs[0], layout)], layer.name, { axes: { ints: axes }, keepdims: { int: 0 } }) },
    };
  };

// Keras flattens in NHWC order, which the following Dense's weights assume.
const flatten: LayerConverter = ({ layer, inputs, graph }) => {
  if (inputs[0].rank === 2) return inputs[0];
  return { rank: 2, names: { keras: graph.node('Flatten', [graph.inLayout(inputs[0], 'keras')], layer.name, { axis: { int: 1 } }) } };
};

const reshape: LayerConverter = ({ layer, config, inputs, graph }) => {
  const target = config.targetShape as number[];
  // Shape entry 0 copies the batch size from the input.
  const shape = graph.int64Constant(`${layer.name}/shape`, [0, ...target]);
  return { rank: target.length + 1, names: { keras: graph.node('Reshape', [graph.inLayout(inputs[0], 'keras'), shape], layer.name) } };
};

const zeroPadding2d: LayerConverter = (conversion) => {
  const { layer, config, inputs, graph } = conversion;
  requireChannelsLast(conversion);
  const [[top, bottom], [left, right]] = config.padding as number[][];
  const layout = graph.availableLayout(inputs[0]);
  const pads = layout === 'nchw' ? [0, 0, top, left, 0, 0, bottom, right] : [0, top, left, 0, 0, bottom, right, 0];
  const output = graph.node('Pad', [graph.inLayout(inputs[0], layout), graph.int64Constant(`${layer.name}/pads`, pads)], layer.name);
  return { rank: 4, names: { [layout]: output } };
};

interface MergeContext {
  layout: ValueLayout;
  rank: number;
  config: tf.serialization.ConfigDict;
}

/** A merge of several inputs, in the first input's layout (which the others are brought to). */
const merge =
  (build: (graph: OnnxGraphBuilder, names: string[], hint: string, context: MergeContext) => string): LayerConverter =>
  ({ layer, config, inputs, graph }) => {
    const layout = graph.availableLayout(inputs[0]);
    const names = inputs.map((value) => graph.inLayout(value, layout));
    return { rank: inputs[0].rank, names: { [layout]: build(graph, names, layer.name, { layout, rank: inputs[0].rank, config }) } };
  };
const variadic = (opType: string) => merge((graph, names, hint) => graph.node(opType, names, hint));
const concatenate = merge((graph, names, hint, { layout, rank, config }) =>
  graph.node('Concat', names, hint, { axis: { int: axisIn(layout, config.axis as number, rank) } }),
);

/** An activation layer: one op on the input, in the layout at hand. */
const activationLayer =
  (build: (conversion: LayerConversion, input: string, layout: ValueLayout) => string): LayerConverter =>
  (conversion) =>
    conversion.graph.elementwise(conversion.inputs[0], (input, layout) => build(conversion, input, layout));

// Training-only layers: identity at inference.
const identity: LayerConverter = ({ inputs }) => inputs[0];

export const layerConverters: Readonly<Record<string, LayerConverter>> = {
  Dense: dense,
  Conv2D: conv2d,
  DepthwiseConv2D: depthwiseConv2d,
  SeparableConv2D: separableConv2d,
  MaxPooling2D: pooling('MaxPool'),
  AveragePooling2D: pooling('AveragePool'),
  GlobalAveragePooling2D: globalPooling('ReduceMean'),
  GlobalMaxPooling2D: globalPooling('ReduceMax'),
  BatchNormalization: batchNormalization,
  Activation: (conversion) =>
    applyActivation(conversion.graph, conversion.inputs[0], conversion.config.activation as string, conversion.layer.name),
  ReLU: activationLayer(({ graph, layer, config }, input) =>
    config.maxValue == null ? graph.node('Relu', [input], layer.name) : clip(graph, input, layer.name, 0, config.maxValue as number),
  ),
  LeakyReLU: activationLayer(({ graph, layer, config }, input) =>
    graph.node('LeakyRelu', [input], layer.name, { alpha: { float: config.alpha as number } }),
  ),
  ELU: activationLayer(({ graph, layer, config }, input) =>
    graph.node('Elu', [input], layer.name, { alpha: { float: config.alpha as number } }),
  ),
  ThresholdedReLU: activationLayer(({ graph, layer, config }, input) =>
    graph.node('ThresholdedRelu', [input], layer.name, { alpha: { float: config.theta as number } }),
  ),
  Softmax: activationLayer(({ graph, layer, config, inputs }, input, layout) =>
    graph.node('Softmax', [input], layer.name, { axis: { int: axisIn(layout, config.axis as number, inputs[0].rank) } }),
  ),
  Flatten: flatten,
  Reshape: reshape,
  ZeroPadding2D: zeroPadding2d,
  Add: variadic('Sum'),
  Average: variadic('Mean'),
  Maximum: variadic('Max'),
  Minimum: variadic('Min'),
  Multiply: merge((graph, names, hint) =>
    names
      .slice(1)
      .reduce((product, name, i) => graph.node('Mul', [product, name], i === names.length - 2 ? hint : `${hint}_${i}`), names[0]),
  ),
  Concatenate: concatenate,
  Dropout: identity,
  SpatialDropout1D: identity,
  GaussianNoise: identity,
  GaussianDropout: identity,
  AlphaDropout: identity,
  ...textLayerConverters,
};
