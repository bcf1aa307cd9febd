/**
 * Decoupled knowledge distillation: the KD loss split into a target-class part and a
 * non-target part, weighted separately.
 * Zhao et al. (2022), "Decoupled Knowledge Distillation", arXiv:2203.08679; as mdistiller's
 * dkd_loss (mdistiller/distillers/DKD.py).
 *
 *   TCKD = KL([p_t(y), 1 − p_t(y)] ‖ [p_s(y), 1 − p_s(y)])               with p = softmax(z / T)
 *   NCKD = KL(p̂_t ‖ p̂_s),  p̂ = softmax(z / T − 1000 · onehot(y))          (the non-target classes)
 *   dkd  = α · T² · ΣTCKD / batch + β · T² · ΣNCKD / batch
 *
 * mdistiller ramps the whole term in over the first 20 epochs (min(epoch / 20, 1)); in kdkit that
 * is the term's weight: `weight: {schedule: warmup, to: 1, epochs: 20}`.
 *
 * Config: `{method: dkd, weight: 1, alpha: 1, beta: 8, temperature: 4}`
 */
import { z } from 'zod';
import * as tf from '../engine/tf.js';
import type { DistillationMethod } from './method.js';
import { scheduled, scheduleValue, type Scheduled } from '../schedules/index.js';

export interface DkdOptions {
  /** Weight of the target-class term. */
  alpha: number;
  /** Weight of the non-target term. */
  beta: number;
  temperature: number;
}

export const dkdDefaults: DkdOptions = { alpha: 1, beta: 8, temperature: 4 };

/** Σ target · (log target − logInput), with 0 · log 0 taken as 0 (torch.kl_div's rule). */
function klSum(target: tf.Tensor, logTarget: tf.Tensor, logInput: tf.Tensor): tf.Scalar {
  const terms = tf.mul(target, tf.sub(logTarget, logInput));
  // The mask comes from step() rather than a comparison, which has no gradient in TensorFlow.js.
  return tf.sum(tf.where(tf.cast(tf.step(target), 'bool'), terms, tf.zerosLike(terms)));
}

export function dkdParts(
  studentLogits: tf.Tensor,
  teacherLogits: tf.Tensor,
  labels: tf.Tensor,
  options: Partial<DkdOptions> = {},
): { tckd: tf.Scalar; nckd: tf.Scalar } {
  const { temperature } = { ...dkdDefaults, ...options };
  if (studentLogits.rank !== 2 || !tf.util.arraysEqual(studentLogits.shape, teacherLogits.shape)) {
    throw new Error(
      `dkd: student and teacher logits must both be [batch, classes], got [${studentLogits.shape.join(', ')}] ` +
        `and [${teacherLogits.shape.join(', ')}]`,
    );
  }
  const [batch, classes] = studentLogits.shape as [number, number];
  return tf.tidy(() => {
    const target = tf.cast(tf.oneHot(tf.cast(labels, 'int32'), classes), 'float32');
    const scale = (temperature * temperature) / batch;
    // Binary [p(y), 1 − p(y)] of each sample, as mdistiller's cat_mask.
    const binary = (logits: tf.Tensor) => {
      const probs = tf.softmax(tf.div(logits, temperature));
      return tf.concat([tf.sum(tf.mul(probs, target), 1, true), tf.sum(tf.mul(probs, tf.sub(1, target)), 1, true)], 1);
    };
    const studentBinary = binary(studentLogits);
    const teacherBinary = binary(teacherLogits);
    const tckd = tf.mul(klSum(teacherBinary, tf.log(teacherBinary), tf.log(studentBinary)), scale);
    const masked = (logits: tf.Tensor) => tf.logSoftmax(tf.sub(tf.div(logits, temperature), tf.mul(target, 1000)));
    const teacherLogRest = masked(teacherLogits);
    const nckd = tf.mul(klSum(tf.exp(teacherLogRest), teacherLogRest, masked(studentLogits)), scale);
    return { tckd: tckd as tf.Scalar, nckd: nckd as tf.Scalar };
  });
}

export function dkdLoss(
  studentLogits: tf.Tensor,
  teacherLogits: tf.Tensor,
  labels: tf.Tensor,
  options: Partial<DkdOptions> = {},
): tf.Scalar {
  const { alpha, beta } = { ...dkdDefaults, ...options };
  return tf.tidy(() => {
    const { tckd, nckd } = dkdParts(studentLogits, teacherLogits, labels, options);
    return tf.add(tf.mul(tckd, alpha), tf.mul(nckd, beta));
  });
}

export const dkd: DistillationMethod<{ alpha: number; beta: number; temperature: Scheduled }> = {
  name: 'dkd',
  paper: 'Zhao et al. 2022, Decoupled Knowledge Distillation',
  needsTeacher: true,
  options: z.strictObject({
    alpha: z.number().nonnegative().default(dkdDefaults.alpha),
    beta: z.number().nonnegative().default(dkdDefaults.beta),
    temperature: scheduled(z.number().positive()).default(dkdDefaults.temperature),
  }),
  build: (options) => (inputs) =>
    dkdLoss(inputs.studentLogits, inputs.teacherLogits!, inputs.labels, {
      alpha: options.alpha,
      beta: options.beta,
      temperature: scheduleValue(options.temperature, inputs.position),
    }),
};
