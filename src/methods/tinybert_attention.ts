/**
 * TinyBERT's attention-based distillation: the student's attention scores regress onto the
 * teacher's. Jiao et al. (2020), "TinyBERT: Distilling BERT for Natural Language Understanding",
 * arXiv:1909.10351, eq. 7; as huawei-noah/Pretrained-Language-Model TinyBERT/task_distill.py:
 *
 *   a' = 0 where a ≤ −100, else a          (padded keys carry the mask's −10000: zeroed on both sides)
 *   att = mean over batch, heads, queries and keys of (a'_s − a'_t)²
 *
 * on the pre-softmax scores (kdkit's `layer_{i}.attention_scores`; a Hugging Face teacher exported
 * with its scores as outputs). Student and teacher need the same heads and sequence length. With
 * TinyBERT's uniform mapping (k = teacher layers ÷ student layers), student layer i (from 1) takes
 * teacher layer i·k; `layers: uniform` expands the term into those pairs (tinybert_layers.ts).
 *
 * Config: `{method: tinybert-attention, weight: 1, student: layer_1.attention_scores, teacher: layer_2.attention_scores}`,
 * or `{method: tinybert-attention, weight: 1, layers: uniform}`, or `layers: [[1, 2], [2, 4]]`.
 */
import { z } from 'zod';
import * as tf from '../engine/tf.js';
import { InputError } from '../errors.js';
import { assertBatchPair } from './features.js';
import type { DistillationMethod } from './method.js';
import { layeredTermSchema, type LayeredTermOptions } from './tinybert_layers.js';

/** Scores at or below this are masked positions (TinyBERT's threshold). */
export const MASKED_SCORE_THRESHOLD = -100;

/** The loss; its gradient reaches the student's scores (2 · (a'_s − a'_t) / N where kept, 0 where masked). */
export function tinybertAttentionLoss(studentScores: tf.Tensor, teacherScores: tf.Tensor): tf.Scalar {
  assertBatchPair('tinybert-attention', studentScores, teacherScores, 4);
  if (!tf.util.arraysEqual(studentScores.shape, teacherScores.shape)) {
    throw new Error(
      `tinybert-attention: student scores [${studentScores.shape.join(', ')}] and teacher scores [${teacherScores.shape.join(', ')}] differ; ` +
        'tap layers with the same number of heads and the same sequence length',
    );
  }
  // Written with its gradient: the kept-entry mask comes from a comparison, which TensorFlow.js
  // cannot differentiate through.
  const loss = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const [student, teacher, save] = args as [tf.Tensor, tf.Tensor, tf.GradSaveFunc];
    const kept = tf.cast(tf.greater(student, MASKED_SCORE_THRESHOLD), 'float32');
    const difference = tf.sub(tf.mul(student, kept), tf.mul(teacher, tf.cast(tf.greater(teacher, MASKED_SCORE_THRESHOLD), 'float32')));
    save([difference, kept]);
    return {
      value: tf.mean(tf.square(difference)) as tf.Scalar,
      gradFunc: (dy: tf.Tensor, [saved, keep]: tf.Tensor[]) => {
        const scale = tf.mul(dy, 2 / saved.size);
        return [tf.mul(tf.mul(saved, keep), scale), tf.mul(saved, tf.neg(scale))];
      },
    };
  });
  return loss(studentScores, teacherScores) as tf.Scalar;
}

export const tinybertAttention: DistillationMethod<LayeredTermOptions> = {
  name: 'tinybert-attention',
  paper: 'Jiao et al. 2020, TinyBERT: Distilling BERT for Natural Language Understanding',
  needsTeacher: true,
  // Scores are compared as they are: no adapter can map one attention pattern onto another.
  features: 'batch',
  options: layeredTermSchema(z.literal('none').default('none')),
  build: (_options, context) => {
    const { studentShape, teacherShape } = context ?? {};
    if (studentShape && teacherShape && !tf.util.arraysEqual([...studentShape], [...teacherShape])) {
      throw new InputError(
        `tinybert-attention: the student's scores [${studentShape.join(', ')}] and the teacher's [${teacherShape.join(', ')}] differ in shape; ` +
          'tap attention_scores of layers with the same number of heads, on the same sequence length',
      );
    }
    return (inputs) => tinybertAttentionLoss(inputs.studentFeature!, inputs.teacherFeature!);
  },
};
