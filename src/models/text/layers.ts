/**
 * The layers a BERT-style encoder needs that tfjs-layers 4.22 does not export (it has `embedding`,
 * `dense` and `layerNormalization`, not its MultiHeadAttention). Attention is split into small
 * layers so that its parts can be tapped by name, as TinyBERT and MiniLM read them:
 *
 *   heads = SplitHeads(X·W + b)                    [batch, heads, sequence, head size]
 *   scores = Q·Kᵀ / √head size + (1 − mask)·(−10000)  AttentionScores, pre-softmax (TinyBERT's)
 *   context = merge heads(softmax(scores)·V)       AttentionContext
 *
 * Every layer takes the sequence length from its input, so one model runs any length up to the
 * position table's. They are registered for `model.json` by `registerTextLayers()`, which kdkit
 * calls before it builds or loads a text model; a page loading an exported model calls it too.
 */
import * as tf from '../../engine/tf.js';
import { dropout } from '../../engine/dropout_op.js';

/** Added to the scores of padded keys, as BERT and TinyBERT do, so that softmax gives them ~0. */
export const MASKED_SCORE = -10000;

type Kwargs = Record<string, unknown>;
type Initializer = ReturnType<typeof tf.initializers.truncatedNormal>;
type Shape = tf.Shape;

function single(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
  return Array.isArray(inputs) ? inputs[0] : inputs;
}

/** Adds a learned embedding of each position to [batch, sequence, hidden]. */
export class PositionEmbedding extends tf.layers.Layer {
  static className = 'KdkitPositionEmbedding';
  readonly maxLength: number;
  /** Used once, when the table is made; a model loaded from model.json gets its weights instead. */
  private readonly initializer: Initializer;
  private table?: tf.LayerVariable;

  constructor(args: { maxLength: number; initializer?: Initializer; name?: string }) {
    super({ name: args.name });
    this.maxLength = args.maxLength;
    this.initializer = args.initializer ?? tf.initializers.truncatedNormal({ stddev: 0.02 });
  }

  override build(inputShape: Shape | Shape[]): void {
    const shape = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as Shape;
    this.table = this.addWeight('embeddings', [this.maxLength, shape[2]!], 'float32', this.initializer);
    this.built = true;
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const x = single(inputs);
      const [, sequence, hidden] = x.shape;
      if (sequence! > this.maxLength) {
        throw new Error(`${this.name}: a sequence of ${sequence} tokens, longer than the ${this.maxLength} positions it has`);
      }
      return tf.add(x, tf.slice(this.table!.read(), [0, 0], [sequence!, hidden!]));
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), maxLength: this.maxLength };
  }
}

/** [batch, sequence, heads · size] → [batch, heads, sequence, size]. */
export class SplitHeads extends tf.layers.Layer {
  static className = 'KdkitSplitHeads';
  readonly heads: number;

  constructor(args: { heads: number; name?: string }) {
    super({ name: args.name });
    this.heads = args.heads;
  }

  override computeOutputShape(inputShape: Shape | Shape[]): Shape {
    const [batch, sequence, hidden] = inputShape as Shape;
    return [batch, this.heads, sequence, hidden === null ? null : hidden / this.heads];
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const x = single(inputs);
      const [batch, sequence, hidden] = x.shape;
      return tf.transpose(tf.reshape(x, [batch!, sequence!, this.heads, hidden! / this.heads]), [0, 2, 1, 3]);
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), heads: this.heads };
  }
}

/** [queries, keys, attention_mask] → Q·Kᵀ / √size + (1 − mask)·(−10000), [batch, heads, sequence, sequence]. */
export class AttentionScores extends tf.layers.Layer {
  static className = 'KdkitAttentionScores';

  override computeOutputShape(inputShape: Shape | Shape[]): Shape {
    const [queries] = inputShape as Shape[];
    return [queries[0], queries[1], queries[2], queries[2]];
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const [queries, keys, mask] = inputs as tf.Tensor[];
      const size = queries.shape[3]!;
      const scores = tf.div(tf.matMul(queries as tf.Tensor4D, keys as tf.Tensor4D, false, true), Math.sqrt(size));
      const [batch, sequence] = mask.shape;
      const masked = tf.mul(tf.sub(1, tf.cast(mask, 'float32')), MASKED_SCORE);
      return tf.add(scores, tf.reshape(masked, [batch!, 1, 1, sequence!]));
    });
  }
}

/** [scores, values] → softmax(scores)·V with the heads merged back, [batch, sequence, hidden]; dropout on the probabilities while training. */
export class AttentionContext extends tf.layers.Layer {
  static className = 'KdkitAttentionContext';
  readonly rate: number;

  constructor(args: { rate?: number; name?: string }) {
    super({ name: args.name });
    this.rate = args.rate ?? 0;
  }

  override computeOutputShape(inputShape: Shape | Shape[]): Shape {
    const [, values] = inputShape as Shape[];
    return [values[0], values[2], values[1] === null || values[3] === null ? null : values[1] * values[3]];
  }

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: Kwargs): tf.Tensor {
    return tf.tidy(() => {
      const [scores, values] = inputs as tf.Tensor4D[];
      let probabilities: tf.Tensor4D = tf.softmax(scores);
      if (kwargs.training === true && this.rate > 0) probabilities = dropout(probabilities, this.rate) as tf.Tensor4D;
      const [batch, heads, sequence, size] = values.shape;
      const context = tf.matMul(probabilities, values);
      return tf.reshape(tf.transpose(context, [0, 2, 1, 3]), [batch, sequence, heads * size]);
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), rate: this.rate };
  }
}

/** The first token's vector, [batch, sequence, hidden] → [batch, hidden] (BERT's [CLS]). */
export class FirstToken extends tf.layers.Layer {
  static className = 'KdkitFirstToken';

  override computeOutputShape(inputShape: Shape | Shape[]): Shape {
    const [batch, , hidden] = inputShape as Shape;
    return [batch, hidden];
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const x = single(inputs);
      const [batch, , hidden] = x.shape;
      return tf.reshape(tf.slice(x, [0, 0, 0], [batch!, 1, hidden!]), [batch!, hidden!]);
    });
  }
}

/** [x, attention_mask] → the mean of x over the tokens the mask keeps, [batch, hidden]. */
export class MaskedMean extends tf.layers.Layer {
  static className = 'KdkitMaskedMean';

  override computeOutputShape(inputShape: Shape | Shape[]): Shape {
    const [batch, , hidden] = (inputShape as Shape[])[0];
    return [batch, hidden];
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const [x, mask] = inputs as tf.Tensor[];
      const weights = tf.expandDims(tf.cast(mask, 'float32'), 2);
      // A row with no token kept (all padding) averages to 0, not NaN.
      return tf.div(tf.sum(tf.mul(x, weights), 1), tf.maximum(tf.sum(weights, 1), 1));
    });
  }
}

const TEXT_LAYERS = [PositionEmbedding, SplitHeads, AttentionScores, AttentionContext, FirstToken, MaskedMean];

/** Registers the text layers for `model.json` (de)serialization; calling it again does nothing. */
export function registerTextLayers(): void {
  const known = tf.serialization.SerializationMap.getMap().classNameMap;
  for (const layer of TEXT_LAYERS) {
    if (!Object.hasOwn(known, layer.className))
      tf.serialization.registerClass(layer as unknown as tf.serialization.SerializableConstructor<tf.layers.Layer>);
  }
}
