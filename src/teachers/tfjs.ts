/**
 * A TensorFlow.js layers model as a Teacher: trained in the run or loaded from a directory. Its
 * features are any of its layers, read through a tapped copy that shares its weights.
 */
import * as tf from '../engine/tf.js';
import { arrayDType, type InputField, type SampleBatch } from '../data/dataset.js';
import { serializeModel } from '../models/serialize.js';
import { forward } from '../models/forward.js';
import { fieldTensors, inputsOfModel, modelInputNames, modelInputs, pairInputs } from '../models/inputs.js';
import { PENULTIMATE, tapShape, tappedModel } from '../models/taps.js';
import { sha256 } from '../util/hash.js';
import type { Teacher, TeacherInfo } from './teacher.js';

/**
 * `inputs` are the fields of the batches it will be given (the dataset's). Without them, each
 * field is shaped as the model input it feeds, which must then have no open dimension.
 */
export async function tfjsTeacher(model: tf.LayersModel, description: string, inputs?: readonly InputField[]): Promise<Teacher> {
  const where = `teacher ${description}`;
  const own = inputs ? null : inputsOfModel(model, where);
  const fieldsOf = (batch: SampleBatch): readonly InputField[] =>
    inputs ??
    pairInputs(modelInputNames(model), Object.keys(batch), where).map((name, i) => ({
      name,
      dtype: arrayDType(batch[name]) ?? own![i].dtype,
      shape: own![i].shape,
    }));
  const files = await serializeModel(model);
  const info: TeacherInfo = {
    kind: 'tfjs',
    description,
    // The same bytes the soft-label cache was keyed by before teachers had an interface.
    fingerprint: sha256(files.modelJson, files.weights),
    classes: model.outputs[0].shape[model.outputs[0].shape.length - 1] ?? null,
    featureNames: [...model.layers.slice(1).map((layer) => layer.name), PENULTIMATE],
  };
  const run = (target: tf.LayersModel, batch: SampleBatch, count: number) =>
    forward(target, modelInputs(target, fieldTensors(fieldsOf(batch), batch, count, where), where));
  const tapped = new Map<string, ReturnType<typeof tappedModel>>();
  return {
    info,
    batchSize: 256,
    // Read asynchronously: on a GPU backend a synchronous read stalls it (and on WebGPU is not reliable).
    async logits(batch, count) {
      const output = tf.tidy(() => run(model, batch, count) as tf.Tensor);
      try {
        return (await output.data()) as Float32Array;
      } finally {
        output.dispose();
      }
    },
    async features(batch, count, names) {
      const key = names.join('\n');
      const taps = tapped.get(key) ?? tappedModel(model, [...names], (name) => `teacher tap ${name}`);
      tapped.set(key, taps);
      const tensors = tf.tidy(() => run(taps.model, batch, count) as tf.Tensor[]);
      try {
        const outputs = await Promise.all(tensors.map(async (output) => (await output.data()) as Float32Array));
        return Object.fromEntries(names.map((name) => [name, outputs[taps.outputs[name]]]));
      } finally {
        tf.dispose(tensors);
      }
    },
    featureShape(name) {
      return info.featureNames.includes(name) ? tapShape(model, name, `teacher tap ${name}`) : null;
    },
    async dispose() {},
  };
}
