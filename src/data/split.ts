import { InputError } from '../errors.js';
import { Rng } from '../util/rng.js';
import { sampleCount, type Dataset, type SampleSource } from './dataset.js';

/**
 * The given samples, in the order given, as a new Dataset whose samples are read through the
 * original's source: nothing is copied, so splitting a set does not double its memory.
 */
export function subset(dataset: Dataset, indices: ArrayLike<number>, name: string = dataset.name): Dataset {
  const count = sampleCount(dataset);
  const kept = Int32Array.from(indices as ArrayLike<number>);
  const labels = new Int32Array(kept.length);
  for (let i = 0; i < kept.length; i++) {
    const source = indices[i];
    if (!Number.isInteger(source) || source < 0 || source >= count) {
      throw new RangeError(`subset of ${dataset.name}: index ${source} at position ${i} is outside [0, ${count})`);
    }
    labels[i] = dataset.labels[source];
  }
  const texts = dataset.texts && Array.from(kept, (index) => dataset.texts![index]);
  return { ...dataset, name, labels, samples: indexedSamples(dataset.samples, kept), ...(texts && { texts }) };
}

/** The samples `kept[i]` of `parent`, as samples 0, 1, … of a new source. */
function indexedSamples(parent: SampleSource, kept: Int32Array): SampleSource {
  let mapped = new Int32Array(0);
  return {
    storage: parent.storage,
    read(indices, out) {
      if (mapped.length < indices.length) mapped = new Int32Array(indices.length);
      const view = mapped.subarray(0, indices.length);
      for (let i = 0; i < indices.length; i++) view[i] = kept[indices[i]];
      parent.read(view, out);
    },
    prefetch: parent.prefetch && ((indices) => parent.prefetch!(Int32Array.from(indices as ArrayLike<number>, (index) => kept[index]))),
    close: () => parent.close?.(),
  };
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
export function splitValidation(train: Dataset, validationCount: number, seed: number): { train: Dataset; validation: Dataset } {
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
