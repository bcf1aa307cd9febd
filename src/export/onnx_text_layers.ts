/**
 * Converters for the layers of kdkit's text models (models/text/): token embeddings, layer
 * normalization and the attention layers, each written with the ONNX ops that compute what the
 * TensorFlow.js layer computes (opset 17: LayerNormalization is a standard op there).
 *
 * The exported graph takes token ids and the attention mask as int64 with symbolic 'batch' and
 * 'sequence' dimensions, as Hugging Face's exports do, so nothing here fixes the sequence length:
 * position embeddings are sliced to the input's length, and reshapes copy the dimensions they
 * keep (Reshape's 0). A sequence longer than the position table fails in ONNX Runtime, as the
 * TensorFlow.js model refuses it; the tokenizer's truncation keeps inputs within it.
 */
import type * as tf from '../engine/tf.js';
import { MASKED_SCORE } from '../models/text/layers.js';
import { tensorDataTypes } from '../engine/ort/onnx_model.js';
import type { GraphValue, OnnxGraphBuilder } from './onnx_graph.js';
import type { LayerConversion, LayerConverter } from './onnx_conversion.js';
import { layerWeight } from './onnx_weights.js';

const keras = (rank: number, name: string): GraphValue => ({ rank, names: { keras: name } });

/** The layer's only (or first) input, by its ONNX name. */
const first = ({ inputs, graph }: LayerConversion) => graph.inLayout(inputs[0], 'keras');

/** A mask of 0/1 (int64 or float) as float32 [batch, sequence]. */
function floatMask(graph: OnnxGraphBuilder, mask: string, hint: string): string {
  return graph.node('Cast', [mask], `${hint}_mask`, { to: { int: tensorDataTypes.float32 } });
}

/** Embedding: a row of the table per token id (Gather accepts int64 ids as they come). */
const embedding: LayerConverter = (conversion) => {
  const { layer, config, graph, inputs, reject } = conversion;
  if (config.maskZero === true) reject('maskZero: true');
  const table = layerWeight(layer, 'embeddings')!;
  // uint8 scales per row: each token's vector is quantized on its own range.
  const weights = graph.weight(`${layer.name}/embeddings`, table.data, table.shape, 0);
  return keras(inputs[0].rank + 1, graph.node('Gather', [weights, first(conversion)], layer.name, { axis: { int: 0 } }));
};

/** LayerNormalization over the last axis: ONNX's LayerNormalization-17 with the same ε. */
const layerNormalization: LayerConverter = (conversion) => {
  const { layer, config, graph, inputs, reject } = conversion;
  const axis = Array.isArray(config.axis) ? config.axis : [config.axis];
  if (axis.length !== 1 || (axis[0] !== -1 && axis[0] !== inputs[0].rank - 1)) reject(`axis ${JSON.stringify(config.axis)} (only -1)`);
  const width = (layer.input as tf.SymbolicTensor).shape.at(-1)!;
  const gamma = layerWeight(layer, 'gamma')?.data ?? new Float32Array(width).fill(1);
  const beta = layerWeight(layer, 'beta')?.data ?? new Float32Array(width);
  const output = graph.node(
    'LayerNormalization',
    [first(conversion), graph.constant(`${layer.name}/gamma`, gamma, [width]), graph.constant(`${layer.name}/beta`, beta, [width])],
    layer.name,
    { axis: { int: -1 }, epsilon: { float: config.epsilon as number } },
  );
  return keras(inputs[0].rank, output);
};

/** x + table[0 : sequence], the sequence length read from x. */
const positionEmbedding: LayerConverter = (conversion) => {
  const { layer, graph } = conversion;
  const table = layerWeight(layer, 'embeddings')!;
  const x = first(conversion);
  const length = graph.node('Shape', [x], `${layer.name}_length`, { start: { int: 1 }, end: { int: 2 } });
  const rows = graph.node(
    'Slice',
    [graph.weight(`${layer.name}/embeddings`, table.data, table.shape, 0), graph.int64Constant(`${layer.name}/start`, [0]), length],
    `${layer.name}_rows`,
  );
  return keras(3, graph.node('Add', [x, rows], layer.name));
};

/** [batch, sequence, hidden] → [batch, heads, sequence, hidden / heads]. */
const splitHeads: LayerConverter = (conversion) => {
  const { layer, config, graph } = conversion;
  const shape = graph.int64Constant(`${layer.name}/shape`, [0, 0, config.heads as number, -1]);
  const split = graph.node('Reshape', [first(conversion), shape], `${layer.name}_split`);
  return keras(4, graph.node('Transpose', [split], layer.name, { perm: { ints: [0, 2, 1, 3] } }));
};

