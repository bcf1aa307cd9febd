/**
 * The training loop shared by every stage (teacher, scratch baseline, distilled student):
 * minimise Σ weightᵢ · termᵢ over shuffled mini-batches, validate after each epoch.
 * The loop knows nothing about particular methods; each term is an opaque loss function.
 */
import * as tf from '../engine/tf.js';
import type { Dataset } from '../data/dataset.js';
import type { OptimizerSpec } from '../config/schema.js';
import type { TermLoss } from '../methods/index.js';
import { scheduleValue, type Scheduled, type TrainingPosition } from '../schedules/index.js';
import { Rng } from '../util/rng.js';
import { allocateBatch, batchCount, shuffledOrder } from '../data/batches.js';
import { accuracy, batchTensors, gatherRows, predictLogits } from './batches.js';
import { makeOptimizer } from './optimizer.js';

export interface WeightedTerm {
  /** Logged under this name, e.g. 'kd', 'ce'. */
  name: string;
  /** A number, or a schedule over the stage. */
  weight: Scheduled;
  loss: TermLoss;
  /** For feature terms: the student tap (an output name of `StageOptions.studentTaps`)… */
  studentTap?: string;
  /** …the teacher tap (a key of what `StageOptions.teacherFeatures` returns)… */
  teacherTap?: string;
  /** …and the trainable projection applied to the student's feature first, if any. It trains with the student. */
  adapter?: tf.LayersModel;
}

/** The student seen as a multi-output model, [logits, ...tapped layers]; `outputs[tap]` indexes them. */
export interface StudentTaps {
  model: tf.LayersModel;
  outputs: Record<string, number>;
}

export interface StageOptions {
  /** Stage name in logs and summary.json: 'teacher', 'scratch', 'student'. */
  stage: string;
  model: tf.LayersModel;
  train: Dataset;
  validation: Dataset;
  /** Teacher logits aligned with `train` samples, [n, classes] row-major; null without a teacher. */
  teacherLogits: Float32Array | null;
  terms: WeightedTerm[];
  /** Needed when a term taps student features. */
  studentTaps?: StudentTaps;
  /**
   * The teacher's tapped features for the training samples `indices` (whose images are `images`),
   * keyed by tap name; the trainer disposes them. Needed when a term taps teacher features.
   */
  teacherFeatures?: (indices: Int32Array, images: tf.Tensor4D) => Record<string, tf.Tensor>;
  epochs: number;
  batchSize: number;
  optimizer: OptimizerSpec;
  /** Seeds the shuffling order. */
  seed: number;
  onEvent?: (event: TrainEvent) => void;
}

export interface EpochRecord {
  epoch: number;
  /** Mean of the weighted total loss over the epoch's steps. */
  loss: number;
  /** Mean of each unweighted term over the epoch, keyed by term name. */
  terms: Record<string, number>;
  validationAccuracy: number;
  seconds: number;
  /** Values terms report at the epoch's end, keyed `term.name`, e.g. `ctkd.temperature`. */
  state?: Record<string, number>;
}

export type TrainEvent =
  | { type: 'stage-start'; stage: string; epochs: number; stepsPerEpoch: number }
  | { type: 'step'; stage: string; epoch: number; epochs: number; step: number; stepsPerEpoch: number; loss: number }
  | ({ type: 'epoch'; stage: string; epochs: number } & EpochRecord)
  | { type: 'stage-end'; stage: string; seconds: number };

export interface StageResult {
  history: EpochRecord[];
  trainSeconds: number;
}

/** Longest stretch of training steps between two turns of the event loop. */
const yieldMs = 20;

