/**
 * Exports a trained TensorFlow.js LayersModel (Sequential or functional, one output) as an ONNX
 * model (opset 17, IR 8) that ONNX Runtime and other ONNX tools run without kdkit.
 *
 * - Each input keeps its input layer's name and has a symbolic batch dimension 'batch';
 *   the output is 'logits', [batch, classes].
 * - Text models' inputs (`input_ids`, `attention_mask`, `token_type_ids`; int32 in TensorFlow.js)
 *   are int64 [batch, sequence] with 'sequence' symbolic too, as Hugging Face exports BERT; see
 *   onnx_text_layers.ts.
 * - Image inputs take NHWC, like the TensorFlow.js model, or NCHW (PyTorch's order) with
 *   layout 'nchw'. Inside, convolutions run in NCHW; see onnx_graph.ts for where the Transposes go.
 * - A BatchNormalization right after a linear Conv2D, DepthwiseConv2D, SeparableConv2D or Dense
 *   (its only consumer) is folded into that layer's weights; any other becomes a per-channel Mul
 *   and Add. Dropout and the other training-only noise layers are dropped.
 * - quantize 'float16' stores each weight matrix or kernel as FLOAT16 followed by a Cast to
 *   float32; 'uint8' stores it as uint8 with a scale and a zero point (both float32) per output
 *   channel, expanded by Cast, Sub and Mul, which ONNX Runtime folds into a constant at load
 *   (it keeps a DequantizeLinear on a weight and runs it every call). Biases, batch-norm vectors
 *   and other constants stay float32: they are a small part of the size and are added, not
 *   multiplied, so their error would not shrink. Computation is float32 either way
 *   (weight-only quantization shrinks the file, not the arithmetic). See onnx_quantize.ts.
 *
 * Layer classes and activations are checked before any weight is read, and nothing is written
 * until the whole model has converted, so an unsupported layer leaves no partial file behind.
 */
import type * as tf from '../engine/tf.js';
import { encodeModel, opsetVersion, tensorDataTypes, type SymbolicValueSpec } from '../engine/ort/onnx_model.js';
import { InputError } from '../errors.js';
import { isSupportedActivation, supportedActivations } from './onnx_activations.js';
import { OnnxGraphBuilder, type GraphValue, type WeightQuantization } from './onnx_graph.js';
import { foldableClasses, layerConverters } from './onnx_layers.js';
import { batchNormAffine, withWeightsRead } from './onnx_weights.js';

export type { WeightQuantization } from './onnx_graph.js';
export type OnnxLayout = 'nhwc' | 'nchw';

export interface OnnxExportOptions {
  /**
   * Input layout of the exported graph. 'nhwc' (default) takes the same tensors as the
   * TensorFlow.js model; 'nchw' takes PyTorch-style [N, C, H, W]. Only image (rank-4) inputs have
   * a layout; other inputs are exported as they are.
   */
  layout?: OnnxLayout;
  /** Weight-only quantization of the stored initializers. */
  quantize?: WeightQuantization;
  /** Name used in error messages, e.g. the model.json path. */
  source?: string;
}

/** ONNX opset the exported graphs are written against. */
export const onnxOpset = opsetVersion;

/** Name of the exported graph's output. */
export const onnxOutputName = 'logits';

/** Layer classes exportOnnx converts (InputLayer needs no conversion). */
export const exportableLayerClasses: readonly string[] = ['InputLayer', ...Object.keys(layerConverters)];

const asArray = <T>(value: T | T[]): T[] => (Array.isArray(value) ? value : [value]);

/** Who consumes each layer output, by symbolic tensor id. */
function consumersOf(layers: readonly tf.layers.Layer[]): Map<number, tf.layers.Layer[]> {
  const consumers = new Map<number, tf.layers.Layer[]>();
  for (const layer of layers) {
    for (const input of asArray(layer.input)) consumers.set(input.id, [...(consumers.get(input.id) ?? []), layer]);
  }
  return consumers;
}

/** Throws for the first layer that cannot be exported, before any conversion work. */
function checkLayers(layers: readonly tf.layers.Layer[], fail: (layer: tf.layers.Layer, reason: string) => never): void {
  for (const layer of layers) {
    const className = layer.getClassName();
    if (!(className in layerConverters)) fail(layer, `; supported: ${exportableLayerClasses.join(', ')}`);
    if (layer.inboundNodes.length !== 1) fail(layer, ': it is applied more than once (a shared layer)');
    const activation = layer.getConfig().activation;
    if (typeof activation === 'string' && !isSupportedActivation(activation)) {
      fail(layer, `: activation '${activation}' is not supported; supported activations: ${supportedActivations.join(', ')}`);
    }
  }
}

