/**
 * Inference over a whole dataset, batch by batch, and its accuracy: what training (validation),
 * evaluation, export checks and the CLI commands all need.
 */
import * as tf from '../engine/tf.js';
import { readRange, type Dataset, type SampleBatch } from '../data/dataset.js';
import { argmaxRow } from '../util/argmax.js';
import { forward } from './forward.js';
import { fieldTensors, modelInputs } from './inputs.js';

/** Runs the model in inference mode over the whole dataset; returns logits [n, classes], row-major. */
export function predictLogits(model: tf.LayersModel, dataset: Dataset, batchSize = 256): Float32Array {
  const count = dataset.labels.length;
  const numClasses = dataset.numClasses;
  const logits = new Float32Array(count * numClasses);
  let scratch: SampleBatch | undefined;
  for (let start = 0; start < count; start += batchSize) {
    const end = Math.min(start + batchSize, count);
    const batch = readRange(dataset, start, end, scratch);
    scratch = batch;
    const inputs = () => modelInputs(model, fieldTensors(dataset.inputs, batch, end - start), `${dataset.name}: model '${model.name}'`);
    logits.set(
      tf.tidy(() => (forward(model, inputs()) as tf.Tensor).dataSync() as Float32Array),
      start * numClasses,
    );
  }
  return logits;
}

/**
 * predictLogits, reading each batch's logits asynchronously: on a GPU backend (webgl, webgpu) the
 * page stays responsive, and WebGPU gives no reliable synchronous read.
 */
export async function predictLogitsAsync(model: tf.LayersModel, dataset: Dataset, batchSize = 256): Promise<Float32Array> {
  const count = dataset.labels.length;
  const numClasses = dataset.numClasses;
  const logits = new Float32Array(count * numClasses);
  let scratch: SampleBatch | undefined;
  for (let start = 0; start < count; start += batchSize) {
    const end = Math.min(start + batchSize, count);
    const batch = readRange(dataset, start, end, scratch);
    scratch = batch;
    const inputs = () => modelInputs(model, fieldTensors(dataset.inputs, batch, end - start), `${dataset.name}: model '${model.name}'`);
    const output = tf.tidy(() => forward(model, inputs()) as tf.Tensor);
    try {
      logits.set((await output.data()) as Float32Array, start * numClasses);
    } finally {
      output.dispose();
    }
  }
  return logits;
}

/** Fraction of rows whose arg-max equals the label. */
export function accuracy(logits: Float32Array, labels: Int32Array): number {
  const numClasses = logits.length / labels.length;
  let correct = 0;
  for (let i = 0; i < labels.length; i++) if (argmaxRow(logits, i, numClasses) === labels[i]) correct++;
  return labels.length === 0 ? 0 : correct / labels.length;
}
