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

/**
 * The loss, with its gradient written out rather than traced through the ops (half the kernels
 * of a small model's training step went to the loss's traced backward pass). With p = softmax(·/T)
 * and B samples:
 *   ∂kd/∂z_s = T · (p_s − p_t) / B
 *   ∂kd/∂z_t = T · p_t ⊙ (log p_t − log p_s − KL) / B,   KL the sample's divergence.
 */
export function kdLoss(studentLogits: tf.Tensor, teacherLogits: tf.Tensor, options: KdOptions): tf.Scalar {
  const { temperature } = options;
  const samples = studentLogits.size / studentLogits.shape[studentLogits.rank - 1]!;
  const loss = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const [student, teacher, save] = args as [tf.Tensor, tf.Tensor, tf.GradSaveFunc];
    const logStudent = tf.logSoftmax(tf.div(student, temperature));
    const logTeacher = tf.logSoftmax(tf.div(teacher, temperature));
    const teacherProbs = tf.exp(logTeacher);
    const gap = tf.sub(logTeacher, logStudent);
    const divergence = tf.sum(tf.mul(teacherProbs, gap), -1, true);
    save([logStudent, teacherProbs, gap, divergence]);
    return {
      value: tf.mul(tf.mean(divergence), temperature * temperature) as tf.Scalar,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [savedLogStudent, savedTeacherProbs, savedGap, savedDivergence] = saved;
        const scale = tf.mul(dy, temperature / samples);
        return [
          tf.mul(tf.sub(tf.exp(savedLogStudent), savedTeacherProbs), scale),
          tf.mul(tf.mul(savedTeacherProbs, tf.sub(savedGap, savedDivergence)), scale),
        ];
      },
    };
  });
  return loss(studentLogits, teacherLogits) as tf.Scalar;
}

export const kd: DistillationMethod<KdOptions> = {
  name: 'kd',
  paper: 'Hinton et al. 2015, Distilling the Knowledge in a Neural Network',
  needsTeacher: true,
  options: z.strictObject({ temperature: z.number().positive().default(kdDefaults.temperature) }),
  build: (options) => (inputs) => kdLoss(inputs.studentLogits, inputs.teacherLogits!, options),
};
