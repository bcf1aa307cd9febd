/**
 * The training loop every stage runs (teacher, scratch baseline, distilled student, and
 * distill()): minimise Σ weightᵢ · termᵢ over shuffled mini-batches. The loop knows nothing of
 * particular methods (each term is an opaque loss) nor of validation, checkpoints, divergence or
 * progress: those are callbacks (callbacks/).
 */
import * as tf from '../engine/tf.js';
import { withConstantInputs } from '../engine/conv_layer.js';
import { readScalars } from '../engine/placement.js';
import type { Dataset, SampleBatch } from '../data/dataset.js';
import type { BatchAugmenter } from '../data/augment.js';
import { allocateBatch, batchCount, shuffledOrder, type BatchBuffers } from '../data/batches.js';
import type { TermLoss } from '../methods/index.js';
import type { TappedModel } from '../models/taps.js';
import { modelInputs } from '../models/inputs.js';
import { scheduleValue, type Scheduled, type TrainingPosition } from '../schedules/index.js';
import { Rng } from '../util/rng.js';
import { withMathRandom } from '../util/seeded_random.js';
import { batchTensors, gatherRows } from './batches.js';
import type { FusedOptimizer } from './optimizer.js';
import type { EpochRecord, TrainEvent } from './events.js';
import { DivergenceError, type Callback, type LoopPosition, type StepValues, type TrainingLoop } from './callbacks/callback.js';

export interface WeightedTerm {
  /** Logged under this name, e.g. 'kd', 'ce'. */
  name: string;
  /** A number, or a schedule over the stage. */
  weight: Scheduled;
  loss: TermLoss;
  /** For feature terms: the student tap (an output name of `LoopOptions.studentTaps`)… */
  studentTap?: string;
  /** …the teacher tap (a key of what `LoopOptions.teacherFeatures` returns)… */
  teacherTap?: string;
  /** …and the trainable projection applied to the student's feature first, if any. It trains with the student. */
  adapter?: tf.LayersModel;
}

export interface LoopOptions {
  stage: string;
  model: tf.LayersModel;
  train: Dataset;
  terms: WeightedTerm[];
  /** Teacher logits aligned with `train` samples, [n, classes] row-major; null without a teacher. */
  teacherLogits: Float32Array | null;
  /** Needed when a term taps student features. */
  studentTaps?: TappedModel;
  /** The teacher's tapped features for the training samples `indices`, keyed by tap name; the loop disposes them. */
  teacherFeatures?: (indices: Int32Array, inputs: Readonly<Record<string, tf.Tensor>>) => Record<string, tf.Tensor>;
  /**
   * The teacher run on each training batch as the student sees it (after augmentation), in
   * inference mode, instead of `teacherLogits` and `teacherFeatures` ('online' soft labels).
   */
  onlineTeacher?: OnlineTeacher;
  /** Changes each training batch on the host before it becomes tensors (data/augment.ts). */
  augment?: BatchAugmenter;
  epochs: number;
  batchSize: number;
  optimizer: FusedOptimizer;
  /**
   * The optimizer's learning rate before each step, as a number or a schedule over the stage;
   * left as the optimizer has it when absent (a caller's tf.Optimizer).
   */
  learningRate?: Scheduled;
  /** Seeds the shuffling order and the dropout masks. */
  seed: number;
  callbacks: readonly Callback[];
  /** Stops after the current step; training resolves with what it has. */
  signal?: AbortSignal;
  onEvent?: (event: TrainEvent) => void;
}

/** What the teacher says about one batch: its logits [b, classes] and its tapped features, which the loop disposes. */
export type OnlineTeacher = (
  samples: SampleBatch,
  count: number,
  inputs: Readonly<Record<string, tf.Tensor>>,
) => Promise<{ logits: tf.Tensor2D; features: Record<string, tf.Tensor> }>;

/** One step's batch: the student's inputs and labels, and what the teacher says about them. */
interface PreparedBatch {
  /** The samples' positions in the training set. */
  indices: Int32Array;
  inputs: Record<string, tf.Tensor>;
  labels: tf.Tensor1D;
  teacherLogits: tf.Tensor2D | null;
  teacherFeatures: Record<string, tf.Tensor>;
}

export interface LoopResult {
  history: EpochRecord[];
  trainSeconds: number;
  /** Why training ended before its last epoch: a callback's reason, or 'aborted'; null when it ran them all. */
  stopped: string | null;
}

