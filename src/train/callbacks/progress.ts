/** Progress events: one per step and one per epoch, for a progress bar, a log or a dashboard. */
import type { TrainEvent } from '../events.js';
import type { Callback } from './callback.js';

export function progress(emit: (event: TrainEvent) => void): Callback {
  return {
    name: 'progress',
    onStepEnd(values, loop) {
      emit({
        type: 'step',
        stage: loop.stage,
        epoch: values.epoch,
        epochs: loop.epochs,
        step: values.step,
        stepsPerEpoch: loop.stepsPerEpoch,
        loss: values.loss,
      });
    },
    onEpochEnd(record, loop) {
      emit({ type: 'epoch', stage: loop.stage, epochs: loop.epochs, ...record });
    },
  };
}