export async function trainStage(options: StageOptions): Promise<StageResult> {
  const { model, train, terms, batchSize } = options;
  const emit = options.onEvent ?? (() => {});
  const optimizer = makeOptimizer(options.optimizer);
  const adapters = terms.flatMap((term) => (term.adapter ? [term.adapter] : []));
  const variables = [
    ...[model, ...adapters].flatMap((trained) => trained.trainableWeights.map((weight) => weight.read() as tf.Variable)),
    ...terms.flatMap((term) => term.loss.variables ?? []),
  ];
  const tapped = terms.some((term) => term.studentTap !== undefined);
  if (tapped && options.studentTaps === undefined) throw new Error(`stage '${options.stage}': a term taps student features but the stage has no studentTaps`);
  const readsTeacher = terms.some((term) => term.teacherTap !== undefined);
  if (readsTeacher && options.teacherFeatures === undefined) {
    throw new Error(`stage '${options.stage}': a term taps teacher features but the stage has no teacherFeatures`);
  }
  /** The student's logits and, when terms tap it, its features, in training mode. */
  const forward = (images: tf.Tensor4D): { studentLogits: tf.Tensor2D; features: Record<string, tf.Tensor> } => {
    if (!tapped) return { studentLogits: model.apply(images, { training: true }) as tf.Tensor2D, features: {} };
    const { model: multi, outputs: indices } = options.studentTaps!;
    const outputs = multi.apply(images, { training: true }) as tf.Tensor[];
    return {
      studentLogits: outputs[0] as tf.Tensor2D,
      features: Object.fromEntries(Object.entries(indices).map(([name, index]) => [name, outputs[index]])),
    };
  };
  const rng = new Rng(options.seed);
  const count = train.labels.length;
  const stepsPerEpoch = batchCount(count, batchSize);
  const history: EpochRecord[] = [];
  const buffers = allocateBatch(train, batchSize);
  const started = performance.now();
  let lastYield = started;
  emit({ type: 'stage-start', stage: options.stage, epochs: options.epochs, stepsPerEpoch });

  try {
    for (let epoch = 1; epoch <= options.epochs; epoch++) {
      const epochStarted = performance.now();
      const order = shuffledOrder(count, rng);
      const termSums = new Float64Array(terms.length);
      let lossSum = 0;
      for (let step = 0; step < stepsPerEpoch; step++) {
        const indices = order.subarray(step * batchSize, Math.min(count, (step + 1) * batchSize));
        const batch = batchTensors(train, indices, buffers);
        const teacherLogits = options.teacherLogits ? gatherRows(options.teacherLogits, train.numClasses, indices) : null;
        const teacherFeatures = readsTeacher ? options.teacherFeatures!(indices, batch.images) : {};
        const position: TrainingPosition = { progress: ((epoch - 1) * stepsPerEpoch + step) / (options.epochs * stepsPerEpoch), epoch };
        const termValues: tf.Scalar[] = [];
        const { value: cost, grads } = tf.variableGrads(() => {
          const { studentLogits, features } = forward(batch.images);
          let total: tf.Scalar = tf.scalar(0);
          for (const term of terms) {
            const studentFeature = term.studentTap === undefined ? undefined : features[term.studentTap];
            const value = term.loss({
              studentLogits,
              teacherLogits,
              labels: batch.labels,
              studentFeature: studentFeature && term.adapter ? (term.adapter.apply(studentFeature, { training: true }) as tf.Tensor) : studentFeature,
              teacherFeature: term.teacherTap === undefined ? undefined : teacherFeatures[term.teacherTap],
              position,
            });
            termValues.push(tf.keep(value));
            total = tf.add(total, tf.mul(value, scheduleValue(term.weight, position)));
          }
          return total;
        }, variables);
        const loss = cost.dataSync()[0];
        termValues.forEach((value, i) => (termSums[i] += value.dataSync()[0]));
        // A diverged step must not reach the weights.
        if (Number.isFinite(loss)) optimizer.step(variables, variables.map((variable) => grads[variable.name]));
        tf.dispose([grads, cost, batch.images, batch.labels, ...termValues, ...(teacherLogits ? [teacherLogits] : []), ...Object.values(teacherFeatures)]);
        if (!Number.isFinite(loss)) {
          throw new Error(`stage '${options.stage}' diverged: loss is ${loss} at epoch ${epoch}, step ${step + 1}`);
        }
        lossSum += loss;
        emit({ type: 'step', stage: options.stage, epoch, epochs: options.epochs, step: step + 1, stepsPerEpoch, loss });
        // Let timers (progress rendering, signals) run between synchronous steps, every
        // yieldMs: yielding after every step cost 0.15 ms of a small model's 4.7 ms step.
        if (performance.now() - lastYield >= yieldMs) {
          await new Promise((resolve) => setImmediate(resolve));
          lastYield = performance.now();
        }
      }
      const validationAccuracy = options.validation.labels.length > 0
        ? accuracy(predictLogits(model, options.validation), options.validation.labels)
        : Number.NaN;
      const state = Object.fromEntries(terms.flatMap((term) =>
        Object.entries(term.loss.state?.() ?? {}).map(([key, value]) => [`${term.name}.${key}`, value])));
      const record: EpochRecord = {
        epoch,
        loss: lossSum / stepsPerEpoch,
        terms: Object.fromEntries(terms.map((term, i) => [term.name, termSums[i] / stepsPerEpoch])),
        validationAccuracy,
        seconds: (performance.now() - epochStarted) / 1000,
        ...(Object.keys(state).length > 0 ? { state } : {}),
      };
      history.push(record);
      emit({ type: 'epoch', stage: options.stage, epochs: options.epochs, ...record });
    }
  } finally {
    optimizer.dispose();
  }
  const trainSeconds = (performance.now() - started) / 1000;
  emit({ type: 'stage-end', stage: options.stage, seconds: trainSeconds });
  return { history, trainSeconds };
}
