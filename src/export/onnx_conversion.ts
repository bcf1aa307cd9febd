/** What a layer converter (onnx_layers.ts, onnx_text_layers.ts) is given, and what it is. */
import type * as tf from '../engine/tf.js';
import type { GraphValue, OnnxGraphBuilder } from './onnx_graph.js';
import type { ChannelAffine } from './onnx_weights.js';

export interface LayerConversion {
  layer: tf.layers.Layer;
  config: tf.serialization.ConfigDict;
  inputs: GraphValue[];
  graph: OnnxGraphBuilder;
  /** A BatchNormalization that follows this layer, folded into its weights. */
  fold?: ChannelAffine;
  /** Throws the InputError for a config of this layer that cannot be exported. */
  reject(reason: string): never;
}

export type LayerConverter = (conversion: LayerConversion) => GraphValue;
