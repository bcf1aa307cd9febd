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
