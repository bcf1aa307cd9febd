import type { z } from 'zod';
import type * as tf from '../engine/tf.js';
import type { TrainingPosition } from '../schedules/index.js';

/** What every loss term sees at one training step. Teacher outputs are already constants. */
export interface TermInputs {
  /** Student logits [batch, classes]; gradients flow through these. */
  readonly studentLogits: tf.Tensor2D;
  /** Teacher logits [batch, classes] (soft labels, before any temperature), or null without a teacher. */
  readonly teacherLogits: tf.Tensor2D | null;
  /** True class indices [batch], int32. */
  readonly labels: tf.Tensor1D;
  /** The student's tapped feature (after its adapter, if any), for feature- and relation-based terms. */
  readonly studentFeature?: tf.Tensor;
  /** The teacher's tapped feature, a constant. */
  readonly teacherFeature?: tf.Tensor;
  /** The batch's attention mask [batch, sequence] (int32, 1 for a token, 0 for padding), when its samples are texts. */
  readonly attentionMask?: tf.Tensor2D;
  /** Where training is, for scheduled options such as a temperature. */
  readonly position: TrainingPosition;
  /** The batch's samples: their positions in the training set, in batch order (the loop always passes them). */
  readonly indices?: Int32Array;
  /** The step within the epoch, from 0; with `position.epoch`, it seeds what a term draws at random, resume-safe. */
  readonly step?: number;
}

/**
 * One loss term, built from its options; returns a scalar averaged over the batch. A term with
 * parameters of its own (a learned temperature) lists them in `variables`, which train with the
 * student; `buffers` is state that checkpoints save and restore but nothing trains (CRD's memory
 * banks); `afterStep()` runs once the step's update has been applied (not after a refused step),
 * for a term to write its buffers; `state()` reports values worth logging each epoch; `dispose()`
 * frees them.
 */
export type TermLoss = ((inputs: TermInputs) => tf.Scalar) & {
  variables?: tf.Variable[];
  buffers?: tf.Variable[];
  afterStep?: () => void;
  state?: () => Record<string, number>;
  dispose?: () => void;
};

/** What a term may need to know of its stage when it is built. */
export interface TermContext {
  /** The training set's size. */
  samples: number;
  /** The training set's class indices, one per sample. */
  labels: Int32Array;
  /** Seeds the term's own initial values and draws; distinct per term of a stage. */
  seed: number;
  /** A feature term's tapped shapes, without the batch dimension. */
  studentShape?: readonly number[];
  teacherShape?: readonly number[];
  /** Says something worth knowing (an info event). */
  emit?: (message: string) => void;
}

/**
 * What a feature term needs of the student's and the teacher's tapped features:
 *   same-shape    equal shapes (hint); `adapter: auto` projects the student's onto the teacher's
 *   same-spatial  NHWC maps of equal height and width, channels free (attention)
 *   batch         anything with the same batch size (rkd, sp)
 */
export type FeatureRequirement = 'same-shape' | 'same-spatial' | 'batch';

/** The options every feature term has: the layers it taps, and whether to adapt shapes. */
export interface FeatureTermOptions {
  /** A student layer name, or 'penultimate' for the input of the logits layer. */
  student: string;
  /** A teacher layer name, or 'penultimate'. */
  teacher: string;
  /** 'auto' inserts a trainable projection when the method needs shapes to match; 'none' never does. */
  adapter: 'auto' | 'none';
}

/**
 * A distillation method: its paper, whether it needs a teacher, the schema of its options
 * (everything in the config term except `method` and `weight`), and how to build the loss.
 * Feature methods say what they need of their taps, and their options include FeatureTermOptions.
 */
export interface DistillationMethod<Options> {
  readonly name: string;
  readonly paper: string;
  readonly needsTeacher: boolean;
  readonly features?: FeatureRequirement;
  readonly options: z.ZodType<Options>;
  build(options: Options, context?: TermContext): TermLoss;
}
