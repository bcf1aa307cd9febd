/**
 * Saving and loading TensorFlow.js layers models on the local file system, in the standard
 * format (`model.json` + a weights file) that stock `tf.loadLayersModel` reads in a browser.
 * Every file is written atomically; weight paths in a manifest may not leave the model's directory.
 */
import { existsSync, statSync } from 'node:fs';
import { dirname, join, resolve, sep } from 'node:path';
import * as tf from '../engine/tf.js';
import { InputError } from '../errors.js';
import { writeFileAtomic } from '../util/atomic.js';
import { sha256 } from '../util/hash.js';
import { MAX_WHOLE_FILE_BYTES, readRegularFile, RegularFile } from '../util/regular_file.js';
import { registerTextLayers } from './text/layers.js';
import { serializeModel, WEIGHTS_FILE } from './serialize.js';

export { layersModelJson, modelArtifacts, serializeModel } from './serialize.js';
import { checkTopology } from './topology_check.js';
import { checkWeightBytes, checkWeightsManifest } from './weights_manifest.js';

/** A model.json holds the topology and the manifest; the weights are elsewhere. */
const MAX_MODEL_JSON_BYTES = 64 * 1024 * 1024;

export interface SavedModel {
  modelJsonPath: string;
  /** model.json plus weights, as written. */
  sizeBytes: number;
}

export async function saveModelDir(model: tf.LayersModel, directory: string): Promise<SavedModel> {
  return writeModelDir(directory, await serializeModel(model));
}

/** Writes weights, then model.json, each atomically: a reader never sees a model.json without its weights. */
export function writeModelDir(directory: string, files: { modelJson: string; weights: Uint8Array }): SavedModel {
  writeFileAtomic(join(directory, WEIGHTS_FILE), files.weights);
  const modelJsonPath = join(directory, 'model.json');
  writeFileAtomic(modelJsonPath, files.modelJson);
  return { modelJsonPath, sizeBytes: Buffer.byteLength(files.modelJson) + files.weights.byteLength };
}

/** Size of the model in the layers format (model.json + float32 weights). */
export async function serializedSizeBytes(model: tf.LayersModel): Promise<number> {
  const { modelJson, weights } = await serializeModel(model);
  return Buffer.byteLength(modelJson) + weights.byteLength;
}

/** Loads a layers model from its model.json, or from the directory that holds it. */
export async function loadModelDir(path: string): Promise<tf.LayersModel> {
  return (await loadModelFiles(path)).model;
}

export interface LoadedModelFiles {
  model: tf.LayersModel;
  /** The model.json read (`path` itself, or the one inside the directory `path`). */
  modelJsonPath: string;
  /** Hex SHA-256 of the model.json's bytes, then of each weight file's, in the manifest's order. */
  fingerprint: string;
}

/** loadModelDir, also telling which model.json it read and the fingerprint of the files. */
export async function loadModelFiles(path: string): Promise<LoadedModelFiles> {
  const modelJsonPath = existsSync(path) && statSync(path).isDirectory() ? join(path, 'model.json') : path;
  const modelJsonBytes = readRegularFile(modelJsonPath, MAX_MODEL_JSON_BYTES, `${modelJsonPath}: cannot read a TensorFlow.js model.json`);
  const text = modelJsonBytes.toString('utf8');
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new InputError(`${modelJsonPath}: cannot read a TensorFlow.js model.json (${(error as Error).message})`);
  }
  const { modelTopology, weightsManifest } = (typeof parsed === 'object' && parsed !== null ? parsed : {}) as Record<string, unknown>;
  if (typeof modelTopology !== 'object' || modelTopology === null || !Array.isArray(weightsManifest)) {
    throw new InputError(`${modelJsonPath}: not a TensorFlow.js layers model (expected 'modelTopology' and 'weightsManifest')`);
  }
  const groups = checkWeightsManifest(weightsManifest, modelJsonPath);
  checkTopology(modelTopology, modelJsonPath);
  const directory = resolve(dirname(modelJsonPath));
  const buffers: ArrayBuffer[] = [];
  const files: RegularFile[] = [];
  try {
    for (const relativePath of groups.flatMap((group) => group.paths)) {
      const weightPath = resolve(directory, relativePath);
      if (!weightPath.startsWith(directory + sep)) {
        throw new InputError(`${modelJsonPath}: weight path '${relativePath}' points outside the model directory`);
      }
      files.push(RegularFile.open(weightPath, `${weightPath}: cannot read weights listed in ${modelJsonPath}`));
    }
    // Sizes first: nothing is read unless the files hold exactly the bytes the specs describe.
    checkWeightBytes(
      groups,
      files.reduce((total, file) => total + file.sizeBytes, 0),
      modelJsonPath,
    );
    buffers.push(
      ...files.map((file) => {
        const bytes = file.readAll(MAX_WHOLE_FILE_BYTES);
        return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
      }),
    );
  } finally {
    for (const file of files) file.close();
  }
  const model = await loadWithinManifest(
    modelTopology,
    groups.flatMap((group) => group.weights),
    buffers,
    modelJsonPath,
  );
  try {
    checkFiniteWeights(model, modelJsonPath);
  } catch (error) {
    model.dispose();
    throw error;
  }
  return { model, modelJsonPath, fingerprint: sha256(modelJsonBytes, ...buffers.map((buffer) => new Uint8Array(buffer))) };
}

