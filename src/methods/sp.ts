/**
 * Similarity-preserving knowledge distillation.
 * Tung & Mori (2019), "Similarity-Preserving Knowledge Distillation", arXiv:1907.09682; as
 * RepDistiller's Similarity (distiller_zoo/SP.py).
 *
 *   G = row-normalize(F · Fᵀ), F each sample flattened ([batch, ·])
 *   sp = ‖G_t − G_s‖²_F / batch²
 *
 * Only batch × batch similarities are compared, so the features' shapes may differ.
 */
import * as tf from '../engine/tf.js';
import { assertBatchPair, flattenSamples, normalizeRows } from './features.js';
import { z } from 'zod';
import type { DistillationMethod, FeatureTermOptions } from './method.js';
import { featureTermFields } from './feature_options.js';

/** The row-normalized similarity matrix [batch, batch] of a batch of features. */
export function similarityMatrix(feature: tf.Tensor): tf.Tensor2D {
  return tf.tidy(() => {
    const flat = flattenSamples(feature);
    return normalizeRows(tf.matMul(flat, flat, false, true)) as tf.Tensor2D;
  });
}

export function spLoss(studentFeature: tf.Tensor, teacherFeature: tf.Tensor): tf.Scalar {
  assertBatchPair('sp', studentFeature, teacherFeature);
  const batch = studentFeature.shape[0]!;
  return tf.tidy(() =>
    tf.div(tf.sum(tf.squaredDifference(similarityMatrix(teacherFeature), similarityMatrix(studentFeature))), batch * batch),
  );
}

/** Config: `{method: sp, weight: 3000, student: penultimate, teacher: penultimate}`. */
export const sp: DistillationMethod<FeatureTermOptions> = {
  name: 'sp',
  paper: 'Tung & Mori 2019, Similarity-Preserving Knowledge Distillation',
  needsTeacher: true,
  features: 'batch',
  options: z.strictObject(featureTermFields),
  build: () => (inputs) => spLoss(inputs.studentFeature!, inputs.teacherFeature!),
};
