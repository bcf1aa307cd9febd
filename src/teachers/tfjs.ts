/**
 * A TensorFlow.js layers model as a Teacher: trained in the run or loaded from a directory. Its
 * features are any of its layers, read through a tapped copy that shares its weights.
 */
import * as tf from '../engine/tf.js';
import { serializeModel } from '../models/io.js';
import { forward } from '../models/forward.js';
import { PENULTIMATE, tapShape, tappedModel } from '../models/taps.js';
import { sha256 } from '../util/hash.js';
import type { Teacher, TeacherInfo } from './teacher.js';

export async function tfjsTeacher(model: tf.LayersModel, description: string): Promise<Teacher> {
  const files = await serializeModel(model);
  const info: TeacherInfo = {
    kind: 'tfjs',
    description,
    // The same bytes the soft-label cache was keyed by before teachers had an interface.
    fingerprint: sha256(files.modelJson, files.weights),
    classes: model.outputs[0].shape[model.outputs[0].shape.length - 1] ?? null,
    featureNames: [...model.layers.slice(1).map((layer) => layer.name), PENULTIMATE],
  };
  const sampleShape = (model.inputs[0].shape.slice(1) as number[]);
  const batch = (images: Float32Array, count: number) => tf.tensor(images, [count, ...sampleShape]);
  const tapped = new Map<string, ReturnType<typeof tappedModel>>();
  return {
    info,
    batchSize: 256,
    async logits(images, count) {
      return tf.tidy(() => (forward(model, batch(images, count)) as tf.Tensor).dataSync() as Float32Array);
    },
    async features(images, count, names) {
      const key = names.join('\n');
      const taps = tapped.get(key) ?? tappedModel(model, [...names], (name) => `teacher tap ${name}`);
      tapped.set(key, taps);
      const outputs = tf.tidy(() => (forward(taps.model, batch(images, count)) as tf.Tensor[]).map((output) => output.dataSync() as Float32Array));
      return Object.fromEntries(names.map((name) => [name, outputs[taps.outputs[name]]]));
    },
    featureShape(name) {
      return info.featureNames.includes(name) ? tapShape(model, name, `teacher tap ${name}`) : null;
    },
    async dispose() {},
  };
}
