/**
 * Inference over a whole dataset, batch by batch, and its accuracy: what training (validation),
 * evaluation, export checks and the CLI commands all need.
 */
import * as tf from '../engine/tf.js';
import { readRange, type Dataset, type SampleBatch } from '../data/dataset.js';
import { argmaxRow } from '../util/argmax.js';
import { forward } from './forward.js';
import { fieldTensors, modelInputs } from './inputs.js';

/** Each batch's logits [rows, classes] in inference mode, with its first row; the caller reads and disposes them. */
function* batchLogits(model: tf.LayersModel, dataset: Dataset, batchSize: number): Generator<{ start: number; output: tf.Tensor }> {
  const count = dataset.labels.length;
  let scratch: SampleBatch | undefined;
  for (let start = 0; start < count; start += batchSize) {
    const end = Math.min(start + batchSize, count);
    const batch = readRange(dataset, start, end, scratch);
    scratch = batch;
    const inputs = () => modelInputs(model, fieldTensors(dataset.inputs, batch, end - start), `${dataset.name}: model '${model.name}'`);
    yield { start, output: tf.tidy(() => forward(model, inputs()) as tf.Tensor) };
  }
}

/** Runs the model in inference mode over the whole dataset; returns logits [n, classes], row-major. */
export function predictLogits(model: tf.LayersModel, dataset: Dataset, batchSize = 256): Float32Array {
  const logits = new Float32Array(dataset.labels.length * dataset.numClasses);
  for (const { start, output } of batchLogits(model, dataset, batchSize)) {
    try {
      logits.set(output.dataSync() as Float32Array, start * dataset.numClasses);
    } finally {
      output.dispose();
    }
  }
  return logits;
}

/**
 * predictLogits, reading each batch's logits asynchronously: on a GPU backend (webgl, webgpu) the
 * page stays responsive, and WebGPU gives no reliable synchronous read.
 */
export async function predictLogitsAsync(model: tf.LayersModel, dataset: Dataset, batchSize = 256): Promise<Float32Array> {
  const logits = new Float32Array(dataset.labels.length * dataset.numClasses);
  for (const { start, output } of batchLogits(model, dataset, batchSize)) {
    try {
      logits.set((await output.data()) as Float32Array, start * dataset.numClasses);
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
