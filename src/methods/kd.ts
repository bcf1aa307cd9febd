/**
 * Response-based knowledge distillation.
 * Hinton, Vinyals & Dean (2015), "Distilling the Knowledge in a Neural Network", arXiv:1503.02531.
 *
 *   kd = T² · KL(softmax(z_t / T) ‖ softmax(z_s / T))
 *
 * summed over classes and averaged over the batch. The T² factor keeps the gradient's scale
 * independent of T (the soft gradients shrink as 1/T²), as in the paper §2 and mdistiller.
 *
 * Config: `{method: kd, weight: 0.9, temperature: 4}`; the temperature may be a schedule.
 */
import { z } from 'zod';
import * as tf from '../engine/tf.js';
import { mathOnHost } from '../engine/placement.js';
import { logSoftmaxRows } from './logits.js';
import type { DistillationMethod } from './method.js';
import { scheduled, scheduleValue, type Scheduled } from '../schedules/index.js';

export interface KdOptions {
  /** Softmax temperature T > 0; larger T gives softer teacher distributions. */
  temperature: number;
}

export const kdDefaults: KdOptions = { temperature: 4 };

/**
 * The loss and its gradients, computed together in float64 on the host (see logits.ts). With
 * p = softmax(·/T), B samples and KL each sample's divergence:
 *   ∂kd/∂z_s = T · (p_s − p_t) / B
 *   ∂kd/∂z_t = T · p_t ⊙ (log p_t − log p_s − KL) / B
 */
export function kdLoss(studentLogits: tf.Tensor, teacherLogits: tf.Tensor, options: KdOptions): tf.Scalar {
  const { temperature } = options;
  if (!mathOnHost()) return kdOnDevice(studentLogits, teacherLogits, temperature);
  const shape = studentLogits.shape;
  const classes = shape[shape.length - 1]!;
  const loss = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const [student, teacher, save] = args as [tf.Tensor, tf.Tensor, tf.GradSaveFunc];
    const logStudent = logSoftmaxRows(student.dataSync(), classes, temperature);
    const logTeacher = logSoftmaxRows(teacher.dataSync(), classes, temperature);
    const samples = logStudent.length / classes;
    const studentGradient = new Float32Array(logStudent.length);
    const teacherGradient = new Float32Array(logStudent.length);
    let total = 0;
    for (let start = 0; start < logStudent.length; start += classes) {
      let divergence = 0;
      for (let i = start; i < start + classes; i++) divergence += Math.exp(logTeacher[i]) * (logTeacher[i] - logStudent[i]);
      total += divergence;
      for (let i = start; i < start + classes; i++) {
        const teacherProb = Math.exp(logTeacher[i]);
        studentGradient[i] = (temperature * (Math.exp(logStudent[i]) - teacherProb)) / samples;
        teacherGradient[i] = (temperature * teacherProb * (logTeacher[i] - logStudent[i] - divergence)) / samples;
      }
    }
    save([tf.tensor(studentGradient, shape), tf.tensor(teacherGradient, shape)]);
    return {
      value: tf.scalar((temperature * temperature * total) / samples),
      gradFunc: (dy: tf.Tensor, [dStudent, dTeacher]: tf.Tensor[]) => [tf.mul(dStudent, dy), tf.mul(dTeacher, dy)],
    };
  });
  return loss(studentLogits, teacherLogits) as tf.Scalar;
}

/** The same loss as tensor ops, for GPU backends (engine/placement.ts); autodiff gives the gradients above. */
function kdOnDevice(studentLogits: tf.Tensor, teacherLogits: tf.Tensor, temperature: number): tf.Scalar {
  return tf.tidy(() => {
    const logStudent = tf.logSoftmax(tf.div(studentLogits, temperature));
    const logTeacher = tf.logSoftmax(tf.div(teacherLogits, temperature));
    const divergence = tf.sum(tf.mul(tf.exp(logTeacher), tf.sub(logTeacher, logStudent)), -1);
    return tf.mul(tf.mean(divergence), temperature * temperature) as tf.Scalar;
  });
}

export const kd: DistillationMethod<{ temperature: Scheduled }> = {
  name: 'kd',
  paper: 'Hinton et al. 2015, Distilling the Knowledge in a Neural Network',
  needsTeacher: true,
  options: z.strictObject({ temperature: scheduled(z.number().positive()).default(kdDefaults.temperature) }),
  build: (options) => (inputs) =>
    kdLoss(inputs.studentLogits, inputs.teacherLogits!, { temperature: scheduleValue(options.temperature, inputs.position) }),
};
