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
import { batchTensors, gatherRows } from './batches.js';
import { accuracy, predictLogits } from '../models/predict.js';
import { makeOptimizer } from './optimizer.js';
import { checkpointLabel, clearCheckpoints, latestCheckpoint, saveCheckpoint, type Checkpoint, type CheckpointState } from './checkpoint.js';
import type { EpochRecord, TrainEvent } from './events.js';
import type { TappedModel } from '../models/taps.js';
import { modelInputs } from '../models/inputs.js';
import { mathRandomPosition, restoreMathRandomPosition } from '../util/seeded_random.js';

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
  studentTaps?: TappedModel;
  /**
   * The teacher's tapped features for the training samples `indices` (whose fields are `inputs`),
   * keyed by tap name; the trainer disposes them. Needed when a term taps teacher features.
   */
  teacherFeatures?: (indices: Int32Array, inputs: Readonly<Record<string, tf.Tensor>>) => Record<string, tf.Tensor>;
  epochs: number;
  batchSize: number;
  optimizer: OptimizerSpec;
  /** Seeds the shuffling order. */
  seed: number;
  onEvent?: (event: TrainEvent) => void;
  /** Where and how often to checkpoint; without it the stage keeps no checkpoints. */
  checkpoints?: CheckpointOptions;
  /** Stop when the global gradient norm passes this (a NaN or infinite loss always stops). */
  maxGradNorm?: number;
}

export interface CheckpointOptions {
  /** This stage's own directory, e.g. <run>/checkpoints/student. */
  directory: string;
  /** At the end of every epoch, and within an epoch once this much time has passed since the last. */
  everyMs: number;
  /** Checkpoints kept; older ones are deleted. */
  keep: number;
  /** Continue from the newest checkpoint in `directory`; otherwise its old checkpoints are removed. */
  resume: boolean;
}

/** A stage stopped because it diverged; the last good checkpoint (if any) is kept. */
export class DivergenceError extends Error {
  override readonly name = 'DivergenceError';
  constructor(message: string, readonly stage: string, readonly checkpoint: string | null) {
    super(message);
  }
}

export interface StageResult {
  history: EpochRecord[];
  trainSeconds: number;
}

/** Longest stretch of training steps between two turns of the event loop. */
const yieldMs = 20;

