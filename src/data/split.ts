import { InputError } from '../errors.js';
import { Rng } from '../util/rng.js';
import { sampleCount, sampleSize, type Dataset } from './dataset.js';

/** A new Dataset holding copies of the given samples, in the order given. */
export function subset(dataset: Dataset, indices: ArrayLike<number>, name: string = dataset.name): Dataset {
  const size = sampleSize(dataset);
  const count = sampleCount(dataset);
  const images = new Float32Array(indices.length * size);
  const labels = new Int32Array(indices.length);
  for (let i = 0; i < indices.length; i++) {
    const source = indices[i];
    if (!Number.isInteger(source) || source < 0 || source >= count) {
      throw new RangeError(`subset of ${dataset.name}: index ${source} at position ${i} is outside [0, ${count})`);
    }
    images.set(dataset.images.subarray(source * size, (source + 1) * size), i * size);
    labels[i] = dataset.labels[source];
  }
  return { ...dataset, name, images, labels };
}

/** Replaces the last path segment of a dataset name: 'digits/train' → 'digits/validation'. */
function renamePart(name: string, part: string): string {
  const slash = name.lastIndexOf('/');
  return `${slash < 0 ? name : name.slice(0, slash)}/${part}`;
}

/**
 * Carves a seeded random validation set out of a training set. Both parts keep the original
 * sample order (the trainer shuffles per epoch), so only the seed decides who goes where.
 */
export function splitValidation(
  train: Dataset,
  validationCount: number,
  seed: number,
): { train: Dataset; validation: Dataset } {
  const count = sampleCount(train);
  if (!Number.isInteger(validationCount) || validationCount < 0 || validationCount >= count) {
    throw new InputError(
      `dataset.validation must be an integer in [0, ${count}) for ${train.name} (${count} training samples), got ${validationCount}`,
    );
  }
  const order = new Rng(seed).permutation(count);
  const validationIndices = order.slice(0, validationCount).sort();
  const trainIndices = order.slice(validationCount).sort();
  return {
    train: subset(train, trainIndices, renamePart(train.name, 'train')),
    validation: subset(train, validationIndices, renamePart(train.name, 'validation')),
  };
}
