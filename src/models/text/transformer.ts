/**
 * A BERT-style encoder classifier (Devlin et al. 2019, arXiv:1810.04805), as Hugging Face's
 * BertForSequenceClassification computes it: token, position and (with token_type_ids) segment
 * embeddings, summed and layer-normalized; then per layer self-attention and a GELU feed-forward
 * block, each added to its input and layer-normalized (post-LN); then the [CLS] token through a
 * tanh pooler (`pooling: cls`) or the mean over unmasked tokens (`pooling: mean`), and the logits.
 * Weights start as BERT's: truncated normal (σ 0.02), zero biases, LayerNorm ε 1e-12.
 *
 * Layers are named for taps: `embeddings` (the normalized embeddings, TinyBERT's hidden state 0),
 * `layer_{i}.query|key|value` ([batch, heads, sequence, size] after SplitHeads: `_heads`),
 * `layer_{i}.attention_scores` (pre-softmax, masked, as TinyBERT reads them), `layer_{i}.hidden`
 * (the layer's output), `pooled`, `logits`; i counts from 1.
 */
import * as tf from '../../engine/tf.js';
import { InputError } from '../../errors.js';
import { AttentionContext, AttentionScores, FirstToken, MaskedMean, PositionEmbedding, registerTextLayers, SplitHeads } from './layers.js';

export interface TransformerSpec {
  /** Encoder layers. */
  layers: number;
  /** Width of the token vectors. */
  hidden: number;
  /** Attention heads; `hidden` must divide by it. */
  heads: number;
  /** Width of the feed-forward block. */
  intermediate: number;
  pooling: 'cls' | 'mean';
  /** Dropout on embeddings, attention probabilities and each block's output while training. */
  dropout: number;
}

export interface TextModelOptions {
  /** Token ids run from 0 to vocabSize − 1. */
  vocabSize: number;
  /** Tokens per sample: the position table's length. */
  maxLength: number;
  /** Whether the model takes token_type_ids (BERT's segments). */
  typeIds: boolean;
  numClasses: number;
  /** Seeds the initial weights. */
  seed: number;
  name: string;
  /** The config field the spec came from, for errors. */
  field?: string;
}

/** BERT's LayerNorm ε. */
const LAYER_NORM_EPSILON = 1e-12;
/** Segments BERT embeds (token_type_ids 0 and 1). */
const TYPE_VOCAB = 2;

export function buildTransformer(spec: TransformerSpec, options: TextModelOptions): tf.LayersModel {
  const field = options.field ?? 'model';
  if (spec.hidden % spec.heads !== 0) {
    throw new InputError(`${field}.heads: ${spec.heads} heads do not divide hidden ${spec.hidden}; each head takes hidden ÷ heads values`);
  }
  registerTextLayers();
  let weightIndex = 0;
  const initializer = () => tf.initializers.truncatedNormal({ stddev: 0.02, seed: options.seed * 1000 + ++weightIndex });
  const dense = (units: number, name: string, activation: 'linear' | 'gelu' | 'tanh' = 'linear') =>
    tf.layers.dense({ units, activation, name, kernelInitializer: initializer(), biasInitializer: 'zeros' });
  const layerNorm = (name: string) => tf.layers.layerNormalization({ epsilon: LAYER_NORM_EPSILON, name });
  const dropout = (x: tf.SymbolicTensor, name: string) =>
    spec.dropout > 0 ? (tf.layers.dropout({ rate: spec.dropout, name }).apply(x) as tf.SymbolicTensor) : x;
  const apply = (layer: tf.layers.Layer, x: tf.SymbolicTensor | tf.SymbolicTensor[]) => layer.apply(x) as tf.SymbolicTensor;

  const sequence = options.maxLength;
  const inputIds = tf.input({ shape: [sequence], dtype: 'int32', name: 'input_ids' });
  const attentionMask = tf.input({ shape: [sequence], dtype: 'int32', name: 'attention_mask' });
  const tokenTypeIds = options.typeIds ? tf.input({ shape: [sequence], dtype: 'int32', name: 'token_type_ids' }) : undefined;

  const embedding = (inputDim: number, name: string) =>
    tf.layers.embedding({ inputDim, outputDim: spec.hidden, embeddingsInitializer: initializer(), name });
  let x = apply(embedding(options.vocabSize, 'word_embeddings'), inputIds);
  if (tokenTypeIds)
    x = apply(tf.layers.add({ name: 'embeddings_sum' }), [x, apply(embedding(TYPE_VOCAB, 'token_type_embeddings'), tokenTypeIds)]);
  x = apply(new PositionEmbedding({ maxLength: sequence, initializer: initializer(), name: 'position_embeddings' }), x);
  x = dropout(apply(layerNorm('embeddings'), x), 'embeddings_dropout');

  for (let i = 1; i <= spec.layers; i++) {
    const prefix = `layer_${i}`;
    const heads = (role: string) =>
      apply(new SplitHeads({ heads: spec.heads, name: `${prefix}.${role}_heads` }), apply(dense(spec.hidden, `${prefix}.${role}`), x));
    const scores = apply(new AttentionScores({ name: `${prefix}.attention_scores` }), [heads('query'), heads('key'), attentionMask]);
    const context = apply(new AttentionContext({ rate: spec.dropout, name: `${prefix}.context` }), [scores, heads('value')]);
    const attended = dropout(apply(dense(spec.hidden, `${prefix}.attention_output`), context), `${prefix}.attention_dropout`);
    x = apply(layerNorm(`${prefix}.attention_norm`), apply(tf.layers.add({ name: `${prefix}.attention_residual` }), [attended, x]));
    const fed = dropout(
      apply(dense(spec.hidden, `${prefix}.output`), apply(dense(spec.intermediate, `${prefix}.intermediate`, 'gelu'), x)),
      `${prefix}.output_dropout`,
    );
    x = apply(layerNorm(`${prefix}.hidden`), apply(tf.layers.add({ name: `${prefix}.output_residual` }), [fed, x]));
  }

  const pooled =
    spec.pooling === 'cls'
      ? apply(dense(spec.hidden, 'pooler', 'tanh'), apply(new FirstToken({ name: 'first_token' }), x))
      : apply(new MaskedMean({ name: 'pooled' }), [x, attentionMask]);
  const logits = apply(dense(options.numClasses, 'logits'), dropout(pooled, 'pooled_dropout'));
  const inputs = tokenTypeIds ? [inputIds, attentionMask, tokenTypeIds] : [inputIds, attentionMask];
  return tf.model({ inputs, outputs: logits, name: options.name });
}

/** The weights `buildTransformer` makes. */
export function transformerParameterCount(
  spec: TransformerSpec,
  options: Pick<TextModelOptions, 'vocabSize' | 'maxLength' | 'typeIds' | 'numClasses'>,
): number {
  const { hidden, intermediate } = spec;
  const embeddings = (options.vocabSize + options.maxLength + (options.typeIds ? TYPE_VOCAB : 0)) * hidden + 2 * hidden;
  const attention = 4 * (hidden * hidden + hidden) + 2 * hidden;
  const feedForward = hidden * intermediate + intermediate + intermediate * hidden + hidden + 2 * hidden;
  const pooler = spec.pooling === 'cls' ? hidden * hidden + hidden : 0;
  return embeddings + spec.layers * (attention + feedForward) + pooler + hidden * options.numClasses + options.numClasses;
}
