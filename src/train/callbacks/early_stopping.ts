/**
 * Early stopping, as Keras 3's `EarlyStopping` (keras/src/callbacks/early_stopping.py): after each
 * epoch the monitored metric is compared with the best so far; an improvement is a change of more
 * than `minDelta` in the good direction. Training stops once `patience` epochs in a row brought
 * none (never after the first epoch). With `restoreBest`, the model ends with the weights of its
 * best epoch, however training ends.
 */
import { InputError } from '../../errors.js';
import { higherIsBetter, metricValue, type Callback, type Metric, type TrainingLoop } from './callback.js';

export interface EarlyStoppingOptions {
  /** The metric watched; default 'val_loss', as Keras. */
  monitor?: Metric;
  /** Epochs without improvement before stopping; default 0 (stop at the first). */
  patience?: number;
  /** The smallest change that counts as an improvement; default 0. */
  minDelta?: number;
  /** End with the weights of the best epoch rather than the last; default false. */
  restoreBest?: boolean;
  /** Epochs to run before watching at all (warm-up); default 0. */
  startFromEpoch?: number;
}

export function earlyStopping(options: EarlyStoppingOptions = {}): Callback {
  const monitor = options.monitor ?? 'val_loss';
  const patience = options.patience ?? 0;
  const minDelta = Math.abs(options.minDelta ?? 0);
  const startFromEpoch = options.startFromEpoch ?? 0;
  for (const [field, value] of [
    ['patience', patience],
    ['startFromEpoch', startFromEpoch],
  ] as const) {
    if (!Number.isInteger(value) || value < 0) throw new InputError(`earlyStopping.${field}: expected a whole number ≥ 0, got ${value}`);
  }
  if (!Number.isFinite(minDelta)) throw new InputError(`earlyStopping.minDelta: expected a number, got ${options.minDelta}`);
  const higher = higherIsBetter(monitor);
  const improves = (value: number, reference: number | null) =>
    reference === null || (higher ? value - minDelta > reference : value + minDelta < reference);
  let best: number | null = null;
  let bestEpoch = 0;
  let wait = 0;
  let bestWeights: Float32Array[] | null = null;
  let restored = false;

  const restore = (loop: TrainingLoop) => {
    if (!options.restoreBest || bestWeights === null || restored) return;
    loop.writeWeights(bestWeights);
    restored = true;
    loop.emit({ type: 'info', message: `${loop.stage}: restored the weights of epoch ${bestEpoch} (${monitor} ${best})` });
  };

  return {
    name: 'earlyStopping',
    async onEpochEnd(record, loop) {
      const value = metricValue(record, monitor);
      if (Number.isNaN(value))
        throw new InputError(
          `earlyStopping: monitor '${monitor}' has no value at epoch ${record.epoch}; a validation metric needs a validation split`,
        );
      if (record.epoch > startFromEpoch) {
        if (options.restoreBest && bestWeights === null) {
          bestWeights = await loop.readWeightsAsync();
          bestEpoch = record.epoch;
        }
        wait++;
        if (improves(value, best)) {
          best = value;
          bestEpoch = record.epoch;
          if (options.restoreBest) bestWeights = await loop.readWeightsAsync();
          wait = 0;
        } else if (wait >= patience && record.epoch > 1) {
          loop.stop(
            `early stopping: ${monitor} did not improve for ${wait} epoch${wait === 1 ? '' : 's'} (best ${best} at epoch ${bestEpoch})`,
          );
          loop.emit({ type: 'info', message: `${loop.stage}: stopped at epoch ${record.epoch}; ${loop.stopReason}` });
        }
      }
      // Restored before the epoch's checkpoint is written, so a resumed run ends with the same weights.
      if (loop.finished) restore(loop);
    },
    onTrainEnd(loop) {
      restore(loop);
    },
    saveState: () => ({ json: { best, bestEpoch, wait, restored }, tensors: bestWeights ?? [] }),
    loadState(state) {
      ({ best, bestEpoch, wait, restored } = state.json as { best: number | null; bestEpoch: number; wait: number; restored: boolean });
      bestWeights = state.tensors && state.tensors.length > 0 ? state.tensors.map((tensor) => Float32Array.from(tensor)) : null;
    },
  };
}
