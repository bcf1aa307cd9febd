/**
 * Hint learning: feature-map regression.
 * Romero et al. (2015), "FitNets: Hints for Thin Deep Nets", arXiv:1412.6550; as RepDistiller's
 * HintLoss (nn.MSELoss()).
 *
 *   hint = mean over all elements of (F_s − F_t)²
 *
 * The student feature is taken after its adapter (a trainable projection to the teacher's shape).
 */
import * as tf from '../engine/tf.js';
import { assertBatchPair } from './features.js';
import { z } from 'zod';
import type { DistillationMethod, FeatureTermOptions } from './method.js';
import { featureTermFields } from './feature_options.js';

export function hintLoss(studentFeature: tf.Tensor, teacherFeature: tf.Tensor): tf.Scalar {
  assertBatchPair('hint', studentFeature, teacherFeature, 1);
  if (!tf.util.arraysEqual(studentFeature.shape, teacherFeature.shape)) {
    throw new Error(
      `hint: student feature [${studentFeature.shape.join(', ')}] and teacher feature ` +
        `[${teacherFeature.shape.join(', ')}] differ in shape; an adapter must map one onto the other`,
    );
  }
  return tf.tidy(() => tf.mean(tf.squaredDifference(studentFeature, teacherFeature)));
}

/** Config: `{method: hint, weight: 1, student: dense_1, teacher: dense_1, adapter: auto}`. */
export const hint: DistillationMethod<FeatureTermOptions> = {
  name: 'hint',
  paper: 'Romero et al. 2015, FitNets: Hints for Thin Deep Nets',
  needsTeacher: true,
  features: 'same-shape',
  options: z.strictObject(featureTermFields),
  build: () => (inputs) => hintLoss(inputs.studentFeature!, inputs.teacherFeature!),
};
