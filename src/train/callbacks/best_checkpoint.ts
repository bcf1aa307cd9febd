/**
 * The best model so far, saved whenever the monitored metric improves, as Keras'
 * `ModelCheckpoint(save_best_only=True)`: `directory` holds a TensorFlow.js layers model
 * (model.json + weights.bin) of the best epoch, written atomically.
 */
import { saveModelDir } from '../../models/io.js';
import { higherIsBetter, metricValue, type Callback, type Metric } from './callback.js';
import { InputError } from '../../errors.js';

export interface BestCheckpointOptions {
  /** Where the best model is written. */
  directory: string;
  /** The metric that decides; default 'val_accuracy'. */
  monitor?: Metric;
}

export interface BestModel {
  epoch: number;
  monitor: Metric;
  value: number;
  directory: string;
}

export function bestCheckpoint(options: BestCheckpointOptions): Callback & { best(): BestModel | null } {
  const monitor = options.monitor ?? 'val_accuracy';
  const higher = higherIsBetter(monitor);
  let best: BestModel | null = null;
  return {
    name: 'bestCheckpoint',
    best: () => best,
    async onEpochEnd(record, loop) {
      const value = metricValue(record, monitor);
      if (Number.isNaN(value))
        throw new InputError(
          `bestCheckpoint: monitor '${monitor}' has no value at epoch ${record.epoch}; a validation metric needs a validation split`,
        );
      if (best !== null && !(higher ? value > best.value : value < best.value)) return;
      await saveModelDir(loop.model, options.directory);
      best = { epoch: record.epoch, monitor, value, directory: options.directory };
    },
    saveState: () => ({ json: best }),
    loadState(state) {
      best = (state.json as BestModel | null) ?? null;
    },
  };
}
