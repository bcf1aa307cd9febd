/**
 * `distill()`: the one training path. A teacher (a TensorFlow.js model, any Teacher, or logits
 * computed elsewhere) teaches any TensorFlow.js student whose first output is its logits, with the
 * config's loss terms, as Keras 3's `Distiller(teacher, student, distillation_losses, …).fit()`.
 * The CLI's stages (teacher, scratch baseline, assistants, student) run through it too.
 */
import * as tf from '../engine/tf.js';
import { memoryDataset, type Dataset, type FieldArray, type InputField } from '../data/dataset.js';
import { parseTerms } from '../config/parse.js';
import type { z } from 'zod';
import { augmentSpec, MAX_SEED, optimizerSpec, type OptimizerSpec, type TermConfig } from '../config/schema.js';
import { batchAugmenter } from '../data/augment.js';
import { describeIssues } from '../config/parse.js';
import { onlineTeacher } from './online_teacher.js';
import { InputError } from '../errors.js';
import { methods } from '../methods/index.js';
import { predictLogitsAsync } from '../models/predict.js';
import type { Teacher } from '../teachers/teacher.js';
import type { OnlineStore } from '../teachers/online_store.js';
import { tfjsTeacher } from '../teachers/tfjs.js';
import { teacherLogits } from '../teachers/logits.js';
import { runLoop, type LoopResult } from './loop.js';
import { makeOptimizer, wrapOptimizer, type FusedOptimizer } from './optimizer.js';
import type { Scheduled } from '../schedules/index.js';
import { prepareTerms, teacherFeatureSource, type TeacherSource } from './terms.js';
import type { Callback } from './callbacks/callback.js';
import { validation as validationCallback } from './callbacks/validation.js';
import { divergenceGuard } from './callbacks/divergence.js';
import { progress } from './callbacks/progress.js';
import type { EpochRecord, TrainEvent } from './events.js';

/** Training samples: `x` (a tensor, or a record of named tensors, first axis the samples) with int labels `y` [n], or a kdkit Dataset. */
export type TrainingData = { x: tf.Tensor | Readonly<Record<string, tf.Tensor>>; y: tf.Tensor | Int32Array | readonly number[] } | Dataset;

/** A loss term in the config's syntax: `{method: 'kd', weight: 0.9, temperature: 4}`. */
export type TermInput = { method: string; weight: number | Record<string, unknown> } & Record<string, unknown>;

export interface DistillOptions {
  /**
   * What teaches: a `tf.LayersModel` (run in inference mode), a Teacher (`openOnnxTeacher`,
   * `connectRemoteTeacher`, `tfjsTeacher`), or `{logits}` precomputed for `train`'s samples
   * [n, classes]. Leave it out to train on the labels alone (terms without a teacher, e.g. `ce`).
   */
  teacher?: tf.LayersModel | Teacher | { logits: tf.Tensor | Float32Array };
  /** The model trained, in place: any `tf.LayersModel` whose (first) output is the logits. */
  student: tf.LayersModel;
  /** The transfer set. */
  train: TrainingData;
  /** Scored after every epoch (`val_accuracy`, `val_loss`), in inference mode; needed to monitor them. */
  validation?: TrainingData;
  /** Loss terms in the config's syntax; default 0.9 · kd (T = 4) + 0.1 · ce with a teacher, ce alone without. */
  terms?: readonly TermInput[];
  /** Passes over `train`; default 1, as Keras' fit. */
  epochs?: number;
  /** Samples per step; default 32. A batch larger than `train` is the whole of it. */
  batchSize?: number;
  /** A config optimizer, `{type: 'adam' | 'adamw' | 'sgd' | 'momentum', learningRate (a number or a schedule), momentum, weightDecay}` (default Adam at 1e-3), or a tf.Optimizer. */
  optimizer?: Partial<OptimizerSpec> | tf.Optimizer;
  /** Seeds the shuffling, the dropout masks and the adapters' initial weights; default 1. */
  seed?: number;
  /** Called in order after kdkit's own validation: earlyStopping(), bestCheckpoint(), or your own. */
  callbacks?: readonly Callback[];
  /** Stops after the current step; distill() then resolves with what the student learned so far. */
  signal?: AbortSignal;
  /** Info messages, and a step and an epoch event as training goes. */
  onEvent?: (event: TrainEvent) => void;
  /** Names the run in events and errors; default 'student'. */
  name?: string;
  /** Refuse steps whose global gradient norm passes this (a non-finite loss is always refused). */
  maxGradNorm?: number;
  /**
   * Random changes to each training batch, seeded per step: `{crop: {padding: 4}, flip: 'horizontal'}`
   * (data/augment.ts). Validation is never augmented.
   */
  augment?: z.input<typeof augmentSpec>;
  /**
   * 'cached': the teacher labels the training set once, before training (the default without
   * augment). 'online': it labels every batch as the student sees it (the default, and the only
   * choice, with augment: cached labels would describe samples the student no longer sees).
   */
  softLabels?: 'cached' | 'online';
}

