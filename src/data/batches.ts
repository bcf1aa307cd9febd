/**
 * Batch assembly on plain typed arrays. The trainer allocates one batch buffer per run,
 * fills it here for each step and wraps the filled part as tensors.
 */
import type { Rng } from '../util/rng.js';
import { sampleCount, sampleSize, type Dataset } from './dataset.js';

export interface BatchBuffers {
  /** batchSize × sampleSize pixels. */
  readonly images: Float32Array;
  /** batchSize labels. */
  readonly labels: Int32Array;
}

export function allocateBatch(dataset: Dataset, batchSize: number): BatchBuffers {
  return { images: new Float32Array(batchSize * sampleSize(dataset)), labels: new Int32Array(batchSize) };
}

/** A fresh random visiting order of all samples, drawn from the caller's seeded Rng. */
export function shuffledOrder(count: number, rng: Rng): Int32Array {
  return rng.permutation(count);
}

/** Number of batches per epoch; the last one may be partial. */
export function batchCount(count: number, batchSize: number): number {
  return Math.ceil(count / batchSize);
}

/**
 * Copies samples `indices[0..]` into the front of `buffers` and returns views of exactly the
 * filled part (shorter than the buffers for a final partial batch). No allocation.
 */
export function gatherBatch(dataset: Dataset, indices: ArrayLike<number>, buffers: BatchBuffers): BatchBuffers {
  const size = sampleSize(dataset);
  const count = sampleCount(dataset);
  if (indices.length > buffers.labels.length || indices.length * size > buffers.images.length) {
    throw new RangeError(
      `gatherBatch: ${indices.length} samples of ${size} values do not fit buffers of ` +
      `${buffers.labels.length} labels / ${buffers.images.length} pixels`,
    );
  }
  for (let i = 0; i < indices.length; i++) {
    const source = indices[i];
    if (!Number.isInteger(source) || source < 0 || source >= count) {
      throw new RangeError(`gatherBatch from ${dataset.name}: index ${source} is outside [0, ${count})`);
    }
    buffers.labels[i] = dataset.labels[source];
  }
  const images = buffers.images.subarray(0, indices.length * size);
  dataset.pixels.read(indices, images);
  return {
    images,
    labels: buffers.labels.subarray(0, indices.length),
  };
}
