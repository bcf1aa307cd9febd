import { InputError } from '../errors.js';
import type { DatasetSplits } from './dataset.js';
import { loadDigits } from './digits.js';
import { DEFAULT_FASHION_MNIST_DIR, loadFashionMnist } from './fashion_mnist.js';
import type { TrainTestParts } from './mnist_family.js';
import { splitValidation } from './split.js';

export type { Dataset, DatasetSplits } from './dataset.js';
export { sampleCount, sampleSize } from './dataset.js';
export { parseIdx, readIdxFile, readMaybeGzipped, IDX_IMAGES_MAGIC, IDX_LABELS_MAGIC } from './idx.js';
export type { IdxArray, IdxDataType, IdxValues } from './idx.js';
export { loadMnistFamily, loadIdxPair, MNIST_FAMILY_FILES } from './mnist_family.js';
export type { MnistFamilyArgs, TrainTestParts } from './mnist_family.js';
export { loadFashionMnist, FASHION_MNIST_CLASS_NAMES, DEFAULT_FASHION_MNIST_DIR } from './fashion_mnist.js';
export { loadDigits, loadDigitsAll, DIGITS_CLASS_NAMES, DIGITS_TEST_SEED, DIGITS_TEST_PERCENT } from './digits.js';
export { splitValidation, subset } from './split.js';
export { allocateBatch, batchCount, gatherBatch, shuffledOrder } from './batches.js';
export type { BatchBuffers } from './batches.js';

export const DATASET_NAMES = ['digits', 'fashion-mnist'] as const;
export type DatasetName = (typeof DATASET_NAMES)[number];

export interface DatasetSpec {
  /** Which dataset to load. */
  name: DatasetName;
  /** fashion-mnist only: directory of the four IDX files; defaults to DEFAULT_FASHION_MNIST_DIR. */
  path?: string;
  /** Samples carved out of train for validation; default 5000 (fashion-mnist) or 10% of train (digits). */
  validation?: number;
}

interface DatasetSource {
  load(path: string | undefined): TrainTestParts;
  defaultValidation(trainCount: number): number;
}

const SOURCES: Readonly<Record<DatasetName, DatasetSource>> = {
  digits: {
    load(path) {
      if (path !== undefined) {
        throw new InputError(`dataset.path is not used by 'digits' (it is embedded in kdkit); remove it, got '${path}'`);
      }
      return loadDigits();
    },
    defaultValidation: (trainCount) => Math.round(trainCount / 10),
  },
  'fashion-mnist': {
    load: (path) => loadFashionMnist(path ?? DEFAULT_FASHION_MNIST_DIR),
    defaultValidation: () => 5000,
  },
};

/**
 * Loads train/validation/test. The test part is fixed by the dataset; validation is carved out
 * of train with `seed`, so it changes with the seed while test does not. Synchronous.
 */
export function loadDataset(spec: DatasetSpec, seed: number): DatasetSplits {
  if (!Object.hasOwn(SOURCES, spec.name)) {
    throw new InputError(`dataset.name: unknown dataset '${spec.name}', expected one of ${DATASET_NAMES.join(', ')}`);
  }
  const source = SOURCES[spec.name];
  const { train, test } = source.load(spec.path);
  const validationCount = spec.validation ?? source.defaultValidation(train.labels.length);
  const split = splitValidation(train, validationCount, seed);
  return { train: split.train, validation: split.validation, test };
}
