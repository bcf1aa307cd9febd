/**
 * Small tensor helpers shared by the feature- and relation-based losses, each written to match
 * the PyTorch function the methods' official code calls.
 */
import * as tf from '../engine/tf.js';

/** F.normalize(x, dim=-1): each row divided by max(‖row‖₂, 1e-12). */
export function normalizeRows(x: tf.Tensor): tf.Tensor {
  // max(‖row‖, 1e-12) as √max(‖row‖², 1e-24): the same value, and a zero gradient for rows
  // below the floor (√ at 0 has an infinite one, which would turn 0 · ∞ into NaN).
  const norms = tf.sqrt(tf.maximum(tf.sum(tf.square(x), -1, true), 1e-24));
  return tf.div(x, norms);
}

/** Each sample flattened: [batch, everything else]. */
export function flattenSamples(x: tf.Tensor): tf.Tensor2D {
  return tf.reshape(x, [x.shape[0]!, -1]);
}

/** F.smooth_l1_loss(a, b) with β = 1, averaged over all elements. */
export function smoothL1(a: tf.Tensor, b: tf.Tensor): tf.Scalar {
  // 0.5·d² below 1 and d − 0.5 above, as 0.5·m² + (d − m) with m = min(d, 1): differentiable
  // tensor ops only (the gradient of a where() condition is not defined in TensorFlow.js).
  const difference = tf.abs(tf.sub(a, b));
  const clipped = tf.minimum(difference, 1);
  return tf.mean(tf.add(tf.mul(tf.square(clipped), 0.5), tf.sub(difference, clipped)));
}

/**
 * `x` unchanged, with no gradient flowing back through it: the `torch.no_grad()` of the official
 * code, for quantities computed from the teacher.
 */
export function stopGradient<T extends tf.Tensor>(x: T): T {
  const blocked = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const input = args[0] as tf.Tensor;
    return { value: tf.clone(input), gradFunc: (dy: tf.Tensor) => tf.zerosLike(dy) };
  });
  return blocked(x) as T;
}

/** Checks that `name` has rank at least `minRank` and, for each pair, that batch sizes agree. */
export function assertBatchPair(method: string, student: tf.Tensor, teacher: tf.Tensor, minRank = 2): void {
  for (const [role, tensor] of [
    ['student', student],
    ['teacher', teacher],
  ] as const) {
    if (tensor.rank < minRank) {
      throw new Error(`${method}: the ${role} input must have rank ${minRank} or more, got shape [${tensor.shape.join(', ')}]`);
    }
  }
  if (student.shape[0] !== teacher.shape[0]) {
    throw new Error(`${method}: student and teacher batch sizes differ (${student.shape[0]} and ${teacher.shape[0]})`);
  }
}
