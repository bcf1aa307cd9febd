/**
 * MiniLM's self-attention relation distillation (MiniLMv2): the student's token-to-token relations
 * of its queries (or keys, or values) match the teacher's, whatever the two models' widths and
 * head counts. Wang et al. (2021), "MiniLMv2: Multi-Head Self-Attention Relation Distillation for
 * Compressing Pretrained Transformers", arXiv:2012.15828, eqs. 3–5. The authors published no
 * training code; the reduction follows PaddleNLP's MiniLMv2 recipe (paddlenlp/transformers/
 * distill_utils.py calc_minilm_loss), see scripts/make_text_kd_fixture.py:
 *
 *   X [batch, sequence, width] split into A relation heads of width d = width / A
 *   R = softmax(X_a · X_aᵀ / √d + (1 − mask) · (−1e9))        per head a, over keys
 *   minilm = Σ over batch, heads, queries, keys of R_t · (log R_t − log R_s)  ÷  (A · sequence · batch)
 *
 * Padded queries count (a pad token's query still attends to the real keys); padded keys are
 * excluded by the mask. One term is one relation: MiniLMv2 sums three, query–query, key–key and
 * value–value of one layer (kdkit's `layer_{i}.query`, `.key`, `.value`; a teacher exports its
 * projections as outputs), so a config lists three terms.
 *
 * Config: `{method: minilm, weight: 1, student: layer_2.query, teacher: layer_4.query, relationHeads: 4}`.
 */
import { z } from 'zod';
import * as tf from '../engine/tf.js';
import { InputError } from '../errors.js';
import { featureTermFields } from './feature_options.js';
import { assertBatchPair } from './features.js';
import type { DistillationMethod, FeatureTermOptions } from './method.js';

/** Added to the relation logits of padded keys (PaddleNLP's value; −10000 gives the same result in float32). */
const MASKED_RELATION = -1e9;

export interface MiniLmOptions extends FeatureTermOptions {
  /** A: how many heads each side's vectors are split into; both widths must divide by it. */
  relationHeads: number;
}

/** log R for X [batch, sequence, width], [batch, heads, sequence, sequence]. */
function logRelations(x: tf.Tensor, heads: number, maskPenalty: tf.Tensor | null): tf.Tensor4D {
  const [batch, sequence, width] = x.shape as [number, number, number];
  const size = width / heads;
  const split = tf.transpose(tf.reshape(x, [batch, sequence, heads, size]), [0, 2, 1, 3]) as tf.Tensor4D;
  let logits: tf.Tensor = tf.div(tf.matMul(split, split, false, true), Math.sqrt(size));
  if (maskPenalty) logits = tf.add(logits, maskPenalty);
  return tf.logSoftmax(logits) as tf.Tensor4D;
}

export function miniLmLoss(student: tf.Tensor, teacher: tf.Tensor, relationHeads: number, attentionMask?: tf.Tensor2D): tf.Scalar {
  assertBatchPair('minilm', student, teacher, 3);
  if (student.rank !== 3 || teacher.rank !== 3 || student.shape[1] !== teacher.shape[1]) {
    throw new Error(
      `minilm: needs token vectors [batch, sequence, width] of one length, got student [${student.shape.join(', ')}] and teacher [${teacher.shape.join(', ')}]`,
    );
  }
  return tf.tidy(() => {
    const [batch, sequence] = student.shape as [number, number];
    const penalty = attentionMask
      ? tf.reshape(tf.mul(tf.sub(1, tf.cast(attentionMask, 'float32')), MASKED_RELATION), [batch, 1, 1, sequence])
      : null;
    const logTeacher = logRelations(teacher, relationHeads, penalty);
    const logStudent = logRelations(student, relationHeads, penalty);
    const divergence = tf.sum(tf.mul(tf.exp(logTeacher), tf.sub(logTeacher, logStudent)));
    return tf.div(divergence, relationHeads * sequence * batch) as tf.Scalar;
  });
}

export const minilm: DistillationMethod<MiniLmOptions> = {
  name: 'minilm',
  paper: 'Wang et al. 2021, MiniLMv2: Multi-Head Self-Attention Relation Distillation for Compressing Pretrained Transformers',
  needsTeacher: true,
  // Relations are sequence × sequence on both sides, whatever the widths: no adapter.
  features: 'batch',
  options: z.strictObject({ ...featureTermFields, relationHeads: z.number().int().positive().default(1) }),
  build: (options, context) => {
    const { studentShape, teacherShape } = context ?? {};
    if (studentShape && teacherShape) {
      const widths = `student [${studentShape.join(', ')}], teacher [${teacherShape.join(', ')}]`;
      if (studentShape.length !== 2 || teacherShape.length !== 2 || studentShape[0] !== teacherShape[0]) {
        throw new InputError(`minilm: tap token vectors [sequence, width] of the same length (queries, keys or values); got ${widths}`);
      }
      if (studentShape[1] % options.relationHeads !== 0 || teacherShape[1] % options.relationHeads !== 0) {
        throw new InputError(`minilm: relationHeads ${options.relationHeads} must divide both widths (${widths})`);
      }
    }
    return (inputs) => {
      const teacher = inputs.teacherFeature!;
      return miniLmLoss(inputs.studentFeature!, teacher, options.relationHeads, inputs.attentionMask);
    };
  },
};
