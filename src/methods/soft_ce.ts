/**
 * TinyBERT's prediction-layer distillation: soft cross-entropy at temperature T, with no T².
 * Jiao et al. (2020), arXiv:1909.10351, eq. 10; as soft_cross_entropy in huawei-noah/
 * Pretrained-Language-Model TinyBERT/task_distill.py:
 *
 *   soft-ce = mean over batch and classes of −softmax(z_t / T) ⊙ log_softmax(z_s / T)
 *
 * The official code averages over all batch × class entries (`.mean()`), so the value is the
 * per-sample cross-entropy divided by the number of classes; kdkit keeps that, so its weights
 * and learning rates carry over. Its gradient is (softmax(z_s/T) − softmax(z_t/T)) / (T·B·C): unlike
 * `kd`, it shrinks as T grows.
 *
 * Config: `{method: soft-ce, weight: 1, temperature: 1}`; the temperature may be a schedule.
 */
import { z } from 'zod';
import * as tf from '../engine/tf.js';
import type { DistillationMethod } from './method.js';
import { scheduled, scheduleValue, type Scheduled } from '../schedules/index.js';

export function softCrossEntropyLoss(studentLogits: tf.Tensor, teacherLogits: tf.Tensor, temperature: number): tf.Scalar {
  return tf.tidy(() => {
    const target = tf.softmax(tf.div(teacherLogits, temperature));
    return tf.neg(tf.mean(tf.mul(target, tf.logSoftmax(tf.div(studentLogits, temperature))))) as tf.Scalar;
  });
}

export const softCe: DistillationMethod<{ temperature: Scheduled }> = {
  name: 'soft-ce',
  paper: 'Jiao et al. 2020, TinyBERT: Distilling BERT for Natural Language Understanding',
  needsTeacher: true,
  options: z.strictObject({ temperature: scheduled(z.number().positive()).default(1) }),
  build: (options) => (inputs) =>
    softCrossEntropyLoss(inputs.studentLogits, inputs.teacherLogits!, scheduleValue(options.temperature, inputs.position)),
};
