import * as tf from '../engine/tf.js';
import { readRange, type Dataset } from '../data/dataset.js';
import { argmaxRow } from '../util/argmax.js';
import { allocateBatch, gatherBatch, type BatchBuffers } from '../data/batches.js';
import { forward } from '../models/forward.js';

/**
 * The samples at `indices` as tensors: images [b, h, w, c] and int32 labels [b]. Pass `buffers`
 * (from allocateBatch) to reuse one staging area across steps.
 */
export function batchTensors(dataset: Dataset, indices: ArrayLike<number>, buffers: BatchBuffers = allocateBatch(dataset, indices.length)): { images: tf.Tensor4D; labels: tf.Tensor1D } {
  const filled = gatherBatch(dataset, indices, buffers);
  return {
    images: tf.tensor4d(filled.images, [indices.length, ...dataset.sampleShape]),
    labels: tf.tensor1d(filled.labels, 'int32'),
  };
}

/** Rows `indices` of a row-major [n, columns] matrix, as a [b, columns] tensor. */
export function gatherRows(matrix: Float32Array, columns: number, indices: ArrayLike<number>): tf.Tensor2D {
  const rows = new Float32Array(indices.length * columns);
  for (let i = 0; i < indices.length; i++) {
    rows.set(matrix.subarray(indices[i] * columns, (indices[i] + 1) * columns), i * columns);
  }
  return tf.tensor2d(rows, [indices.length, columns]);
}

/** Runs the model in inference mode over the whole dataset; returns logits [n, classes], row-major. */
export function predictLogits(model: tf.LayersModel, dataset: Dataset, batchSize = 256): Float32Array {
  const count = dataset.labels.length;
  const numClasses = dataset.numClasses;
  const logits = new Float32Array(count * numClasses);
  let scratch: Float32Array | undefined;
  for (let start = 0; start < count; start += batchSize) {
    const end = Math.min(start + batchSize, count);
    const pixels = readRange(dataset, start, end, scratch);
    scratch = pixels;
    const images = tf.tensor4d(pixels, [end - start, ...dataset.sampleShape]);
    const output = forward(model, images) as tf.Tensor;
    logits.set(output.dataSync() as Float32Array, start * numClasses);
    tf.dispose([images, output]);
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

