/**
 * Batch assembly on plain typed arrays. The trainer allocates one batch buffer per run,
 * fills it here for each step and wraps the filled part as tensors.
 */
import type { Rng } from '../util/rng.js';
import { allocateSamples, fieldSize, sampleCount, type Dataset, type FieldArray, type SampleBatch } from './dataset.js';

export interface BatchBuffers {
  /** batchSize samples of each field. */
  readonly samples: SampleBatch;
  /** batchSize labels. */
  readonly labels: Int32Array;
}

export function allocateBatch(dataset: Dataset, batchSize: number): BatchBuffers {
  return { samples: allocateSamples(dataset.inputs, batchSize), labels: new Int32Array(batchSize) };
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
 * filled part (shorter than the buffers for a final partial batch). No allocation of values.
 */
export function gatherBatch(dataset: Dataset, indices: ArrayLike<number>, buffers: BatchBuffers): BatchBuffers {
  const count = sampleCount(dataset);
  const short = dataset.inputs.find((field) => !(buffers.samples[field.name]?.length >= indices.length * fieldSize(field)));
  if (indices.length > buffers.labels.length || short) {
    throw new RangeError(
      `gatherBatch: ${indices.length} samples do not fit buffers of ${buffers.labels.length} labels` +
        (short ? ` / ${buffers.samples[short.name]?.length ?? 0} values of '${short.name}' (${fieldSize(short)} a sample)` : ''),
    );
  }
  for (let i = 0; i < indices.length; i++) {
    const source = indices[i];
    if (!Number.isInteger(source) || source < 0 || source >= count) {
      throw new RangeError(`gatherBatch from ${dataset.name}: index ${source} is outside [0, ${count})`);
    }
    buffers.labels[i] = dataset.labels[source];
  }
  const samples: Record<string, FieldArray> = Object.fromEntries(
    dataset.inputs.map((field) => [field.name, buffers.samples[field.name].subarray(0, indices.length * fieldSize(field))]),
  );
  dataset.samples.read(indices, samples);
  return { samples, labels: buffers.labels.subarray(0, indices.length) };
}