/** Longest stretch of training steps between two turns of the event loop. */
const yieldMs = 20;

/** The stop reason of a run whose AbortSignal fired: it stopped, but did not finish. */
export const ABORTED = 'aborted';

/** Dropout's generator is seeded apart from the shuffling one, from the same seed. */
const DROPOUT_SEED = 0x5eed;

export async function runLoop(options: LoopOptions): Promise<LoopResult> {
  const loop = new Loop(options);
  return loop.run();
}

class Loop implements TrainingLoop {
  readonly stage: string;
  readonly model: tf.LayersModel;
  readonly epochs: number;
  readonly stepsPerEpoch: number;
  position: LoopPosition;
  stopReason: string | null = null;
  private readonly trained: tf.Variable[];
  private readonly saved: tf.Variable[];
  private readonly shuffle: Rng;
  private readonly dropout: Rng;
  private readonly tapped: boolean;
  private readonly readsTeacher: boolean;
  private started = performance.now();
  private epochStarted = performance.now();
  private buffers: BatchBuffers | null = null;
  /** Set by restore(): the current epoch's order must be drawn again from the restored position. */
  private reshuffle = true;

  constructor(private readonly options: LoopOptions) {
    const { model, terms } = options;
    this.stage = options.stage;
    this.model = model;
    this.epochs = options.epochs;
    this.stepsPerEpoch = batchCount(options.train.labels.length, options.batchSize);
    const adapters = terms.flatMap((term) => (term.adapter ? [term.adapter] : []));
    const termVariables = terms.flatMap((term) => term.loss.variables ?? []);
    this.trained = [
      ...[model, ...adapters].flatMap((each) => each.trainableWeights.map((weight) => weight.read() as tf.Variable)),
      ...termVariables,
    ];
    // Everything a snapshot holds: weights, trainable or not (batch-norm statistics too), then the terms' own
    // variables, then the terms' buffers (state no optimizer touches, such as CRD's memory banks).
    this.saved = [
      ...[model, ...adapters].flatMap((each) => each.weights.map((weight) => weight.read() as tf.Variable)),
      ...termVariables,
      ...terms.flatMap((term) => term.loss.buffers ?? []),
    ];
    this.tapped = terms.some((term) => term.studentTap !== undefined);
    if (this.tapped && options.studentTaps === undefined)
      throw new Error(`stage '${this.stage}': a term taps student features but the stage has no studentTaps`);
    this.readsTeacher = terms.some((term) => term.teacherTap !== undefined);
    if (this.readsTeacher && options.teacherFeatures === undefined && options.onlineTeacher === undefined)
      throw new Error(`stage '${this.stage}': a term taps teacher features but the stage has no teacherFeatures`);
    this.shuffle = new Rng(options.seed);
    this.dropout = new Rng(options.seed ^ DROPOUT_SEED);
    this.position = {
      epoch: 1,
      step: 0,
      globalStep: 0,
      shufflePosition: this.shuffle.position,
      dropoutPosition: this.dropout.position,
      partial: this.emptyPartial(),
      history: [],
      trainSeconds: 0,
    };
  }

  get learningRate(): number {
    return this.options.optimizer.learningRate;
  }

  setLearningRate(learningRate: number): void {
    const scheduled = this.scheduledLearningRate();
    if (scheduled !== undefined && scheduled > 0) this.position.learningRateScale = learningRate / scheduled;
    this.options.optimizer.learningRate = learningRate;
  }

  scaleLearningRate(factor: number): void {
    this.position.learningRateScale = (this.position.learningRateScale ?? 1) * factor;
    const scheduled = this.scheduledLearningRate();
    this.options.optimizer.learningRate =
      scheduled === undefined ? this.options.optimizer.learningRate * factor : this.position.learningRateScale * scheduled;
  }

  /** The schedule's learning rate for the next step, before any scale; undefined without a schedule. */
  private scheduledLearningRate(): number | undefined {
    const { learningRate } = this.options;
    return learningRate === undefined
      ? undefined
      : scheduleValue(learningRate, this.trainingPosition(this.position.epoch, this.position.step));
  }

  /** Where step `step` (from 0) of `epoch` stands in the stage, for schedules. */
  private trainingPosition(epoch: number, step: number): TrainingPosition {
    return { progress: ((epoch - 1) * this.stepsPerEpoch + step) / (this.epochs * this.stepsPerEpoch), epoch };
  }