/** Q·Kᵀ / √size + (1 − mask)·(−10000), the mask broadcast over heads and queries. */
const attentionScores: LayerConverter = ({ layer, graph, inputs }) => {
  const [queries, keys, mask] = inputs.map((value) => graph.inLayout(value, 'keras'));
  const size = (layer.input as tf.SymbolicTensor[])[0].shape[3]!;
  const transposed = graph.node('Transpose', [keys], `${layer.name}_keys`, { perm: { ints: [0, 1, 3, 2] } });
  const products = graph.node('MatMul', [queries, transposed], `${layer.name}_products`);
  const scaled = graph.node(
    'Div',
    [products, graph.constant(`${layer.name}/scale`, Float32Array.of(Math.sqrt(size)), [])],
    `${layer.name}_scaled`,
  );
  const dropped = graph.node(
    'Sub',
    [graph.constant(`${layer.name}/one`, Float32Array.of(1), []), floatMask(graph, mask, layer.name)],
    `${layer.name}_dropped`,
  );
  const penalty = graph.node(
    'Mul',
    [dropped, graph.constant(`${layer.name}/masked`, Float32Array.of(MASKED_SCORE), [])],
    `${layer.name}_penalty`,
  );
  const broadcast = graph.node('Unsqueeze', [penalty, graph.int64Constant(`${layer.name}/axes`, [1, 2])], `${layer.name}_penalty4d`);
  return keras(4, graph.node('Add', [scaled, broadcast], layer.name));
};

/** softmax(scores)·V with the heads merged back: [batch, sequence, heads · size]. */
const attentionContext: LayerConverter = ({ layer, graph, inputs }) => {
  const [scores, values] = inputs.map((value) => graph.inLayout(value, 'keras'));
  const probabilities = graph.node('Softmax', [scores], `${layer.name}_probabilities`, { axis: { int: -1 } });
  const context = graph.node('MatMul', [probabilities, values], `${layer.name}_heads`);
  const merged = graph.node('Transpose', [context], `${layer.name}_merged`, { perm: { ints: [0, 2, 1, 3] } });
  const width = (layer.output as tf.SymbolicTensor).shape[2]!;
  return keras(3, graph.node('Reshape', [merged, graph.int64Constant(`${layer.name}/shape`, [0, 0, width])], layer.name));
};

/** x[:, 0, :]. */
const firstToken: LayerConverter = (conversion) => {
  const { layer, graph } = conversion;
  const gathered = graph.node('Gather', [first(conversion), graph.int64Constant(`${layer.name}/index`, [0])], `${layer.name}_gathered`, {
    axis: { int: 1 },
  });
  return keras(2, graph.node('Flatten', [gathered], layer.name, { axis: { int: 1 } }));
};

/** Σ x·mask / max(Σ mask, 1) over the sequence. */
const maskedMean: LayerConverter = ({ layer, graph, inputs }) => {
  const [x, mask] = inputs.map((value) => graph.inLayout(value, 'keras'));
  const weights = graph.node(
    'Unsqueeze',
    [floatMask(graph, mask, layer.name), graph.int64Constant(`${layer.name}/axes`, [2])],
    `${layer.name}_weights`,
  );
  const sequenceAxis = graph.int64Constant(`${layer.name}/sequence_axis`, [1]);
  const total = graph.node('ReduceSum', [graph.node('Mul', [x, weights], `${layer.name}_weighted`), sequenceAxis], `${layer.name}_total`, {
    keepdims: { int: 0 },
  });
  const count = graph.node('ReduceSum', [weights, sequenceAxis], `${layer.name}_count`, { keepdims: { int: 0 } });
  const floor = graph.node('Max', [count, graph.constant(`${layer.name}/one`, Float32Array.of(1), [])], `${layer.name}_floor`);
  return keras(2, graph.node('Div', [total, floor], layer.name));
};

export const textLayerConverters: Readonly<Record<string, LayerConverter>> = {
  Embedding: embedding,
  LayerNormalization: layerNormalization,
  KdkitPositionEmbedding: positionEmbedding,
  KdkitSplitHeads: splitHeads,
  KdkitAttentionScores: attentionScores,
  KdkitAttentionContext: attentionContext,
  KdkitFirstToken: firstToken,
  KdkitMaskedMean: maskedMean,
};