/**
 * What kdkit's own run adds: checkpoints, teacher features from its soft-label store, and the
 * online store. Each reaches the disk, so each is given here by the run (Node) rather than
 * imported: distill() itself runs in a page too (kdkit/browser).
 */
export interface StageExtras {
  /** The checkpoint callback (train/callbacks/checkpoints.ts), given the callbacks whose state it saves. */
  checkpoints?: (stateful: readonly Callback[]) => Callback & { lastSaved(): string | null };
  /** The teacher the feature terms tap, with the store entry its features are cached in. */
  featureTeacher?: TeacherSource;
  /** The terms as parsed config (the run has validated them); replaces `terms`. */
  termConfigs?: TermConfig[];
  /** Names the terms' field in errors: '<config>: distill.terms'. */
  termsField?: string;
  /**
   * Online, the soft-label store's part for the teacher's outputs (train/online_output_store.ts):
   * an ONNX or remote teacher's outputs for each batch are kept by content, so runs that show it
   * the same batches run it once. Null when it keeps nothing.
   */
  onlineStore?: (
    source: TeacherSource,
    taps: readonly { name: string; shape: number[] }[],
    classes: number,
    emit: (event: TrainEvent) => void,
  ) => OnlineStore | null;
}

export interface DistillResult extends LoopResult {
  student: tf.LayersModel;
}

/** The default terms with a teacher: Hinton et al.'s 0.9 · kd at T = 4 + 0.1 · ce. */
const HINTON: TermInput[] = [
  { method: 'kd', weight: 0.9, temperature: 4 },
  { method: 'ce', weight: 0.1 },
];

export async function distill(options: DistillOptions, extras: StageExtras = {}): Promise<DistillResult> {
  const name = options.name ?? 'student';
  const { student } = options;
  if (!(student instanceof tf.LayersModel)) throw new InputError('distill(): student: expected a tf.LayersModel');
  const epochs = wholeNumber(options.epochs ?? 1, 'epochs', 1);
  const batchSize = wholeNumber(options.batchSize ?? 32, 'batchSize', 1);
  const seed = wholeNumber(options.seed ?? 1, 'seed', 0, MAX_SEED);
  const classes = outputWidth(student);
  const train = await trainingData(options.train, 'train', classes);
  const validation = options.validation === undefined ? null : await trainingData(options.validation, 'validation', classes);
  const emit = options.onEvent ?? (() => {});

  const augment = parseAugment(options.augment, train, seed);
  const online = softLabelsMode(options, augment !== null);
  const teacher = online ? await onlineSource(options.teacher!, train) : await teachingLogits(options.teacher, train, classes);
  const termsField = extras.termsField ?? 'distill(): terms';
  const terms = extras.termConfigs ?? parseTerms(options.terms ?? (teacher ? HINTON : [{ method: 'ce', weight: 1 }]), 'terms', 'distill()');
  const needsTeacher = terms.find((term) => methods.get(term.method).needsTeacher);
  if (needsTeacher && !teacher)
    throw new InputError(`${termsField}: method '${needsTeacher.method}' needs a teacher; pass distill() a teacher`);
  const featureTeacher =
    extras.featureTeacher ??
    (teacher?.source ? { teacher: teacher.source.teacher, model: teacher.source.model, source: 'distill()', field: 'terms' } : undefined);
  const tapSource = featureTeacher ? (featureTeacher.model ?? featureTeacher.teacher) : null;
  const prepared = prepareTerms(terms, student, tapSource, seed, termsField, {
    labels: train.labels,
    emit: (message) => emit({ type: 'info', message }),
  });
  const optimizer = trainingOptimizer(options.optimizer);
  try {
    const teacherFeatures =
      !online && featureTeacher && prepared.teacherTaps.length > 0
        ? await teacherFeatureSource(featureTeacher, prepared.teacherTaps, { train }, (message) => emit({ type: 'info', message }))
        : undefined;
    const store =
      online && featureTeacher && extras.onlineStore ? extras.onlineStore(featureTeacher, prepared.teacherTaps, classes, emit) : null;
    const user = options.callbacks ?? [];
    const checkpoints = extras.checkpoints ? extras.checkpoints(user) : null;
    const callbacks: Callback[] = [
      ...(validation ? [validationCallback(validation)] : []),
      ...user,
      divergenceGuard({ maxGradNorm: options.maxGradNorm, lastCheckpoint: () => checkpoints?.lastSaved() ?? null }),
      ...(checkpoints ? [checkpoints] : []),
      progress(emit),
    ];
    const result = await runLoop({
      stage: name,
      model: student,
      train,
      terms: prepared.terms,
      teacherLogits: teacher?.logits ?? null,
      studentTaps: prepared.studentTaps,
      teacherFeatures,
      ...(online && featureTeacher ? { onlineTeacher: onlineTeacher(featureTeacher, prepared.teacherTaps, classes, store) } : {}),
      ...(augment ? { augment } : {}),
      epochs,
      batchSize,
      optimizer: optimizer.optimizer,
      ...(optimizer.learningRate === undefined ? {} : { learningRate: optimizer.learningRate }),
      seed,
      callbacks,
      signal: options.signal,
      onEvent: emit,
    });
    if (store) {
      const { reused, computed } = store.counts;
      emit({ type: 'info', message: `${name}: the teacher ran on ${computed} batches; ${reused} came from the store` });
    }
    return { student, ...result };
  } finally {
    if (optimizer.owned) optimizer.optimizer.dispose();
    // Adapters and terms' own parameters train with the student and are never exported.
    for (const term of prepared.terms) {
      term.adapter?.dispose();
      term.loss.dispose?.();
    }
    await teacher?.dispose();
  }
}

