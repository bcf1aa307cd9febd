// A tiny two-input text model and a dataset of token ids and masks for it, with its logits
// computed by hand from the weights, for the tests of named inputs.
import * as tf from '../engine/tf.js';
import { memoryDataset, type Dataset, type InputField } from '../data/dataset.js';

export const LENGTH = 3;
const VOCAB = 5;
/** Row v of the embedding: token v's vector. */
const EMBEDDING = [
  [0, 1],
  [1, 0],
  [2, -1],
  [-1, 3],
  [0.5, 0.5],
];
/** Dense kernel [2, 2] and bias. */
const KERNEL = [
  [1, -1],
  [0.5, 2],
];
const BIAS = [0.1, -0.2];

export const TOKEN_FIELDS: InputField[] = [
  { name: 'input_ids', dtype: 'int32', shape: [LENGTH] },
  { name: 'attention_mask', dtype: 'int32', shape: [LENGTH] },
];

/**
 * input_ids → embedding → × attention_mask (per token) → mean over the LENGTH positions → dense 2.
 * Its inputs are declared mask first, the reverse of the dataset's fields, so only names pair them.
 */
export function textModel(name = 'text'): tf.LayersModel {
  const ids = tf.input({ name: 'input_ids', shape: [LENGTH], dtype: 'int32' });
  const mask = tf.input({ name: 'attention_mask', shape: [LENGTH], dtype: 'int32' });
  const embedded = tf.layers
    .embedding({ inputDim: VOCAB, outputDim: 2, weights: [tf.tensor2d(EMBEDDING)] })
    .apply(ids) as tf.SymbolicTensor;
  const perToken = tf.layers.reshape({ targetShape: [LENGTH, 1] }).apply(mask) as tf.SymbolicTensor;
  const masked = tf.layers.multiply().apply([embedded, perToken]) as tf.SymbolicTensor;
  const pooled = tf.layers.globalAveragePooling1d().apply(masked) as tf.SymbolicTensor;
  const logits = tf.layers.dense({ units: 2, weights: [tf.tensor2d(KERNEL), tf.tensor1d(BIAS)] }).apply(pooled) as tf.SymbolicTensor;
  return tf.model({ inputs: [mask, ids], outputs: logits, name });
}

/**
 * Five sequences; sample i attends to its first i % 3 + 1 tokens, and its padding positions hold
 * real token ids, which only the mask hides.
 */
export const TOKENS = {
  input_ids: Int32Array.from([1, 2, 3, 0, 3, 4, 2, 2, 2, 3, 4, 4, 1, 0, 2]),
  attention_mask: Int32Array.from([1, 0, 0, 1, 1, 0, 1, 1, 1, 1, 0, 0, 1, 1, 0]),
};

export function textDataset(name = 'text/test'): Dataset {
  return memoryDataset({
    name,
    inputs: TOKEN_FIELDS,
    values: TOKENS,
    labels: Int32Array.from([0, 1, 0, 1, 0]),
    numClasses: 2,
    classNames: ['neg', 'pos'],
  });
}

/** The model's logits for TOKENS, by hand: mean over positions of mask × embedding, then kernel and bias. */
export function expectedLogits(): number[] {
  const logits: number[] = [];
  for (let sample = 0; sample < TOKENS.attention_mask.length / LENGTH; sample++) {
    const pooled = [0, 0];
    for (let position = 0; position < LENGTH; position++) {
      const k = sample * LENGTH + position;
      for (let d = 0; d < 2; d++) pooled[d] += (TOKENS.attention_mask[k] * EMBEDDING[TOKENS.input_ids[k]][d]) / LENGTH;
    }
    for (let c = 0; c < 2; c++) logits.push(pooled[0] * KERNEL[0][c] + pooled[1] * KERNEL[1][c] + BIAS[c]);
  }
  return logits;
}
