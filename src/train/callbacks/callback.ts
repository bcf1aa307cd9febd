/**
 * Hooks into the training loop, the way Keras and tfjs-layers callbacks work: each concern
 * (validation, checkpoints, the divergence guard, progress, early stopping, the best model) is a
 * small object with the hooks it needs, and the loop itself knows none of them.
 */
import type * as tf from '../../engine/tf.js';
import type { EpochRecord, TrainEvent } from '../events.js';

/** The metrics a callback can watch: the epoch's mean training loss, and the validation split's loss and accuracy. */
export type Metric = 'loss' | 'val_loss' | 'val_accuracy';

/** A metric's value in an epoch's record (NaN without a validation split). */
export function metricValue(record: EpochRecord, metric: Metric): number {
  if (metric === 'loss') return record.loss;
  if (metric === 'val_loss') return record.validationLoss ?? Number.NaN;
  return record.validationAccuracy;
}

/** Whether larger values of `metric` are better. */
export function higherIsBetter(metric: Metric): boolean {
  return metric === 'val_accuracy';
}

/** Where the loop is: what a checkpoint stores to continue exactly there. */
export interface LoopPosition {
  /** The epoch running or next to run (1-based), and the steps of it already taken. */
  epoch: number;
  step: number;
  /** Steps taken in the whole stage. */
  globalStep: number;
  /** The shuffling generator's position before this epoch's shuffle. */
  shufflePosition: number;
  /** The dropout generator's position (the seeded Math.random of each step). */
  dropoutPosition: number;
  /** Sums over the current epoch's steps so far. */
  partial: { lossSum: number; termSums: number[]; seconds: number };
  history: EpochRecord[];
  /** Training time of the stage before this process started it. */
  trainSeconds: number;
  /**
   * What lrBackoff (or setLearningRate) has made of the learning rate: the factor on its schedule
   * from here on; absent for 1 (and in checkpoints from before it was kept).
   */
  learningRateScale?: number;
}

/** A step's values, before they reach the weights. */
export interface StepValues {
  epoch: number;
  /** 1-based, within the epoch. */
  step: number;
  loss: number;
  /** Each term's unweighted value, in the terms' order, with its name. */
  terms: { name: string; value: number }[];
  /** The gradients of the trained variables the loss reaches, in order; read only. */
  gradients: readonly tf.Tensor[];
}

/** What callbacks see of the loop. */
export interface TrainingLoop {
  /** Stage name in logs: 'teacher', 'scratch', 'student', 'assistant-1', or distill()'s `name`. */
  readonly stage: string;
  readonly model: tf.LayersModel;
  readonly epochs: number;
  readonly stepsPerEpoch: number;
  /** Where the loop is; replaced by `restore`. */
  readonly position: Readonly<LoopPosition>;
  /** Training seconds of the stage so far, in every process that ran it. */
  elapsedSeconds(): number;
  /** Ends training after the current epoch's callbacks (or at once, between steps), keeping what was learned. */
  stop(reason: string): void;
  readonly stopReason: string | null;
  /** Training has ended for good: every epoch ran, or a callback stopped it (an aborted run has not finished). */
  readonly finished: boolean;
  /** The loop's whole state: weights (batch-norm statistics included), terms' variables and the optimizer's slots. */
  snapshot(): { position: LoopPosition; tensors: Float32Array[]; optimizerIterations: number };
  /** Puts a snapshot back; the loop continues from its position. */
  restore(snapshot: { position: LoopPosition; tensors: Float32Array[]; optimizerIterations: number }, source: string): void;
  /** The weights of the model alone (no optimizer state), in `model.weights` order. */
  readWeights(): Float32Array[];
  /** readWeights, read asynchronously: what a callback should use on a GPU backend (webgl, webgpu). */
  readWeightsAsync(): Promise<Float32Array[]>;
  writeWeights(weights: Float32Array[]): void;
  /**
   * Sets the learning rate now. With a schedule, the rest of it is scaled by the same factor (the
   * rate over the schedule's value here; a schedule at 0 here keeps its scale).
   */
  setLearningRate(learningRate: number): void;
  /** Scales the learning rate, and the rest of its schedule, by `factor` (lrBackoff halves it). */
  scaleLearningRate(factor: number): void;
  /** The rate of the last step, or the one set since. */
  readonly learningRate: number;
  emit(event: TrainEvent): void;
}

/** Thrown by a callback's `beforeApply` to refuse a step; the loop asks `onDivergence` before giving up. */
export class DivergenceError extends Error {
  override readonly name = 'DivergenceError';
  constructor(
    message: string,
    readonly stage: string,
    /** The last good checkpoint, when one was written. */
    readonly checkpoint: string | null,
  ) {
    super(message);
  }
}

/** What a callback keeps in a checkpoint so that a resumed run continues it exactly. */
export interface CallbackState {
  json?: unknown;
  tensors?: Float32Array[];
}

export interface Callback {
  /** Names the callback's state in a checkpoint; needed with saveState. */
  readonly name: string;
  /** Before the first step (after a resume has put the loop back where it was). */
  onTrainBegin?(loop: TrainingLoop): void | Promise<void>;
  /** Before a step's update reaches the weights; throw a DivergenceError to refuse it. Synchronous: it runs inside the step. */
  beforeApply?(values: StepValues, loop: TrainingLoop): void;
  /** After each step's update. Synchronous, to keep steps fast. */
  onStepEnd?(values: StepValues, loop: TrainingLoop): void;
  /** Fills the epoch's record (validation metrics) before anyone reads it. */
  onEpochMetrics?(record: EpochRecord, loop: TrainingLoop): void | Promise<void>;
  /** After the epoch's record joined the history and the position moved to the next epoch. */
  onEpochEnd?(record: EpochRecord, loop: TrainingLoop): void | Promise<void>;
  /** A step was refused; return true when the callback put the loop back at a good state to go on from. */
  onDivergence?(error: DivergenceError, loop: TrainingLoop): boolean;
  /** After the last step, however training ended (finished, stopped, aborted). Not called when it throws. */
  onTrainEnd?(loop: TrainingLoop): void | Promise<void>;
  saveState?(): CallbackState;
  loadState?(state: CallbackState, loop: TrainingLoop): void;
}
