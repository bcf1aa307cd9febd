/**
 * The student a config names: built from a spec (`student: {model: …}`), or any TensorFlow.js
 * layers model read from a file (`student: {load: …, init: random|weights}`). A loaded student is
 * checked against the dataset once, then every stage that trains it (scratch baseline, distilled
 * student, the throwaway checks) gets its own fresh copy, so all of them start from the same weights.
 */
import * as tf from '../engine/tf.js';
import { InputError } from '../errors.js';
import type { ModelSpec, StudentConfig } from '../config/schema.js';
import { isImageField, type InputField } from '../data/dataset.js';
import { checkModelInputs } from './inputs.js';
import { buildModel, type BuildOptions } from './build.js';
import { loadModelFiles } from './io.js';
import { architectureOf, buildArchitecture, reinitializeModel, type Architecture } from './reinitialize.js';

type Init = Extract<StudentConfig, { load: string }>['init'];

/** A student read from a model file, ready to be instantiated once per stage. */
export interface LoadedStudent {
  type: 'loaded';
  /** The model.json read. */
  path: string;
  /** SHA-256 of model.json and its weight files: a changed file is a changed student to --resume. */
  fingerprint: string;
  init: Init;
  parameters: number;
  architecture: Architecture;
  /** The file's weights in the model's weight order, for init 'weights' (empty for 'random'). */
  weights: { values: Float32Array | Int32Array | Uint8Array; shape: number[]; dtype: tf.DataType }[];
  /** Names the config field in errors, e.g. '<config>: student.load'. */
  field: string;
}

/** What a student is built from: a spec kdkit builds, or a loaded model file. */
export type StudentArchitecture = ModelSpec | LoadedStudent;

/** Activations whose outputs are probabilities, not logits. */
const PROBABILITY_ACTIVATIONS = new Set(['softmax', 'sigmoid', 'hardSigmoid']);
/** Layers that pass their input's values on unchanged (at inference), looked through to find the output's activation. */
const PASS_THROUGH = new Set(['Dropout', 'SpatialDropout1D', 'GaussianNoise', 'GaussianDropout', 'AlphaDropout', 'Flatten', 'Reshape']);

/** What a loaded student is checked against: the dataset's fields and classes. */
export interface StudentFit {
  /** The dataset's fields: one image field, or token fields a text student takes by name. */
  inputs: readonly InputField[];
  numClasses: number;
  datasetName: string;
}

/**
 * Reads the student's model file and checks it can be this run's student: inputs that take the
 * dataset's samples (one image input, or token inputs named as the dataset's fields), one output
 * of [batch, classes] logits (no softmax). Every failure is an InputError naming `field`.
 */
export async function loadStudent(spec: { load: string; init: Init }, options: StudentFit & { field: string }): Promise<LoadedStudent> {
  const { field } = options;
  let files: Awaited<ReturnType<typeof loadModelFiles>>;
  try {
    files = await loadModelFiles(spec.load);
  } catch (error) {
    if (error instanceof InputError) throw new InputError(`${field}: ${error.message}`);
    throw error;
  }
  const { model } = files;
  try {
    const source = `${field} (${files.modelJsonPath})`;
    checkStudentFits(model, options, source);
    // Built once here, so that a layer that cannot be rebuilt fails before any training.
    reinitializeModel(model, { seed: 1, source }).dispose();
    return {
      type: 'loaded',
      path: files.modelJsonPath,
      fingerprint: files.fingerprint,
      init: spec.init,
      parameters: model.countParams(),
      architecture: architectureOf(model),
      field: source,
      weights:
        spec.init === 'weights'
          ? model
              .getWeights()
              .map((weight) => ({ values: weight.dataSync() as Float32Array, shape: [...weight.shape], dtype: weight.dtype }))
          : [],
    };
  } finally {
    model.dispose();
  }
}

