import type * as tf from '../engine/tf.js';
import { InputError } from '../errors.js';
import type { OptimizerSpec } from '../config/schema.js';
import { scheduleValue } from '../schedules/index.js';
import type { FusedOptimizer } from './optimizers/fused.js';
import { FusedAdam } from './optimizers/adam.js';
import { FusedMomentum } from './optimizers/momentum.js';

export type { FusedOptimizer } from './optimizers/fused.js';

/** The optimizer `spec` describes, at the learning rate it starts with (the loop follows a schedule, LoopOptions.learningRate). */
export function makeOptimizer(spec: OptimizerSpec): FusedOptimizer {
  const learningRate = scheduleValue(spec.learningRate, { progress: 0, epoch: 1 });
  switch (spec.type) {
    case 'adam':
    case 'adamw':
      return new FusedAdam({
        learningRate,
        weightDecay: spec.weightDecay ?? (spec.type === 'adamw' ? 0.01 : 0),
        decoupled: spec.type === 'adamw',
      });
    case 'sgd':
      return new FusedMomentum(learningRate, 0, spec.weightDecay ?? 0);
    case 'momentum':
      return new FusedMomentum(learningRate, spec.momentum, spec.weightDecay ?? 0);
  }
}

/**
 * A TensorFlow.js optimizer behind the loop's interface. Its state lives inside it, out of
 * kdkit's reach, so a stage trained with one cannot be checkpointed.
 */
export function wrapOptimizer(optimizer: tf.Optimizer): FusedOptimizer {
  const rated = optimizer as tf.Optimizer & { learningRate?: number };
  let iterations = 0;
  const unsupported = (): never => {
    throw new InputError(
      'optimizer: checkpoints need a kdkit optimizer ({type, learningRate}), not a tf.Optimizer, whose state kdkit cannot save',
    );
  };
  return {
    get iterations() {
      return iterations;
    },
    get learningRate() {
      return rated.learningRate ?? Number.NaN;
    },
    set learningRate(value: number) {
      if (rated.learningRate === undefined) throw new InputError('optimizer: this tf.Optimizer has no learningRate to change');
      rated.learningRate = value;
    },
    step(variables, gradients) {
      optimizer.applyGradients(variables.map((variable, i) => ({ name: variable.name, tensor: gradients[i] })));
      iterations++;
    },
    exportState: unsupported,
    importState: unsupported,
    // The caller's optimizer is the caller's to dispose.
    dispose() {},
  };
}