  elapsedSeconds(): number {
    return this.position.trainSeconds + (performance.now() - this.started) / 1000;
  }

  stop(reason: string): void {
    this.stopReason ??= reason;
  }

  get finished(): boolean {
    return this.position.epoch > this.epochs || (this.stopReason !== null && this.stopReason !== ABORTED);
  }

  emit(event: TrainEvent): void {
    this.options.onEvent?.(event);
  }

  snapshot() {
    const optimizer = this.options.optimizer.exportState(this.trained);
    this.position.dropoutPosition = this.dropout.position;
    const partial = { ...this.position.partial, seconds: this.position.partial.seconds + (performance.now() - this.epochStarted) / 1000 };
    const position = structuredClone({ ...this.position, partial, trainSeconds: this.elapsedSeconds() });
    return {
      position,
      tensors: [...this.saved.map((variable) => Float32Array.from(variable.dataSync() as Float32Array)), ...optimizer.slots.flat()],
      optimizerIterations: optimizer.iterations,
    };
  }

  restore(snapshot: ReturnType<Loop['snapshot']>, source: string): void {
    const { tensors } = snapshot;
    if (tensors.length < this.saved.length)
      throw new Error(`${source} holds ${tensors.length} arrays; stage '${this.stage}' has ${this.saved.length} variables`);
    this.saved.forEach((variable, i) => {
      if (tensors[i].length !== variable.size)
        throw new Error(`${source}: '${variable.name}' has ${tensors[i].length} values, the model ${variable.size}`);
      variable.assign(tf.tensor(tensors[i], variable.shape));
    });
    const rest = tensors.slice(this.saved.length);
    const perVariable = this.trained.length === 0 ? 0 : rest.length / this.trained.length;
    this.options.optimizer.importState(this.trained, {
      iterations: snapshot.optimizerIterations,
      slots: this.trained.map((_, i) => rest.slice(i * perVariable, (i + 1) * perVariable)),
    });
    this.position = structuredClone(snapshot.position);
    this.started = performance.now();
    this.epochStarted = this.started;
    this.dropout.position = this.position.dropoutPosition;
    this.reshuffle = true;
  }

  readWeights(): Float32Array[] {
    return this.model.weights.map((weight) => Float32Array.from(weight.read().dataSync() as Float32Array));
  }

  readWeightsAsync(): Promise<Float32Array[]> {
    return Promise.all(this.model.weights.map(async (weight) => Float32Array.from((await weight.read().data()) as Float32Array)));
  }

  writeWeights(weights: Float32Array[]): void {
    this.model.weights.forEach((weight, i) => {
      (weight.read() as tf.Variable).assign(tf.tensor(weights[i], weight.read().shape));
    });
  }