/**
 * Every float weight must be finite: a NaN would otherwise pass through quantized exports and
 * evaluation as if it were a model (NaN logits rank as ties). Checked after loading, so quantized
 * weights are checked as they dequantize.
 */
function checkFiniteWeights(model: tf.LayersModel, source: string): void {
  for (const weight of model.weights) {
    if (weight.dtype !== 'float32') continue;
    const values = weight.read().dataSync() as Float32Array;
    const first = values.findIndex((value) => !Number.isFinite(value));
    if (first < 0) continue;
    const count = values.reduce((total, value) => total + (Number.isFinite(value) ? 0 : 1), 0);
    throw new InputError(
      `${source}: weight '${weight.originalName}' has ${count} non-finite values (${values[first]} at index ${first}); the model cannot be evaluated or exported`,
    );
  }
}

type AddWeight = (this: tf.layers.Layer, name: string, shape: tf.Shape, ...rest: unknown[]) => tf.LayerVariable;

/**
 * Builds the model, then sets its weights, as tf.loadLayersModel does (strict: every weight named
 * once, optimizer weights ignored) but with every weight checked before it is allocated; see
 * buildWithinManifest. A load that fails leaves no tensor behind.
 */
async function loadWithinManifest(
  modelTopology: object,
  specs: tf.io.WeightsManifestEntry[],
  weightData: ArrayBuffer[],
  source: string,
): Promise<tf.LayersModel> {
  const created: tf.LayerVariable[] = [];
  // A text model's custom layers (its attention, position embeddings, masked mean) are kdkit's.
  registerTextLayers();
  try {
    const model = await buildWithinManifest(modelTopology, specs, source, created);
    // Synchronous, so that the scope freeing the decoded tensors holds no other task's tensors.
    tf.tidy(() => {
      const decoded = tf.io.decodeWeights(weightData, specs);
      model.loadWeights(
        Object.fromEntries(specs.filter((spec) => spec.group !== 'optimizer').map((spec) => [spec.name, decoded[spec.name]])),
        true,
      );
    });
    return model;
  } catch (error) {
    for (const variable of created) variable.dispose();
    if (error instanceof InputError) throw error;
    throw new InputError(`${source}: cannot build the model (${(error as Error).message})`);
  }
}

/**
 * Builds the model of `modelTopology` with every weight TensorFlow.js creates checked before it is
 * allocated: no one weight may hold more values than the manifest's largest, and all of them
 * together no more than the manifest's total. The manifest's sizes were checked against the
 * weight files, so a topology claiming `units: 1000000` over a 200 KB file is refused at once,
 * rather than after allocating gigabytes. Each weight made is added to `created`.
 *
 * The check hooks Layer.prototype.addWeight, which every model in the process shares, so the hook
 * is in place only while this function runs, synchronously: modelFromJSON, given no weights, builds
 * every layer before its first await, so no other task can build a model under the hook. (Were
 * that to change, the fuzz test of `units: 10000000` would allocate and fail.)
 */
function buildWithinManifest(
  modelTopology: object,
  specs: tf.io.WeightsManifestEntry[],
  source: string,
  created: tf.LayerVariable[],
): Promise<tf.LayersModel> {
  const sizes = specs.map((spec) => spec.shape.reduce((product, dim) => product * dim, 1));
  const largest = Math.max(0, ...sizes);
  let remaining = sizes.reduce((total, size) => total + size, 0);
  const prototype = tf.layers.Layer.prototype as unknown as { addWeight: AddWeight };
  const addWeight = prototype.addWeight;
  prototype.addWeight = function guarded(this: tf.layers.Layer, name, shape, ...rest) {
    const size = shape.reduce<number>((product, dim) => product * (dim ?? 1), 1);
    if (!(size <= largest && size <= remaining)) {
      throw new InputError(
        `${source}: layer '${this.name}' would create weight '${name}' of shape [${shape.join(', ')}] (${size} values), ` +
          `but the weights manifest's largest weight has ${largest} values and ${remaining} are left; the topology does not match its weights`,
      );
    }
    remaining -= size;
    // Zeros rather than the topology's initializers, as tf.loadLayersModel does: the loaded weights replace them,
    // and an unseeded initializer would draw on Math.random, which a run seeds for its dropout masks.
    this.setFastWeightInitDuringBuild(true);
    const variable = addWeight.call(this, name, shape, ...rest);
    created.push(variable);
    return variable;
  };
  try {
    let built!: Promise<tf.LayersModel>;
    // Frees what a failed build leaves; the model's weights are variables, which a scope keeps.
    tf.tidy(() => {
      built = tf.models.modelFromJSON({ modelTopology } as Parameters<typeof tf.models.modelFromJSON>[0]);
    });
    return built;
  } finally {
    prototype.addWeight = addWeight;
  }
}