function wholeNumber(value: number, field: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (!Number.isInteger(value) || value < min || value > max)
    throw new InputError(`distill(): ${field}: expected a whole number in [${min}, ${max}], got ${value}`);
  return value;
}

function outputWidth(student: tf.LayersModel): number {
  const shape = student.outputs[0].shape;
  const width = shape[shape.length - 1];
  if (shape.length !== 2 || width === null)
    throw new InputError(`distill(): student: its first output must be logits [batch, classes]; it is [${shape.join(', ')}]`);
  return width;
}

/**
 * A Dataset as given, or one holding `x` and `y`'s values (copied once out of the tensors): one
 * field per named tensor of `x` (a lone tensor is the field 'image' when it is float32 images
 * [n, h, w, c], 'x' otherwise), paired with the models' inputs by name, or by position for one.
 */
async function trainingData(data: TrainingData, field: string, classes: number): Promise<Dataset> {
  if (!('x' in data)) {
    if (data.numClasses !== classes)
      throw new InputError(`distill(): ${field}: the dataset has ${data.numClasses} classes, the student outputs ${classes}`);
    checkLabels(data.labels, `${field}.labels`, classes);
    return data;
  }
  const named: Record<string, unknown> =
    data.x instanceof tf.Tensor ? { [data.x.rank === 4 && data.x.dtype === 'float32' ? 'image' : 'x']: data.x } : data.x;
  const entries = Object.entries(named);
  if (entries.length === 0 || !entries.every(([, tensor]) => tensor instanceof tf.Tensor)) {
    throw new InputError(`distill(): ${field}.x: expected a tf.Tensor, or a record of named tf.Tensors ({input_ids, attention_mask})`);
  }
  const tensors = entries as Array<[string, tf.Tensor]>;
  const count = tensors[0][1].shape[0];
  const inputs: InputField[] = [];
  const values: Record<string, FieldArray> = {};
  for (const [name, tensor] of tensors) {
    const where = data.x instanceof tf.Tensor ? `${field}.x` : `${field}.x.${name}`;
    if (tensor.rank < 2 || tensor.shape[0] !== count)
      throw new InputError(`distill(): ${where}: expected [n, ...] with n = ${count} samples, got [${tensor.shape.join(', ')}]`);
    if (tensor.dtype !== 'float32' && tensor.dtype !== 'int32')
      throw new InputError(`distill(): ${where}: expected float32 or int32 values, got ${tensor.dtype}`);
    inputs.push({ name, dtype: tensor.dtype, shape: tensor.shape.slice(1) });
    // Read asynchronously: a GPU backend's tensor may live on the device only.
    const read = await tensor.data();
    values[name] = tensor.dtype === 'float32' ? Float32Array.from(read as Float32Array) : Int32Array.from(read as Int32Array);
  }
  const labels = Int32Array.from(data.y instanceof tf.Tensor ? ((await data.y.data()) as ArrayLike<number>) : data.y);
  if (labels.length !== count) throw new InputError(`distill(): ${field}.y: ${labels.length} labels for ${count} samples of ${field}.x`);
  checkLabels(labels, `${field}.y`, classes);
  return memoryDataset({
    name: field,
    inputs,
    values,
    labels,
    numClasses: classes,
    classNames: Array.from({ length: classes }, (_, i) => String(i)),
  });
}

/** Every label a class index: the device path's cross-entropy (methods/ce.ts) cannot check them per step. */
function checkLabels(labels: Int32Array, field: string, classes: number): void {
  const bad = labels.findIndex((label) => !(label >= 0 && label < classes));
  if (bad >= 0) throw new InputError(`distill(): ${field}[${bad}]: label ${labels[bad]} is outside [0, ${classes}), the student's classes`);
}

