import * as tf from '../engine/tf.js';
import type { Dataset, SampleBatch } from '../data/dataset.js';
import { allocateBatch, gatherBatch, type BatchBuffers } from '../data/batches.js';
import { fieldTensors } from '../models/inputs.js';

/**
 * The samples at `indices` as tensors: one per field, [b, ...shape] of its dtype (models/inputs.ts
 * modelInputs hands them to a model), and int32 labels [b]. Pass `buffers` (from allocateBatch)
 * to reuse one staging area across steps.
 */
export function batchTensors(
  dataset: Dataset,
  indices: ArrayLike<number>,
  buffers: BatchBuffers = allocateBatch(dataset, indices.length),
  augment?: (samples: SampleBatch) => void,
): { inputs: Record<string, tf.Tensor>; labels: tf.Tensor1D; samples: SampleBatch } {
  const filled = gatherBatch(dataset, indices, buffers);
  augment?.(filled.samples);
  return {
    inputs: fieldTensors(dataset.inputs, filled.samples, indices.length),
    labels: tf.tensor1d(filled.labels, 'int32'),
    // The host copy the tensors were made from (augmented), valid until the next batch is gathered.
    samples: filled.samples,
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
