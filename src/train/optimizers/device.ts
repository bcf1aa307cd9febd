/**
 * The optimizers' updates as tensor ops, for GPU backends (engine/placement.ts): the weights and
 * the slots stay on the device. The same formulas as adam.ts and momentum.ts's host loops, in
 * float32 throughout (the host loops keep some intermediates in float64), so the two paths agree
 * to float32 rounding, not bit for bit (optimizers.test.ts).
 */
import * as tf from '../../engine/tf.js';
import type { AdamHyper } from '../../engine/updates.js';

/** Replaces `slots[i]` with `next[i]`, kept beyond the step's tidy, and frees the old tensor. */
function replaceSlots(slots: tf.Tensor[], next: tf.Tensor[]): void {
  next.forEach((tensor, i) => {
    const old = slots[i];
    slots[i] = tf.keep(tensor);
    old.dispose();
  });
}

/** Adam's update of `variable` (moments in `slots`, flat, replaced), as adam.ts's adamUpdate. */
export function adamOnDevice(variable: tf.Variable, gradient: tf.Tensor, slots: tf.Tensor[], hyper: AdamHyper): void {
  const { beta1, beta2, stepSize, secondCorrection, epsilon, decay, keep } = hyper;
  const [first, second, weights] = tf.tidy(() => {
    const w = tf.reshape(variable, [-1]);
    const g = decay === 0 ? tf.reshape(gradient, [-1]) : tf.add(tf.reshape(gradient, [-1]), tf.mul(w, decay));
    const m = tf.add(tf.mul(slots[0], beta1), tf.mul(g, 1 - beta1));
    const v = tf.add(tf.mul(slots[1], beta2), tf.mul(tf.square(g), 1 - beta2));
    const step = tf.div(tf.mul(m, stepSize), tf.add(tf.mul(tf.sqrt(v), secondCorrection), epsilon));
    const kept = keep === 1 ? w : tf.mul(w, keep);
    return [m, v, tf.reshape(tf.sub(kept, step), variable.shape)];
  });
  replaceSlots(slots, [first, second]);
  variable.assign(weights);
  weights.dispose();
}

/** SGD's update, with momentum when `slots` holds the accumulation (replaced), as momentum.ts's loops. */
export function momentumOnDevice(
  variable: tf.Variable,
  gradient: tf.Tensor,
  slots: tf.Tensor[] | undefined,
  hyper: { learningRate: number; momentum: number; decay: number },
): void {
  const { learningRate, momentum, decay } = hyper;
  const [accumulation, weights] = tf.tidy(() => {
    const w = tf.reshape(variable, [-1]);
    const g = decay === 0 ? tf.reshape(gradient, [-1]) : tf.add(tf.reshape(gradient, [-1]), tf.mul(w, decay));
    const a = slots === undefined ? g : tf.add(tf.mul(slots[0], momentum), g);
    return [a, tf.reshape(tf.sub(w, tf.mul(a, learningRate)), variable.shape)];
  });
  if (slots) replaceSlots(slots, [accumulation]);
  else accumulation.dispose();
  variable.assign(weights);
  weights.dispose();
}