  async run(): Promise<LoopResult> {
    const { callbacks, train, batchSize, signal } = this.options;
    const count = train.labels.length;
    for (const callback of callbacks) await callback.onTrainBegin?.(this);
    const complete = () => this.position.epoch > this.epochs || this.stopReason !== null;
    this.started = performance.now();
    const ran = !complete();
    if (ran) this.emit({ type: 'stage-start', stage: this.stage, epochs: this.epochs, stepsPerEpoch: this.stepsPerEpoch });
    // A batch larger than the split is the whole split, as in Keras' fit.
    this.buffers = allocateBatch(train, Math.min(batchSize, count));
    let order: Int32Array = new Int32Array(0);
    let lastYield = performance.now();
    while (!complete()) {
      if (this.reshuffle) {
        this.shuffle.position = this.position.shufflePosition;
        order = shuffledOrder(count, this.shuffle);
        this.reshuffle = false;
        this.epochStarted = performance.now();
      }
      const { epoch, step } = this.position;
      if (signal?.aborted) {
        this.stop(ABORTED);
        break;
      }
      if (step < this.stepsPerEpoch) {
        const indices = order.subarray(step * batchSize, Math.min(count, (step + 1) * batchSize));
        // A streamed dataset reads the next batch on its reader thread while this step computes.
        if (step + 1 < this.stepsPerEpoch)
          train.samples.prefetch?.(order.subarray((step + 1) * batchSize, Math.min(count, (step + 2) * batchSize)));
        const prepared = this.prepare(indices, epoch, step);
        const stepped = this.step(prepared instanceof Promise ? await prepared : prepared, epoch, step);
        const values = stepped instanceof Promise ? await stepped : stepped;
        if (values === null) continue; // refused, and a callback put the loop back at a good state
        for (const callback of callbacks) callback.onStepEnd?.(values, this);
        if (performance.now() - lastYield >= yieldMs) {
          // Let timers (progress, signals) run between synchronous steps, every yieldMs: yielding
          // after every step cost 0.15 ms of a small model's 4.7 ms step. A page has no setImmediate.
          await new Promise((resolve) => (typeof setImmediate === 'function' ? setImmediate(resolve) : setTimeout(resolve, 0)));
          lastYield = performance.now();
        }
        continue;
      }
      const { partial } = this.position;
      const record: EpochRecord = {
        epoch,
        loss: partial.lossSum / this.stepsPerEpoch,
        terms: Object.fromEntries(this.options.terms.map((term, i) => [term.name, partial.termSums[i] / this.stepsPerEpoch])),
        validationAccuracy: Number.NaN,
        seconds: 0,
        ...this.termState(),
      };
      for (const callback of callbacks) await callback.onEpochMetrics?.(record, this);
      record.seconds = partial.seconds + (performance.now() - this.epochStarted) / 1000;
      this.position = {
        ...this.position,
        epoch: epoch + 1,
        step: 0,
        shufflePosition: this.shuffle.position,
        partial: this.emptyPartial(),
        history: [...this.position.history, record],
      };
      this.reshuffle = true;
      for (const callback of callbacks) await callback.onEpochEnd?.(record, this);
    }
    for (const callback of callbacks) await callback.onTrainEnd?.(this);
    if (ran) this.emit({ type: 'stage-end', stage: this.stage, seconds: this.elapsedSeconds() });
    const stopped = this.position.epoch > this.epochs && this.stopReason === null ? null : this.stopReason;
    return { history: this.position.history, trainSeconds: this.elapsedSeconds(), stopped };
  }

  /**
   * The batch of `indices`, augmented, with the teacher's logits and features for it: from the
   * cache synchronously, or (online) from a run of the teacher, which may be asynchronous.
   */
  private prepare(indices: Int32Array, epoch: number, step: number): PreparedBatch | Promise<PreparedBatch> {
    const { options } = this;
    const { train, augment, onlineTeacher } = options;
    const batch = batchTensors(
      train,
      indices,
      this.buffers ?? undefined,
      augment && ((samples) => augment(samples, indices.length, epoch, step)),
    );
    if (onlineTeacher) {
      return onlineTeacher(batch.samples, indices.length, batch.inputs).then(
        ({ logits, features }) => ({
          indices,
          inputs: batch.inputs,
          labels: batch.labels,
          teacherLogits: logits,
          teacherFeatures: features,
        }),
        (error: unknown) => {
          tf.dispose([...Object.values(batch.inputs), batch.labels]);
          throw error;
        },
      );
    }
    return {
      indices,
      inputs: batch.inputs,
      labels: batch.labels,
      teacherLogits: options.teacherLogits ? gatherRows(options.teacherLogits, train.numClasses, indices) : null,
      teacherFeatures: this.readsTeacher ? options.teacherFeatures!(indices, batch.inputs) : {},
    };
  }