export type { EpochRecord, TrainEvent };

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
  const forward = (inputs: Readonly<Record<string, tf.Tensor>>): { studentLogits: tf.Tensor2D; features: Record<string, tf.Tensor> } => {
    if (!tapped) return { studentLogits: model.apply(modelInputs(model, inputs), { training: true }) as tf.Tensor2D, features: {} };
    const { model: multi, outputs: indices } = options.studentTaps!;
    const outputs = multi.apply(modelInputs(multi, inputs), { training: true }) as tf.Tensor[];
    return {
      studentLogits: outputs[0] as tf.Tensor2D,
      features: Object.fromEntries(Object.entries(indices).map(([name, index]) => [name, outputs[index]])),
    };
  };
  const rng = new Rng(options.seed);
  const count = train.labels.length;
  const stepsPerEpoch = batchCount(count, batchSize);
  // A batch larger than the split is the whole split, as in Keras' fit.
  const buffers = allocateBatch(train, Math.min(batchSize, count));
  const checkpoints = options.checkpoints;
  // Everything a checkpoint restores: weights (trainable or not: batch-norm statistics too), then
  // the optimizer's slots of the trained variables.
  const saved = [...[model, ...adapters].flatMap((each) => each.weights.map((weight) => weight.read() as tf.Variable)), ...terms.flatMap((term) => term.loss.variables ?? [])];
  let resumed = checkpoints?.resume ? latestCheckpoint(checkpoints.directory) : null;
  if (checkpoints && !checkpoints.resume) clearCheckpoints(checkpoints.directory);
  let history: EpochRecord[] = [];
  let startEpoch = 1;
  let previousSeconds = 0;
  let globalStep = 0;
  if (resumed) {
    restore(resumed, saved, variables, optimizer);
    ({ history, trainSeconds: previousSeconds, globalStep } = resumed.state);
    startEpoch = resumed.state.epoch;
    restoreMathRandomPosition(resumed.state.mathRandomPosition);
    rng.position = resumed.state.shufflePosition;
    const where = resumed.state.complete ? `finished in ${checkpointLabel(resumed.directory)}, not retrained` : `resuming from ${checkpointLabel(resumed.directory)} (epoch ${startEpoch}, step ${resumed.state.step})`;
    emit({ type: 'info', message: `${options.stage}: ${where}` });
    if (resumed.state.complete) {
      optimizer.dispose();
      return { history, trainSeconds: previousSeconds };
    }
  }
  const started = performance.now();
  let lastYield = started;
  let lastCheckpoint = started;
  let lastSaved: string | null = resumed?.directory ?? null;
  const checkpoint = (state: Omit<CheckpointState, 'format' | 'tensorLengths' | 'tensorsSha256' | 'stage' | 'globalStep' | 'history' | 'trainSeconds' | 'optimizerIterations' | 'mathRandomPosition'>) => {
    if (!checkpoints) return;
    const optimizerState = optimizer.exportState(variables);
    lastSaved = saveCheckpoint(checkpoints.directory, {
      ...state, stage: options.stage, globalStep, history, trainSeconds: previousSeconds + (performance.now() - started) / 1000,
      optimizerIterations: optimizerState.iterations, mathRandomPosition: mathRandomPosition(),
    }, [...saved.map((variable) => Float32Array.from(variable.dataSync() as Float32Array)), ...optimizerState.slots.flat()], checkpoints.keep);
    lastCheckpoint = performance.now();
  };
  emit({ type: 'stage-start', stage: options.stage, epochs: options.epochs, stepsPerEpoch });

  try {
    for (let epoch = startEpoch; epoch <= options.epochs; epoch++) {
      const epochStarted = performance.now();
      const shufflePosition = rng.position;
      const order = shuffledOrder(count, rng);
      const partial = resumed && resumed.state.epoch === epoch ? resumed.state.partial : { lossSum: 0, termSums: terms.map(() => 0), seconds: 0 };
      const firstStep = resumed && resumed.state.epoch === epoch ? resumed.state.step : 0;
      resumed = null;
      const termSums = Float64Array.from(partial.termSums);
      let lossSum = partial.lossSum;
      for (let step = firstStep; step < stepsPerEpoch; step++) {
        const indices = order.subarray(step * batchSize, Math.min(count, (step + 1) * batchSize));
        const batch = batchTensors(train, indices, buffers);
        // A streamed dataset reads the next batch on its reader thread while this step computes.
        if (step + 1 < stepsPerEpoch) train.samples.prefetch?.(order.subarray((step + 1) * batchSize, Math.min(count, (step + 2) * batchSize)));
        const teacherLogits = options.teacherLogits ? gatherRows(options.teacherLogits, train.numClasses, indices) : null;
        const teacherFeatures = readsTeacher ? options.teacherFeatures!(indices, batch.inputs) : {};
        const position: TrainingPosition = { progress: ((epoch - 1) * stepsPerEpoch + step) / (options.epochs * stepsPerEpoch), epoch };
        const termValues: tf.Scalar[] = [];
        const { value: cost, grads } = tf.variableGrads(() => {
          const { studentLogits, features } = forward(batch.inputs);
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
        const values = termValues.map((value) => value.dataSync()[0]);
        const gradients = variables.map((variable) => grads[variable.name]);
        const problem = divergence(loss, values, terms, gradients, options.maxGradNorm);
        // A diverged step must not reach the weights.
        if (problem === null) optimizer.step(variables, gradients);
        tf.dispose([grads, cost, ...Object.values(batch.inputs), batch.labels, ...termValues, ...(teacherLogits ? [teacherLogits] : []), ...Object.values(teacherFeatures)]);
        if (problem !== null) {
          const kept = lastSaved ? `; the last good checkpoint is ${lastSaved}` : '';
          throw new DivergenceError(`stage '${options.stage}' diverged at epoch ${epoch}, step ${step + 1}: ${problem}${kept}`, options.stage, lastSaved);
        }
        values.forEach((value, i) => (termSums[i] += value));
        lossSum += loss;
        globalStep++;
        emit({ type: 'step', stage: options.stage, epoch, epochs: options.epochs, step: step + 1, stepsPerEpoch, loss });
        if (checkpoints && step + 1 < stepsPerEpoch && performance.now() - lastCheckpoint >= checkpoints.everyMs) {
          checkpoint({ epoch, step: step + 1, complete: false, shufflePosition, partial: { lossSum, termSums: [...termSums], seconds: partial.seconds + (performance.now() - epochStarted) / 1000 } });
        }
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
        seconds: partial.seconds + (performance.now() - epochStarted) / 1000,
        ...(Object.keys(state).length > 0 ? { state } : {}),
      };
      history = [...history, record];
      checkpoint({ epoch: epoch + 1, step: 0, complete: epoch === options.epochs, shufflePosition: rng.position, partial: { lossSum: 0, termSums: terms.map(() => 0), seconds: 0 } });
      emit({ type: 'epoch', stage: options.stage, epochs: options.epochs, ...record });
    }
  } finally {
    optimizer.dispose();
  }
  const trainSeconds = previousSeconds + (performance.now() - started) / 1000;
  emit({ type: 'stage-end', stage: options.stage, seconds: trainSeconds });
  return { history, trainSeconds };
}

/** Puts a checkpoint's weights, variables and optimizer state back. */
function restore(checkpoint: Checkpoint, saved: tf.Variable[], trained: tf.Variable[], optimizer: ReturnType<typeof makeOptimizer>): void {
  const { tensors, state } = checkpoint;
  if (tensors.length < saved.length) throw new Error(`checkpoint ${checkpoint.directory} holds ${tensors.length} arrays; this stage has ${saved.length} variables`);
  saved.forEach((variable, i) => {
    if (tensors[i].length !== variable.size) throw new Error(`checkpoint ${checkpoint.directory}: '${variable.name}' has ${tensors[i].length} values, the model ${variable.size}`);
    const value = tf.tensor(tensors[i], variable.shape);
    variable.assign(value);
    value.dispose();
  });
  // The optimizer's slots follow, per trained variable: as many arrays as it had slots (0 before its first step).
  const rest = tensors.slice(saved.length);
  const perVariable = trained.length === 0 ? 0 : rest.length / trained.length;
  optimizer.importState(trained, { iterations: state.optimizerIterations, slots: trained.map((_, i) => rest.slice(i * perVariable, (i + 1) * perVariable)) });
}

/** Why a step must not be applied: a non-finite loss (naming the term) or a gradient norm over the bound; null when it is fine. */
function divergence(loss: number, values: number[], terms: WeightedTerm[], gradients: tf.Tensor[], maxGradNorm: number | undefined): string | null {
  const bad = values.findIndex((value) => !Number.isFinite(value));
  if (bad >= 0) return `term '${terms[bad].name}' is ${values[bad]}`;
  if (!Number.isFinite(loss)) return `the loss is ${loss}`;
  if (maxGradNorm === undefined) return null;
  const norm = Math.sqrt(tf.tidy(() => tf.addN(gradients.map((gradient) => tf.sum(tf.square(gradient)))).dataSync()[0]));
  return norm > maxGradNorm ? `the gradient norm ${norm.toPrecision(4)} is over maxGradNorm ${maxGradNorm}` : null;
}
