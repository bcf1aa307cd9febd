/**
 * Cross-entropy with the true (hard) labels: −mean_i log softmax(z_s)_i[y_i].
 * The hard-label term of Hinton et al. 2015, and the whole loss of the scratch baseline.
 *
 * Config: `{method: ce, weight: 0.1}`
 */
import { z } from 'zod';
import * as tf from '../engine/tf.js';
import type { DistillationMethod } from './method.js';

/**
 * The loss, with its gradient written out rather than traced: ∂ce/∂z = (softmax(z) − onehot(y)) / B.
 * The labels are integers and get no gradient.
 */
export function crossEntropyLoss(studentLogits: tf.Tensor, labels: tf.Tensor): tf.Scalar {
  const numClasses = studentLogits.shape[studentLogits.rank - 1]!;
  const samples = studentLogits.size / numClasses;
  const loss = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const [student, save] = args as [tf.Tensor, tf.GradSaveFunc];
    const targets = tf.oneHot(tf.cast(labels, 'int32') as tf.Tensor1D, numClasses);
    const logProbs = tf.logSoftmax(student);
    save([logProbs, targets]);
    return {
      value: tf.neg(tf.mean(tf.sum(tf.mul(targets, logProbs), -1))) as tf.Scalar,
      gradFunc: (dy: tf.Tensor, [savedLogProbs, savedTargets]: tf.Tensor[]) =>
        tf.mul(tf.sub(tf.exp(savedLogProbs), savedTargets), tf.div(dy, samples)),
    };
  });
  return loss(studentLogits) as tf.Scalar;
}

export type CeOptions = Record<string, never>;

export const ce: DistillationMethod<CeOptions> = {
  name: 'ce',
  paper: 'standard softmax cross-entropy with hard labels',
  needsTeacher: false,
  options: z.strictObject({}),
  build: () => (inputs) => crossEntropyLoss(inputs.studentLogits, inputs.labels),
};
