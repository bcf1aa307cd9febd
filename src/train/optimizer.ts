import type * as tf from '../engine/tf.js';
import { InputError } from '../errors.js';
import type { OptimizerSpec } from '../config/schema.js';
import type { FusedOptimizer } from './optimizers/fused.js';
import { FusedAdam } from './optimizers/adam.js';
import { FusedMomentum } from './optimizers/momentum.js';

export type { FusedOptimizer } from './optimizers/fused.js';

export function makeOptimizer(spec: OptimizerSpec): FusedOptimizer {
  switch (spec.type) {
    case 'adam':
      return new FusedAdam({ learningRate: spec.learningRate });
    case 'sgd':
      return new FusedMomentum(spec.learningRate, 0);
    case 'momentum':
      return new FusedMomentum(spec.learningRate, spec.momentum);
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