/** The BatchNormalization to fold into `layer`, if it is the sole consumer of a linear foldable layer. */
function foldTarget(layer: tf.layers.Layer, consumers: Map<number, tf.layers.Layer[]>, outputId: number): tf.layers.Layer | undefined {
  const config = layer.getConfig();
  if (!foldableClasses.has(layer.getClassName()) || (config.activation ?? 'linear') !== 'linear') return undefined;
  const output = layer.output as tf.SymbolicTensor;
  const next = consumers.get(output.id);
  if (output.id === outputId || next?.length !== 1 || next[0].getClassName() !== 'BatchNormalization') return undefined;
  const axis = next[0].getConfig().axis as number;
  return axis === -1 || axis === output.rank - 1 ? next[0] : undefined;
}

/** ONNX dimensions of a Keras shape: the batch is symbolic. */
function onnxShape(shape: readonly (number | null)[]): (number | string)[] {
  return shape.map((size, i) => size ?? (i === 0 ? 'batch' : `dim${i}`));
}

/**
 * The serialized ONNX ModelProto. Throws InputError (from src/errors.ts) naming the layer (name
 * and class) when a layer cannot be exported; never writes anything.
 */
export function exportOnnx(model: tf.LayersModel, options: OnnxExportOptions = {}): Uint8Array {
  const source = options.source ?? `model '${model.name}'`;
  if (model.outputs.length !== 1) {
    throw new InputError(`${source}: only models with one output can be exported to ONNX; this one has ${model.outputs.length} outputs`);
  }
  const fail = (layer: tf.layers.Layer, reason: string): never => {
    throw new InputError(`${source}: layer '${layer.name}' (${layer.getClassName()}) cannot be exported to ONNX${reason}`);
  };
  // In topological order, as the model lists them.
  const layers = model.layers.filter((layer) => layer.getClassName() !== 'InputLayer');
  checkLayers(layers, fail);
  const consumers = consumersOf(layers);

  const [output] = model.outputs;
  const inputs = model.inputs.map((input) => exportedInput(input, options.layout ?? 'nhwc'));
  const graph = new OnnxGraphBuilder(options.quantize ?? 'none', [...inputs.map((input) => input.spec.name), onnxOutputName]);
  const values = new Map<number, GraphValue>(inputs.map(({ id, value }) => [id, value]));
  const foldedInto = new Set<tf.layers.Layer>();

  for (const layer of layers) {
    const layerInputs = asArray(layer.input).map((tensor) => values.get(tensor.id)!);
    const layerOutput = layer.output as tf.SymbolicTensor;
    if (foldedInto.has(layer)) {
      values.set(layerOutput.id, layerInputs[0]);
      continue;
    }
    const batchNorm = foldTarget(layer, consumers, output.id);
    if (batchNorm !== undefined) foldedInto.add(batchNorm);
    const convert = layerConverters[layer.getClassName()];
    values.set(
      layerOutput.id,
      convert({
        layer,
        config: layer.getConfig(),
        inputs: layerInputs,
        graph,
        fold: batchNorm && batchNormAffine(batchNorm),
        reject: (reason) => fail(layer, `: ${reason} is not supported`),
      }),
    );
  }

  graph.nameOutput(graph.inLayout(values.get(output.id)!, 'keras'), onnxOutputName);
  return encodeModel({
    inputs: inputs.map((input) => input.spec),
    outputs: [{ name: onnxOutputName, shape: onnxShape(output.shape) }],
    nodes: graph.nodes,
    initializers: graph.initializers,
  });
}

/**
 * One model input as the exported graph takes it, named as its input layer: images as float32
 * (NCHW with layout 'nchw'), token ids and masks (int32 in TensorFlow.js) as int64 [batch,
 * sequence], the type and the symbolic axes Hugging Face's exports have.
 */
function exportedInput(input: tf.SymbolicTensor, layout: OnnxLayout): { id: number; spec: SymbolicValueSpec; value: GraphValue } {
  const name = input.sourceLayer.name;
  const shape = onnxShape(input.shape);
  if (input.dtype === 'int32') {
    const dims = shape.map((size, axis) => (axis === 1 ? 'sequence' : size));
    return {
      id: input.id,
      spec: { name, shape: dims, dataType: tensorDataTypes.int64 },
      value: { rank: input.rank, names: { keras: name } },
    };
  }
  const channelsFirst = layout === 'nchw' && input.rank === 4;
  return {
    id: input.id,
    spec: { name, shape: channelsFirst ? [shape[0], shape[3], shape[1], shape[2]] : shape },
    value: { rank: input.rank, names: { [channelsFirst ? 'nchw' : 'keras']: name } },
  };
}

/**
 * exportOnnx with the weights read asynchronously first: for the GPU backends (webgl, webgpu) in a
 * page, where a synchronous read stalls the device and on WebGPU is not reliable. The same bytes.
 */
export function exportOnnxAsync(model: tf.LayersModel, options: OnnxExportOptions = {}): Promise<Uint8Array> {
  return withWeightsRead(model, () => exportOnnx(model, options));
}
