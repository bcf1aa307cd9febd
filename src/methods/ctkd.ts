/**
 * Curriculum temperature: KD whose temperature is learned adversarially, from easy to hard.
 * Li et al. (2023), "Curriculum Temperature for Knowledge Distillation", arXiv:2211.16231; as the
 * official code's global temperature (github.com/zhengli97/CTKD: Global_T, DistillKL, CosineDecay).
 *
 *   τ = τ_min + τ_range · sigmoid(GRL_λ(θ)),  θ a learned scalar starting at 1
 *   ctkd = τ² · Σ KL(softmax(z_t / τ) ‖ softmax(z_s / τ)) / batch
 *
 * GRL_λ is the identity forward; backward it multiplies θ's gradient by λ, which falls from 0 to −1
 * along half a cosine over the first `rampEpochs` epochs: λ = (cos(π · min(epoch, n) / n) + 1) / 2 − 1.
 * θ therefore climbs the distillation loss while the student descends it, harder as training goes.
 * θ trains with the student (same optimizer); the temperature is logged each epoch as `ctkd.temperature`.
 *
 * Config: `{method: ctkd, weight: 0.9, minTemperature: 1, temperatureRange: 20, rampEpochs: 10}`
 * (the official defaults: t_start 1, t_end 20, decay_loops 10).
 */
import { z } from 'zod';
import * as tf from '../engine/tf.js';
import type { DistillationMethod, TermLoss } from './method.js';

export interface CtkdOptions {
  minTemperature: number;
  temperatureRange: number;
  rampEpochs: number;
}

/** KD at a temperature that is a tensor, so that the temperature gets a gradient too (CTKD's DistillKL). */
export function kdLossAtTemperature(studentLogits: tf.Tensor, teacherLogits: tf.Tensor, temperature: tf.Scalar): tf.Scalar {
  return tf.tidy(() => {
    const batch = studentLogits.shape[0]!;
    const logStudent = tf.logSoftmax(tf.div(studentLogits, temperature));
    const logTeacher = tf.logSoftmax(tf.div(teacherLogits, temperature));
    const divergence = tf.sum(tf.mul(tf.exp(logTeacher), tf.sub(logTeacher, logStudent)));
    return tf.div(tf.mul(divergence, tf.square(temperature)), batch) as tf.Scalar;
  });
}

/** The gradient-reversal strength at `epoch` (1-based): 0 falling to −1 over `rampEpochs`, as CosineDecay(0, −1, n). */
export function reversalStrength(epoch: number, rampEpochs: number): number {
  const i = Math.min(Math.max(epoch, 0), rampEpochs);
  return (Math.cos((i * Math.PI) / rampEpochs) + 1) / 2 - 1;
}

/** The identity, whose gradient is multiplied by `strength` on the way back. */
export function gradientReversal(x: tf.Tensor, strength: number): tf.Tensor {
  const reversed = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => ({
    value: tf.clone(args[0] as tf.Tensor),
    gradFunc: (dy: tf.Tensor) => tf.mul(dy, strength),
  }));
  return reversed(x);
}

let created = 0;

export const ctkd: DistillationMethod<CtkdOptions> = {
  name: 'ctkd',
  paper: 'Li et al. 2023, Curriculum Temperature for Knowledge Distillation',
  needsTeacher: true,
  options: z.strictObject({
    minTemperature: z.number().positive().default(1),
    temperatureRange: z.number().positive().default(20),
    rampEpochs: z.number().int().positive().default(10),
  }),
  build: (options) => {
    const theta = tf.variable(tf.scalar(1), true, `ctkd_theta_${++created}`);
    const temperatureOf = (logit: tf.Tensor) =>
      tf.add(options.minTemperature, tf.mul(tf.sigmoid(logit), options.temperatureRange)) as tf.Scalar;
    const loss: TermLoss = (inputs) =>
      tf.tidy(() => {
        const temperature = temperatureOf(gradientReversal(theta, reversalStrength(inputs.position.epoch, options.rampEpochs)));
        return kdLossAtTemperature(inputs.studentLogits, inputs.teacherLogits!, temperature);
      });
    return Object.assign(loss, {
      variables: [theta],
      state: () => ({ temperature: tf.tidy(() => temperatureOf(theta).dataSync()[0]) }),
      dispose: () => theta.dispose(),
    });
  },
};
