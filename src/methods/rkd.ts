/**
 * Relational knowledge distillation: distances and angles between the samples of a batch.
 * Park et al. (2019), "Relational Knowledge Distillation", arXiv:1904.05068; as the official
 * RkdDistance and RKdAngle (github.com/lenscloth/RKD, metric/loss.py).
 *
 *   distance: ψ_D(i, j) = ‖e_i − e_j‖ / μ, μ the mean of the batch's positive distances;
 *             smooth-L1 (β = 1) between student and teacher ψ_D, averaged over all pairs.
 *   angle:    ψ_A(i, j, k) = ⟨(e_j − e_i)/‖·‖, (e_k − e_i)/‖·‖⟩;
 *             smooth-L1 between student and teacher ψ_A, averaged over all triplets.
 *   rkd = distanceWeight · distance + angleWeight · angle
 *
 * Embeddings are flattened per sample; student and teacher widths may differ. The teacher side
 * gets no gradient (the official code computes it under torch.no_grad()).
 */
import * as tf from '../engine/tf.js';
import { assertBatchPair, flattenSamples, normalizeRows, smoothL1, stopGradient } from './features.js';
import { z } from 'zod';
import type { DistillationMethod, FeatureTermOptions } from './method.js';
import { featureTermFields } from './feature_options.js';

export interface RkdOptions {
  distanceWeight?: number;
  angleWeight?: number;
}

/** Pairwise Euclidean distances [batch, batch]: eps 1e-12 before the square root, diagonal 0. */
export function pairwiseDistances(embedding: tf.Tensor2D): tf.Tensor2D {
  return tf.tidy(() => {
    const squaredNorms = tf.sum(tf.square(embedding), 1);
    const products = tf.matMul(embedding, embedding, false, true);
    const squared = tf.sub(tf.add(tf.expandDims(squaredNorms, 1), tf.expandDims(squaredNorms, 0)), tf.mul(products, 2));
    const distances = tf.sqrt(tf.maximum(squared, 1e-12));
    const batch = embedding.shape[0];
    return tf.mul(distances, tf.sub(1, tf.eye(batch))) as tf.Tensor2D;
  });
}

/** Distances divided by the mean of the positive ones. */
function normalizedDistances(embedding: tf.Tensor2D): tf.Tensor2D {
  const distances = pairwiseDistances(embedding);
  // step(): 1 where positive, else 0, with a (zero) gradient, which a comparison lacks.
  const positive = tf.step(distances);
  const mean = tf.div(tf.sum(tf.mul(distances, positive)), tf.sum(positive));
  return tf.div(distances, mean);
}

/** Cosines of the angles at every anchor i between the directions to j and to k: [batch³]. */
function angles(embedding: tf.Tensor2D): tf.Tensor1D {
  // differences[i][j] = e_j − e_i, as e.unsqueeze(0) − e.unsqueeze(1).
  const differences = tf.sub(tf.expandDims(embedding, 0), tf.expandDims(embedding, 1)) as tf.Tensor3D;
  const directions = normalizeRows(differences) as tf.Tensor3D;
  return tf.reshape(tf.matMul(directions, directions, false, true), [-1]);
}

export function rkdDistanceLoss(studentEmbedding: tf.Tensor, teacherEmbedding: tf.Tensor): tf.Scalar {
  assertBatchPair('rkd', studentEmbedding, teacherEmbedding);
  return tf.tidy(() =>
    smoothL1(normalizedDistances(flattenSamples(studentEmbedding)), stopGradient(normalizedDistances(flattenSamples(teacherEmbedding)))),
  );
}

export function rkdAngleLoss(studentEmbedding: tf.Tensor, teacherEmbedding: tf.Tensor): tf.Scalar {
  assertBatchPair('rkd', studentEmbedding, teacherEmbedding);
  return tf.tidy(() => smoothL1(angles(flattenSamples(studentEmbedding)), stopGradient(angles(flattenSamples(teacherEmbedding)))));
}

export function rkdLoss(studentEmbedding: tf.Tensor, teacherEmbedding: tf.Tensor, options: RkdOptions = {}): tf.Scalar {
  const { distanceWeight = 25, angleWeight = 50 } = options;
  return tf.tidy(() =>
    tf.add(
      tf.mul(rkdDistanceLoss(studentEmbedding, teacherEmbedding), distanceWeight),
      tf.mul(rkdAngleLoss(studentEmbedding, teacherEmbedding), angleWeight),
    ),
  );
}

/** Config: `{method: rkd, weight: 1, student: penultimate, teacher: penultimate}`. */
export const rkd: DistillationMethod<FeatureTermOptions & Required<RkdOptions>> = {
  name: 'rkd',
  paper: 'Park et al. 2019, Relational Knowledge Distillation',
  needsTeacher: true,
  features: 'batch',
  options: z.strictObject({
    ...featureTermFields,
    distanceWeight: z.number().nonnegative().default(25),
    angleWeight: z.number().nonnegative().default(50),
  }),
  build: (options) => (inputs) =>
    rkdLoss(inputs.studentFeature!, inputs.teacherFeature!, { distanceWeight: options.distanceWeight, angleWeight: options.angleWeight }),
};
