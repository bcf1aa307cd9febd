/**
 * Cross-entropy with the true (hard) labels: −mean_i log softmax(z_s)_i[y_i].
 * The hard-label term of Hinton et al. 2015, and the whole loss of the scratch baseline.
 *
 * Config: `{method: ce, weight: 0.1}`
 */
import { z } from 'zod';
import * as tf from '../engine/tf.js';
import { mathOnHost } from '../engine/placement.js';
import { logSoftmaxRows } from './logits.js';
import type { DistillationMethod } from './method.js';

/**
 * The loss and its gradient, computed together in float64 on the host (see logits.ts):
 * ∂ce/∂z = (softmax(z) − onehot(y)) / B. The labels are integers and get no gradient.
 */
export function crossEntropyLoss(studentLogits: tf.Tensor, labels: tf.Tensor): tf.Scalar {
  const shape = studentLogits.shape;
  const classes = shape[shape.length - 1]!;
  if (!mathOnHost()) return crossEntropyOnDevice(studentLogits, labels, classes);
  const loss = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const [student, save] = args as [tf.Tensor, tf.GradSaveFunc];
    const logProbs = logSoftmaxRows(student.dataSync(), classes);
    const targets = labels.dataSync();
    const samples = logProbs.length / classes;
    const gradient = new Float32Array(logProbs.length);
    let total = 0;
    for (let row = 0; row < samples; row++) {
      const start = row * classes;
      if (!(targets[row] >= 0 && targets[row] < classes)) {
        throw new Error(`ce: label ${targets[row]} of sample ${row} is not a class index in 0..${classes - 1}`);
      }
      const target = start + targets[row];
      total -= logProbs[target];
      for (let i = start; i < start + classes; i++) gradient[i] = (Math.exp(logProbs[i]) - (i === target ? 1 : 0)) / samples;
    }
    save([tf.tensor(gradient, shape)]);
    return {
      value: tf.scalar(total / samples),
      gradFunc: (dy: tf.Tensor, [dStudent]: tf.Tensor[]) => tf.mul(dStudent, dy),
    };
  });
  return loss(studentLogits) as tf.Scalar;
}

/**
 * The same loss as tensor ops, for GPU backends (engine/placement.ts). distill() has checked the
 * labels once (each a class index, for a Dataset too), which this path cannot do per step
 * without reading them back; a label out of range would add nothing here, silently.
 */
function crossEntropyOnDevice(studentLogits: tf.Tensor, labels: tf.Tensor, classes: number): tf.Scalar {
  return tf.tidy(() => {
    const picked = tf.sum(tf.mul(tf.logSoftmax(studentLogits), tf.oneHot(tf.cast(labels, 'int32'), classes)), -1);
    return tf.neg(tf.mean(picked)) as tf.Scalar;
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
