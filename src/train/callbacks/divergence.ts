/**
 * The divergence guard: a step whose loss (or any term) is NaN or infinite, or whose global
 * gradient norm passes `maxGradNorm`, is refused before it reaches the weights, naming the stage,
 * epoch, step and term. With checkpoints, `lrBackoff` (callbacks/checkpoints.ts) can restart from
 * the last good one.
 */
import * as tf from '../../engine/tf.js';
import { DivergenceError, type Callback } from './callback.js';

export interface DivergenceGuardOptions {
  /** Refuse a step whose global gradient norm is over this; without it only non-finite losses are refused. */
  maxGradNorm?: number;
  /** The last good checkpoint, for the message: what the stage can restart from. */
  lastCheckpoint?: () => string | null;
}

export function divergenceGuard(options: DivergenceGuardOptions = {}): Callback {
  return {
    name: 'divergence',
    beforeApply(values, loop) {
      const bad = values.terms.find(({ value }) => !Number.isFinite(value));
      let problem = bad ? `term '${bad.name}' is ${bad.value}` : !Number.isFinite(values.loss) ? `the loss is ${values.loss}` : null;
      if (problem === null && options.maxGradNorm !== undefined) {
        const squares = () => tf.addN(values.gradients.map((gradient) => tf.sum(tf.square(gradient))));
        let norm = 0;
        if (values.gradients.length > 0) {
          const total = tf.tidy(squares);
          norm = Math.sqrt(total.dataSync()[0]);
          total.dispose();
        }
        if (norm > options.maxGradNorm) problem = `the gradient norm ${norm.toPrecision(4)} is over maxGradNorm ${options.maxGradNorm}`;
      }
      if (problem === null) return;
      const checkpoint = options.lastCheckpoint?.() ?? null;
      const kept = checkpoint ? `; the last good checkpoint is ${checkpoint}` : '';
      throw new DivergenceError(
        `stage '${loop.stage}' diverged at epoch ${values.epoch}, step ${values.step}: ${problem}${kept}`,
        loop.stage,
        checkpoint,
      );
    },
  };
}
