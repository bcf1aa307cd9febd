import * as tf from '../engine/tf.js';
import type { Dataset } from '../data/dataset.js';

/** Copies the samples at `indices` into tensors: images [b, h, w, c] and int32 labels [b]. */
export function batchTensors(dataset: Dataset, indices: ArrayLike<number>): { images: tf.Tensor4D; labels: tf.Tensor1D } {
  const [height, width, channels] = dataset.sampleShape;
  const size = height * width * channels;
  const images = new Float32Array(indices.length * size);
  const labels = new Int32Array(indices.length);
  for (let i = 0; i < indices.length; i++) {
    const sample = indices[i];
    images.set(dataset.images.subarray(sample * size, (sample + 1) * size), i * size);
    labels[i] = dataset.labels[sample];
  }
  return {
    images: tf.tensor4d(images, [indices.length, height, width, channels]),
    labels: tf.tensor1d(labels, 'int32'),
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
  for (let start = 0; start < count; start += batchSize) {
    const indices = Array.from({ length: Math.min(batchSize, count - start) }, (_, i) => start + i);
    const batch = batchTensors(dataset, indices);
    const output = model.predict(batch.images) as tf.Tensor;
    logits.set(output.dataSync() as Float32Array, start * numClasses);
    tf.dispose([batch.images, batch.labels, output]);
  }
  return logits;
}

/** Fraction of rows whose arg-max equals the label. */
export function accuracy(logits: Float32Array, labels: Int32Array): number {
  const numClasses = logits.length / labels.length;
  let correct = 0;
  for (let i = 0; i < labels.length; i++) {
    let best = 0;
    for (let c = 1; c < numClasses; c++) if (logits[i * numClasses + c] > logits[i * numClasses + best]) best = c;
    if (best === labels[i]) correct++;
  }
  return labels.length === 0 ? 0 : correct / labels.length;
}
