/**
 * Cross-entropy with the true (hard) labels: −mean_i log softmax(z_s)_i[y_i].
 * The hard-label term of Hinton et al. 2015, and the whole loss of the scratch baseline.
 *
 * Config: `{method: ce, weight: 0.1}`
 */
import { z } from 'zod';
import * as tf from '../engine/tf.js';
import type { DistillationMethod } from './method.js';

export function crossEntropyLoss(studentLogits: tf.Tensor, labels: tf.Tensor): tf.Scalar {
  return tf.tidy(() => {
    const numClasses = studentLogits.shape[studentLogits.rank - 1]!;
    const targets = tf.oneHot(tf.cast(labels, 'int32') as tf.Tensor1D, numClasses);
    const perSample = tf.neg(tf.sum(tf.mul(targets, tf.logSoftmax(studentLogits)), -1));
    return tf.mean(perSample) as tf.Scalar;
  });
}

export type CeOptions = Record<string, never>;

export const ce: DistillationMethod<CeOptions> = {
  name: 'ce',
  paper: 'standard softmax cross-entropy with hard labels',
  needsTeacher: false,
  options: z.strictObject({}),
  build: () => (inputs) => crossEntropyLoss(inputs.studentLogits, inputs.labels),
};
