/**
 * Response-based knowledge distillation.
 * Hinton, Vinyals & Dean (2015), "Distilling the Knowledge in a Neural Network", arXiv:1503.02531.
 *
 *   kd = T² · KL(softmax(z_t / T) ‖ softmax(z_s / T))
 *
 * summed over classes and averaged over the batch. The T² factor keeps the gradient's scale
 * independent of T (the soft gradients shrink as 1/T²), as in the paper §2 and mdistiller.
 *
 * Config: `{method: kd, weight: 0.9, temperature: 4}`
 */
import { z } from 'zod';
import * as tf from '../engine/tf.js';
import type { DistillationMethod } from './method.js';

export interface KdOptions {
  /** Softmax temperature T > 0; larger T gives softer teacher distributions. */
  temperature: number;
}

export const kdDefaults: KdOptions = { temperature: 4 };

export function kdLoss(studentLogits: tf.Tensor, teacherLogits: tf.Tensor, options: KdOptions): tf.Scalar {
  const { temperature } = options;
  return tf.tidy(() => {
    const logStudent = tf.logSoftmax(tf.div(studentLogits, temperature));
    const logTeacher = tf.logSoftmax(tf.div(teacherLogits, temperature));
    const teacherProbs = tf.exp(logTeacher);
    const perSample = tf.sum(tf.mul(teacherProbs, tf.sub(logTeacher, logStudent)), -1);
    return tf.mul(tf.mean(perSample), temperature * temperature) as tf.Scalar;
  });
}

export const kd: DistillationMethod<KdOptions> = {
  name: 'kd',
  paper: 'Hinton et al. 2015, Distilling the Knowledge in a Neural Network',
  needsTeacher: true,
  options: z.strictObject({ temperature: z.number().positive().default(kdDefaults.temperature) }),
  build: (options) => (inputs) => kdLoss(inputs.studentLogits, inputs.teacherLogits!, options),
};
