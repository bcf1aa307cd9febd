/**
 * DIST: KD that matches relations instead of exact probabilities, so a student can learn from a
 * much stronger teacher. Each sample's class ranking, and each class's ranking across the batch,
 * is matched through a Pearson correlation.
 * Huang et al. (2022), "Knowledge Distillation from A Stronger Teacher", arXiv:2205.10536; as the
 * official DIST (hunto/DIST_KD, classification/lib/models/losses/dist_kd.py).
 *
 *   Y = softmax(Z / T) row by row                                   [batch, classes]
 *   ρ(a, b) = ⟨a − ā, b − b̄⟩ / (‖a − ā‖ · ‖b − b̄‖ + 1e-8)
 *   inter = T² · (1 − mean over samples i of ρ(Y_s[i, :], Y_t[i, :]))
 *   intra = T² · (1 − mean over classes j of ρ(Y_s[:, j], Y_t[:, j]))
 *   dist  = β · inter + γ · intra
 *
 * Config: `{method: dist, weight: 1, beta: 1, gamma: 1, temperature: 1}`; the temperature may be a schedule.
 */
import { z } from 'zod';
import * as tf from '../engine/tf.js';
import type { DistillationMethod } from './method.js';
import { scheduled, scheduleValue, type Scheduled } from '../schedules/index.js';

export interface DistOptions {
  /** Weight of the inter-class term (each sample's probabilities across classes). */
  beta: number;
  /** Weight of the intra-class term (each class's probabilities across the batch). */
  gamma: number;
  /** Softmax temperature T > 0, τ in the paper. */
  temperature: number;
}

export const distDefaults: DistOptions = { beta: 1, gamma: 1, temperature: 1 };

/** The Euclidean norm of each row. Its gradient is 0 at a zero row, as PyTorch's norm, not NaN. */
function rowNorms(rows: tf.Tensor2D): tf.Tensor1D {
  const squares = tf.sum(tf.square(rows), 1);
  // step() rather than a comparison, which has no gradient in TensorFlow.js.
  const nonzero = tf.cast(tf.step(squares), 'bool');
  return tf.where(nonzero, tf.sqrt(tf.where(nonzero, squares, tf.onesLike(squares))), tf.zerosLike(squares)) as tf.Tensor1D;
}

/** 1 − the mean over rows of the Pearson correlation between a's and b's rows (inter_class_relation). */
function relationLoss(a: tf.Tensor2D, b: tf.Tensor2D): tf.Scalar {
  const centeredA = tf.sub(a, tf.mean(a, 1, true)) as tf.Tensor2D;
  const centeredB = tf.sub(b, tf.mean(b, 1, true)) as tf.Tensor2D;
  const correlation = tf.div(tf.sum(tf.mul(centeredA, centeredB), 1), tf.add(tf.mul(rowNorms(centeredA), rowNorms(centeredB)), 1e-8));
  return tf.sub(1, tf.mean(correlation));
}

export function distParts(
  studentLogits: tf.Tensor,
  teacherLogits: tf.Tensor,
  options: Partial<DistOptions> = {},
): { inter: tf.Scalar; intra: tf.Scalar } {
  const { temperature } = { ...distDefaults, ...options };
  if (studentLogits.rank !== 2 || !tf.util.arraysEqual(studentLogits.shape, teacherLogits.shape)) {
    throw new Error(
      `dist: student and teacher logits must both be [batch, classes], got [${studentLogits.shape.join(', ')}] ` +
        `and [${teacherLogits.shape.join(', ')}]`,
    );
  }
  return tf.tidy(() => {
    const student = tf.softmax(tf.div(studentLogits, temperature)) as tf.Tensor2D;
    const teacher = tf.softmax(tf.div(teacherLogits, temperature)) as tf.Tensor2D;
    const scale = temperature * temperature;
    return {
      inter: tf.mul(relationLoss(student, teacher), scale),
      intra: tf.mul(relationLoss(tf.transpose(student), tf.transpose(teacher)), scale),
    };
  });
}

export function distLoss(studentLogits: tf.Tensor, teacherLogits: tf.Tensor, options: Partial<DistOptions> = {}): tf.Scalar {
  const { beta, gamma } = { ...distDefaults, ...options };
  return tf.tidy(() => {
    const { inter, intra } = distParts(studentLogits, teacherLogits, options);
    return tf.add(tf.mul(inter, beta), tf.mul(intra, gamma));
  });
}

export const dist: DistillationMethod<{ beta: number; gamma: number; temperature: Scheduled }> = {
  name: 'dist',
  paper: 'Huang et al. 2022, Knowledge Distillation from A Stronger Teacher',
  needsTeacher: true,
  options: z.strictObject({
    beta: z.number().nonnegative().default(distDefaults.beta),
    gamma: z.number().nonnegative().default(distDefaults.gamma),
    temperature: scheduled(z.number().positive()).default(distDefaults.temperature),
  }),
  build: (options) => (inputs) =>
    distLoss(inputs.studentLogits, inputs.teacherLogits!, {
      beta: options.beta,
      gamma: options.gamma,
      temperature: scheduleValue(options.temperature, inputs.position),
    }),
};
