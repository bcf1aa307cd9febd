/**
 * Tests drive the training loop with hand-made terms (a term that turns NaN once, a scripted
 * loss) through this: the loop with kdkit's own callbacks, as distill() assembles them.
 */
import type { Dataset } from '../data/dataset.js';
import type { OptimizerSpec } from '../config/schema.js';
import type { TappedModel } from '../models/taps.js';
import type * as tf from '../engine/tf.js';
import { runLoop, type LoopResult, type WeightedTerm } from './loop.js';
import { makeOptimizer } from './optimizer.js';
import type { Callback } from './callbacks/callback.js';
import { validation as validationCallback } from './callbacks/validation.js';
import { divergenceGuard } from './callbacks/divergence.js';
import { checkpoints as checkpointCallback, type CheckpointOptions } from './callbacks/checkpoints.js';
import { progress } from './callbacks/progress.js';
import type { TrainEvent } from './events.js';

export interface StageOptions {
  stage: string;
  model: tf.LayersModel;
  train: Dataset;
  validation: Dataset;
  teacherLogits: Float32Array | null;
  terms: WeightedTerm[];
  studentTaps?: TappedModel;
  teacherFeatures?: (indices: Int32Array, inputs: Readonly<Record<string, tf.Tensor>>) => Record<string, tf.Tensor>;
  epochs: number;
  batchSize: number;
  optimizer: OptimizerSpec;
  seed: number;
  onEvent?: (event: TrainEvent) => void;
  checkpoints?: Omit<CheckpointOptions, 'stateful'>;
  maxGradNorm?: number;
  callbacks?: Callback[];
  signal?: AbortSignal;
}

export async function trainStage(options: StageOptions): Promise<LoopResult> {
  const optimizer = makeOptimizer(options.optimizer);
  const user = options.callbacks ?? [];
  const checkpoints = options.checkpoints ? checkpointCallback({ ...options.checkpoints, stateful: user }) : null;
  try {
    return await runLoop({
      ...options,
      optimizer,
      callbacks: [
        validationCallback(options.validation),
        ...user,
        divergenceGuard({ maxGradNorm: options.maxGradNorm, lastCheckpoint: () => checkpoints?.lastSaved() ?? null }),
        ...(checkpoints ? [checkpoints] : []),
        progress(options.onEvent ?? (() => {})),
      ],
    });
  } finally {
    optimizer.dispose();
  }
}