function parseAugment(given: DistillOptions['augment'], train: Dataset, seed: number) {
  if (given === undefined) return null;
  const parsed = augmentSpec.safeParse(given);
  if (!parsed.success) throw new InputError(`distill(): augment: invalid\n${describeIssues(parsed.error.issues, 'augment')}`);
  return batchAugmenter(parsed.data, train.inputs, seed, 'distill(): augment');
}

/** Whether the teacher labels each batch in the step; the errors say why a combination cannot work. */
function softLabelsMode(options: DistillOptions, augmented: boolean): boolean {
  const { teacher, softLabels } = options;
  if (softLabels !== undefined && softLabels !== 'cached' && softLabels !== 'online')
    throw new InputError(`distill(): softLabels: expected 'cached' or 'online', got ${JSON.stringify(softLabels)}`);
  if (teacher === undefined) return false;
  const mode = softLabels ?? (augmented ? 'online' : 'cached');
  if (mode === 'cached' && augmented)
    throw new InputError(
      "distill(): softLabels: 'cached' labels are the teacher's logits for the samples as stored, but with augment the student " +
        "trains on changed ones (cropped, flipped) that they no longer describe; use softLabels: 'online', which runs the teacher on each augmented batch",
    );
  if (mode === 'online' && 'logits' in teacher && typeof teacher.logits !== 'function')
    throw new InputError(
      "distill(): softLabels: 'online' runs the teacher on each batch, and precomputed teacher.logits cannot be run; pass the teacher itself (a tf.LayersModel or a Teacher)",
    );
  return mode === 'online';
}

/** The teacher distill() was given, to be run on each batch: no logits up front. */
async function onlineSource(teacher: NonNullable<DistillOptions['teacher']>, train: Dataset): Promise<TeachingLogits> {
  if (teacher instanceof tf.LayersModel) {
    // The model itself runs in the step; the wrapper only describes it.
    const wrapped = await tfjsTeacher(teacher, `TensorFlow.js model '${teacher.name}'`, train.inputs);
    return { logits: null, source: { teacher: wrapped, model: teacher }, dispose: () => wrapped.dispose() };
  }
  return { logits: null, source: { teacher: teacher as Teacher, model: null }, dispose: async () => {} };
}

interface TeachingLogits {
  /** Over the training set, up front; null when the teacher runs on each batch (online). */
  logits: Float32Array | null;
  /** The teacher itself, when distill() was given one: feature terms tap it. */
  source?: { teacher: Teacher; model: tf.LayersModel | null };
  dispose(): Promise<void>;
}

/** The teacher's logits over `train`, computed once in inference mode (or as given). */
async function teachingLogits(teacher: DistillOptions['teacher'], train: Dataset, classes: number): Promise<TeachingLogits | null> {
  if (teacher === undefined) return null;
  const count = train.labels.length;
  if (teacher instanceof tf.LayersModel) {
    const wrapped = await tfjsTeacher(teacher, `TensorFlow.js model '${teacher.name}'`, train.inputs);
    // Read asynchronously: on a GPU backend a synchronous read stalls it (and on WebGPU is not reliable).
    const logits = await predictLogitsAsync(teacher, train);
    return { logits, source: { teacher: wrapped, model: teacher }, dispose: () => wrapped.dispose() };
  }
  if ('logits' in teacher && typeof teacher.logits !== 'function') {
    const given = teacher.logits;
    const values = given instanceof tf.Tensor ? Float32Array.from((await given.data()) as Float32Array) : given;
    if (!(values instanceof Float32Array) || values.length !== count * classes) {
      const shape = given instanceof tf.Tensor ? `[${given.shape.join(', ')}]` : `${values.length} values`;
      throw new InputError(
        `distill(): teacher.logits: expected [${count}, ${classes}] (train's samples × the student's classes), got ${shape}`,
      );
    }
    return { logits: values, dispose: async () => {} };
  }
  const opened = teacher as Teacher;
  return { logits: await teacherLogits(opened, train), source: { teacher: opened, model: null }, dispose: async () => {} };
}

function trainingOptimizer(given: DistillOptions['optimizer']): { optimizer: FusedOptimizer; owned: boolean; learningRate?: Scheduled } {
  // tf.Optimizer's instanceof reads a property of the value: only ask about an object.
  if (typeof given === 'object' && given !== null && given instanceof tf.Optimizer)
    return { optimizer: wrapOptimizer(given), owned: false };
  const parsed = optimizerSpec.safeParse(given ?? {});
  if (!parsed.success)
    throw new InputError(
      `distill(): optimizer: ${parsed.error.issues.map((issue) => `${issue.path.join('.') || 'optimizer'}: ${issue.message}`).join('; ')}`,
    );
  return { optimizer: makeOptimizer(parsed.data), owned: true, learningRate: parsed.data.learningRate };
}

export type { EpochRecord };
