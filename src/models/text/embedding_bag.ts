/**
 * The smallest text student: each token's embedding, averaged over the tokens the attention mask
 * keeps (fastText's bag of words; Joulin et al. 2017, arXiv:1607.01759), then optional dense ReLU
 * layers and the logits. Layers: `word_embeddings`, `pooled` (the mean), `dense_{i}`, `logits`.
 */
import * as tf from '../../engine/tf.js';
import { MaskedMean, registerTextLayers } from './layers.js';
import type { TextModelOptions } from './transformer.js';

export interface EmbeddingBagSpec {
  dimensions: number;
  hidden: number[];
  dropout: number;
}

export function buildEmbeddingBag(spec: EmbeddingBagSpec, options: TextModelOptions): tf.LayersModel {
  registerTextLayers();
  let weightIndex = 0;
  const seed = () => options.seed * 1000 + ++weightIndex;
  const inputIds = tf.input({ shape: [options.maxLength], dtype: 'int32', name: 'input_ids' });
  const attentionMask = tf.input({ shape: [options.maxLength], dtype: 'int32', name: 'attention_mask' });
  const embedded = tf.layers
    .embedding({
      inputDim: options.vocabSize,
      outputDim: spec.dimensions,
      embeddingsInitializer: tf.initializers.randomUniform({ minval: -0.05, maxval: 0.05, seed: seed() }),
      name: 'word_embeddings',
    })
    .apply(inputIds) as tf.SymbolicTensor;
  let x = new MaskedMean({ name: 'pooled' }).apply([embedded, attentionMask]) as tf.SymbolicTensor;
  const dropout = (name: string) => {
    if (spec.dropout > 0) x = tf.layers.dropout({ rate: spec.dropout, name }).apply(x) as tf.SymbolicTensor;
  };
  const dense = (units: number, name: string, activation: 'relu' | 'linear') =>
    tf.layers.dense({
      units,
      activation,
      name,
      kernelInitializer: tf.initializers.glorotUniform({ seed: seed() }),
      biasInitializer: 'zeros',
    });
  spec.hidden.forEach((units, i) => {
    dropout(`dropout_${i + 1}`);
    x = dense(units, `dense_${i + 1}`, 'relu').apply(x) as tf.SymbolicTensor;
  });
  dropout('logits_dropout');
  const logits = dense(options.numClasses, 'logits', 'linear').apply(x) as tf.SymbolicTensor;
  return tf.model({ inputs: [inputIds, attentionMask], outputs: logits, name: options.name });
}

/** The weights `buildEmbeddingBag` makes. */
export function embeddingBagParameterCount(spec: EmbeddingBagSpec, options: Pick<TextModelOptions, 'vocabSize' | 'numClasses'>): number {
  let width = spec.dimensions;
  let params = options.vocabSize * width;
  for (const units of spec.hidden) {
    params += width * units + units;
    width = units;
  }
  return params + width * options.numClasses + options.numClasses;
}