  /** One step; null when it was refused and a callback moved the loop back to go on from there. */
  private step(batch: PreparedBatch, epoch: number, step: number): StepValues | null | Promise<StepValues | null> {
    const { options } = this;
    const { terms } = options;
    const { teacherLogits, teacherFeatures } = batch;
    const position = this.trainingPosition(epoch, step);
    const termValues: tf.Scalar[] = [];
    // The batch's gradient is never taken: a first convolution skips it (engine/conv_layer.ts).
    const { value: cost, grads } = withMathRandom(this.dropout, () =>
      withConstantInputs(Object.values(batch.inputs), () =>
        tf.variableGrads(() => {
          const { studentLogits, features } = this.forward(batch.inputs);
          let total: tf.Scalar = tf.scalar(0);
          for (const term of terms) {
            const studentFeature = term.studentTap === undefined ? undefined : features[term.studentTap];
            const value = term.loss({
              studentLogits,
              teacherLogits,
              labels: batch.labels,
              studentFeature:
                studentFeature && term.adapter ? (term.adapter.apply(studentFeature, { training: true }) as tf.Tensor) : studentFeature,
              teacherFeature: term.teacherTap === undefined ? undefined : teacherFeatures[term.teacherTap],
              ...(batch.inputs.attention_mask && { attentionMask: batch.inputs.attention_mask as tf.Tensor2D }),
              position,
              indices: batch.indices,
              step,
            });
            termValues.push(tf.keep(value));
            total = tf.add(total, tf.mul(value, scheduleValue(term.weight, position)));
          }
          return total;
        }, this.trained),
      ),
    );
    // A variable the loss does not reach (a layer after a tapped one, with feature terms alone) has no
    // gradient and is left as it is, as tf.train and PyTorch's optimizers leave it.
    const reached = this.trained.filter((variable) => grads[variable.name] !== undefined);
    const gradients = reached.map((variable) => grads[variable.name]);
    const stepTensors = [
      grads,
      cost,
      ...Object.values(batch.inputs),
      batch.labels,
      ...termValues,
      ...(teacherLogits ? [teacherLogits] : []),
      ...Object.values(teacherFeatures),
    ];
    const finish = (scalars: number[]): StepValues | null => {
      const values: StepValues = {
        epoch,
        step: step + 1,
        loss: scalars[0],
        terms: termValues.map((_, i) => ({ name: terms[i].name, value: scalars[i + 1] })),
        gradients,
      };
      return this.apply(values, reached, position, stepTensors);
    };
    // Read at once on the host; on a GPU backend the step goes on when the device has the values.
    const read = readScalars([cost, ...termValues]);
    if (!(read instanceof Promise)) return finish(read);
    return read.then(finish, (error: unknown) => {
      tf.dispose(stepTensors);
      throw error;
    });
  }

  /** Applies a step's gradients unless a callback refuses them; disposes the step's tensors either way. */
  private apply(
    values: StepValues,
    reached: tf.Variable[],
    position: TrainingPosition,
    stepTensors: Array<tf.Tensor | tf.NamedTensorMap>,
  ): StepValues | null {
    const { options } = this;
    const { terms } = options;
    try {
      // A refused step must not reach the weights.
      for (const callback of options.callbacks) callback.beforeApply?.(values, this);
      if (options.learningRate !== undefined) {
        options.optimizer.learningRate = (this.position.learningRateScale ?? 1) * scheduleValue(options.learningRate, position);
      }
      options.optimizer.step(reached, values.gradients);
      // Terms' buffers change only with an applied step, after the gradients were taken.
      for (const term of terms) term.loss.afterStep?.();
    } catch (error) {
      if (!(error instanceof DivergenceError)) throw error;
      if (!options.callbacks.some((callback) => callback.onDivergence?.(error, this))) throw error;
      return null;
    } finally {
      tf.dispose(stepTensors);
    }
    const { partial } = this.position;
    values.terms.forEach(({ value }, i) => {
      partial.termSums[i] += value;
    });
    partial.lossSum += values.loss;
    this.position.step = values.step;
    this.position.globalStep++;
    this.position.dropoutPosition = this.dropout.position;
    return values;
  }

  /** The student's logits and, when terms tap it, its features, in training mode. */
  private forward(inputs: Readonly<Record<string, tf.Tensor>>): { studentLogits: tf.Tensor2D; features: Record<string, tf.Tensor> } {
    if (!this.tapped)
      return { studentLogits: this.model.apply(modelInputs(this.model, inputs), { training: true }) as tf.Tensor2D, features: {} };
    const { model: multi, outputs: indices } = this.options.studentTaps!;
    const outputs = multi.apply(modelInputs(multi, inputs), { training: true }) as tf.Tensor[];
    return {
      studentLogits: outputs[0] as tf.Tensor2D,
      features: Object.fromEntries(Object.entries(indices).map(([name, index]) => [name, outputs[index]])),
    };
  }

  /** Values terms report at the epoch's end, keyed `term.name`, e.g. `ctkd.temperature`. */
  private termState(): { state?: Record<string, number> } {
    const state = Object.fromEntries(
      this.options.terms.flatMap((term) => Object.entries(term.loss.state?.() ?? {}).map(([key, value]) => [`${term.name}.${key}`, value])),
    );
    return Object.keys(state).length > 0 ? { state } : {};
  }

  private emptyPartial(): LoopPosition['partial'] {
    return { lossSum: 0, termSums: this.options.terms.map(() => 0), seconds: 0 };
  }
}
