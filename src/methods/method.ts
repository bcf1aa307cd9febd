import type { z } from 'zod';
import type * as tf from '../engine/tf.js';

/** What every loss term sees at one training step. Teacher outputs are already constants. */
export interface TermInputs {
  /** Student logits [batch, classes]; gradients flow through these. */
  readonly studentLogits: tf.Tensor2D;
  /** Teacher logits [batch, classes] (soft labels, before any temperature), or null without a teacher. */
  readonly teacherLogits: tf.Tensor2D | null;
  /** True class indices [batch], int32. */
  readonly labels: tf.Tensor1D;
}

/** One loss term, built from its options; returns a scalar averaged over the batch. */
export type TermLoss = (inputs: TermInputs) => tf.Scalar;

/**
 * A distillation method: its paper, whether it needs a teacher, the schema of its options
 * (everything in the config term except `method` and `weight`), and how to build the loss.
 */
export interface DistillationMethod<Options> {
  readonly name: string;
  readonly paper: string;
  readonly needsTeacher: boolean;
  readonly options: z.ZodType<Options>;
  build(options: Options): TermLoss;
}
