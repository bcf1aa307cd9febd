/**
 * Attention transfer.
 * Zagoruyko & Komodakis (2017), "Paying More Attention to Attention", arXiv:1612.03928; as
 * RepDistiller's Attention (distiller_zoo/AT.py), for NHWC features.
 *
 *   at(F) = normalize(mean over channels of Fᵖ, flattened per sample)
 *   attention = mean over batch and positions of (at(F_s) − at(F_t))²
 *
 * The maps average over channels, so student and teacher channel counts may differ; their
 * spatial sizes must agree.
 */
import * as tf from '../engine/tf.js';
import { assertBatchPair, flattenSamples, normalizeRows } from './features.js';
import { z } from 'zod';
import type { DistillationMethod, FeatureTermOptions } from './method.js';
import { featureTermFields } from './feature_options.js';

export interface AttentionOptions {
  /** The power applied to the activations before averaging over channels. */
  p?: number;
}

/** The attention map of an NHWC feature: [batch, height · width], unit L2 norm per sample. */
export function attentionMap(feature: tf.Tensor, p = 2): tf.Tensor2D {
  return tf.tidy(() => {
    const powered = p === 2 ? tf.square(feature) : p === 1 ? feature : tf.pow(feature, p);
    return normalizeRows(flattenSamples(tf.mean(powered, -1))) as tf.Tensor2D;
  });
}

export function attentionLoss(studentFeature: tf.Tensor, teacherFeature: tf.Tensor, options: AttentionOptions = {}): tf.Scalar {
  assertBatchPair('attention', studentFeature, teacherFeature, 3);
  const spatial = (shape: number[]) => shape.slice(1, -1).join('×');
  if (spatial(studentFeature.shape) !== spatial(teacherFeature.shape)) {
    throw new Error(
      `attention: student feature [${studentFeature.shape.join(', ')}] and teacher feature ` +
        `[${teacherFeature.shape.join(', ')}] have different spatial sizes (NHWC)`,
    );
  }
  const p = options.p ?? 2;
  return tf.tidy(() => tf.mean(tf.squaredDifference(attentionMap(studentFeature, p), attentionMap(teacherFeature, p))));
}

/** Config: `{method: attention, weight: 1000, student: conv_2, teacher: conv_2, p: 2}`. */
export const attention: DistillationMethod<FeatureTermOptions & { p: number }> = {
  name: 'attention',
  paper: 'Zagoruyko & Komodakis 2017, Paying More Attention to Attention',
  needsTeacher: true,
  features: 'same-spatial',
  options: z.strictObject({ ...featureTermFields, p: z.number().positive().default(2) }),
  build: (options) => (inputs) => attentionLoss(inputs.studentFeature!, inputs.teacherFeature!, { p: options.p }),
};