/** Inputs taking the dataset's samples, one [batch, classes] output, and that output not a probability. */
function checkStudentFits(model: tf.LayersModel, options: StudentFit, source: string): void {
  const [first] = options.inputs;
  if (options.inputs.length === 1 && isImageField(first)) checkImageInput(model, first.shape, options.datasetName, source);
  else checkModelInputs(model, options.inputs, source);
  if (model.outputs.length !== 1) {
    throw new InputError(`${source}: a student has one output (its logits); this model has ${model.outputs.length} outputs`);
  }
  const outputShape = model.outputs[0].shape;
  const outputs = outputShape[outputShape.length - 1];
  if (outputShape.length !== 2 || outputs !== options.numClasses) {
    throw new InputError(
      `${source}: the model outputs [${outputShape
        .slice(1)
        .map((dim) => dim ?? 'any')
        .join(
          ', ',
        )}] per sample; dataset '${options.datasetName}' has ${options.numClasses} classes, so a student outputs [${options.numClasses}] logits`,
    );
  }
  const probability = probabilityLayer(model);
  if (probability) {
    throw new InputError(
      `${source}: the model's output goes through ${probability}, so it outputs probabilities; a student must output logits. ` +
        'Distillation terms apply their temperature and softmax to the logits themselves; on probabilities they would soften an already squashed output and train the wrong thing. ' +
        "Remove the final activation (make the last layer's activation 'linear') and save the model again",
    );
  }
}

/** One input, of the image's [h, w, c] (an open dimension takes any size). */
function checkImageInput(model: tf.LayersModel, expected: readonly number[], datasetName: string, source: string): void {
  if (model.inputs.length !== 1 || model.outputs.length !== 1) {
    throw new InputError(
      `${source}: a student has one input (the image) and one output (its logits); this model has ${model.inputs.length} inputs and ${model.outputs.length} outputs`,
    );
  }
  const inputShape = model.inputs[0].shape.slice(1);
  if (inputShape.length !== expected.length || inputShape.some((dim, i) => dim !== null && dim !== expected[i])) {
    throw new InputError(
      `${source}: the model takes input [${inputShape.map((dim) => dim ?? 'any').join(', ')}]; dataset '${datasetName}' has samples [${expected.join(', ')}] (height, width, channels)`,
    );
  }
}

/** The layer (described) that turns the model's output into probabilities, if one does. */
function probabilityLayer(model: tf.LayersModel): string | undefined {
  let layer: tf.layers.Layer | undefined = model.outputs[0].sourceLayer;
  while (layer !== undefined) {
    const className: string = layer.getClassName();
    const activation: unknown = layer.getConfig().activation;
    if (className === 'Softmax') return `layer '${layer.name}' (Softmax)`;
    if (typeof activation === 'string' && PROBABILITY_ACTIVATIONS.has(activation))
      return `activation '${activation}' of layer '${layer.name}' (${className})`;
    const passesThrough: boolean = PASS_THROUGH.has(className) || (className === 'Activation' && activation === 'linear');
    const input: tf.SymbolicTensor | tf.SymbolicTensor[] = layer.input;
    layer = passesThrough && !Array.isArray(input) ? input.sourceLayer : undefined;
  }
  return undefined;
}

/**
 * A fresh student of `architecture` for one stage: built from its spec, or the loaded model with
 * every weight re-initialised from `options.seed` (init 'random') or set to the file's ('weights').
 */
export function buildStudent(architecture: StudentArchitecture, options: BuildOptions): tf.LayersModel {
  if (architecture.type !== 'loaded') return buildModel(architecture, options);
  const random = architecture.init === 'random';
  const model = buildArchitecture(architecture.architecture, {
    seed: options.seed,
    name: options.name,
    source: architecture.field,
    zeros: !random,
  });
  if (random) return model;
  const values = architecture.weights.map(({ values: data, shape, dtype }) => tf.tensor(data, shape, dtype));
  try {
    model.setWeights(values);
  } catch (error) {
    model.dispose();
    throw error;
  } finally {
    tf.dispose(values);
  }
  return model;
}

/** How a run's messages name the architecture: 'mlp', 'cnn', or 'loaded path/model.json'. */
export function describeStudent(architecture: StudentArchitecture): string {
  return architecture.type === 'loaded' ? `loaded ${architecture.path} (init: ${architecture.init})` : architecture.type;
}

/** What a stage record keeps of the student: its spec, or the file's fingerprint and the init. */
export function studentRecord(architecture: StudentArchitecture): Record<string, unknown> {
  return architecture.type === 'loaded' ? { fingerprint: architecture.fingerprint, init: architecture.init } : { model: architecture };
}
