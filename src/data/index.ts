import type { z } from 'zod';
import { DEFAULT_MAX_LENGTH, type datasetSpec, type tokenizerSpec } from '../config/schema.js';
import { InputError } from '../errors.js';
import { sampleBytes, type DatasetSplits } from './dataset.js';
import { loadDigits } from './digits.js';
import { DEFAULT_FASHION_MNIST_DIR, FASHION_MNIST_CLASS_NAMES, loadFashionMnist, locateFashionMnist } from './fashion_mnist.js';
import { expandFiles, openPart, partDataset, shouldStream, type FileFormat, type StreamChoice } from './files.js';
import type { TrainTestParts } from './mnist_family.js';
import { splitValidation } from './split.js';
import { banking77Spec, loadTextParts, type TextDatasetSpec, type TokenizerSpec } from './text/dataset.js';
import { cachedTextParts } from './text/cache.js';
import { WORDPIECE_DEFAULTS } from './text/wordpiece.js';
import type { TextTokenizer } from './text/tokenizer.js';

export type {
  Dataset,
  DatasetSplits,
  FieldArray,
  ImageField,
  InputDType,
  InputField,
  MemoryDatasetArgs,
  SampleBatch,
  SampleSource,
} from './dataset.js';
export {
  allPixels,
  allSamples,
  describeInputs,
  fieldSize,
  forEachBatch,
  IMAGE_FIELD,
  imageDataset,
  imageField,
  imageInput,
  imageShape,
  isImageField,
  memoryDataset,
  readRange,
  sampleBytes,
  sampleCount,
  syntheticSamples,
} from './dataset.js';
export { expandFiles, STREAM_AUTO_FRACTION } from './files.js';
export { FilePixels } from './streamed.js';
export { parseIdx, readIdxFile, readMaybeGzipped, IDX_IMAGES_MAGIC, IDX_LABELS_MAGIC } from './idx.js';
export type { IdxArray, IdxDataType, IdxValues } from './idx.js';
export { loadMnistFamily, loadIdxPair, MNIST_FAMILY_FILES } from './mnist_family.js';
export type { MnistFamilyArgs, TrainTestParts } from './mnist_family.js';
export { loadFashionMnist, FASHION_MNIST_CLASS_NAMES, DEFAULT_FASHION_MNIST_DIR } from './fashion_mnist.js';
export { loadDigits, loadDigitsAll, DIGITS_CLASS_NAMES, DIGITS_TEST_SEED, DIGITS_TEST_PERCENT } from './digits.js';
export { splitValidation, subset } from './split.js';
export { allocateBatch, batchCount, gatherBatch, shuffledOrder } from './batches.js';
export type { BatchBuffers } from './batches.js';

export { BANKING77_DIR, banking77Classes, loadBanking77, loadTextParts } from './text/dataset.js';
export type { TextDatasetSpec, TextParts, TokenizerSpec } from './text/dataset.js';
export { readTextRecords, TEXT_FORMATS } from './text/read.js';
export type { TextFields, TextFormat, TextRecords } from './text/read.js';
export { ATTENTION_MASK, INPUT_IDS, TextTokenizer, TOKEN_TYPE_IDS } from './text/tokenizer.js';
export type { EncodedTexts } from './text/tokenizer.js';
export { bertTokenizerJson, trainWordPiece, WORDPIECE_DEFAULTS } from './text/wordpiece.js';
export type { WordPieceOptions } from './text/wordpiece.js';

export const DATASET_NAMES = ['digits', 'fashion-mnist', 'idx', 'npy', 'text', 'banking77'] as const;
export type DatasetName = (typeof DATASET_NAMES)[number];

/** A dataset as a config describes it (config/schema.ts `dataset:`); defaults may be left out. */
export type DatasetSpec = z.input<typeof datasetSpec>;

/** The splits, and a text dataset's tokenizer, which the student is exported with. */
export interface LoadedSplits extends DatasetSplits {
  readonly tokenizer?: TextTokenizer;
  /** A text dataset's test texts, in the test split's order. */
  readonly testTexts?: readonly string[];
  /** A text dataset loaded with a store: whether its tokens came from there (text/cache.ts). */
  readonly tokensCached?: boolean;
}

/** How many samples of train a dataset carves out for validation unless told. */
const DEFAULT_VALIDATION: Readonly<Record<DatasetName, (trainCount: number) => number>> = {
  digits: (trainCount) => Math.round(trainCount / 10),
  'fashion-mnist': () => 5000,
  idx: (trainCount) => Math.min(5000, Math.round(trainCount / 10)),
  npy: (trainCount) => Math.min(5000, Math.round(trainCount / 10)),
  text: (trainCount) => Math.min(5000, Math.round(trainCount / 10)),
  banking77: (trainCount) => Math.round(trainCount / 10),
};

/**
 * Loads train/validation/test. The test part is fixed by the dataset; validation is carved out
 * of train with `seed`, so it changes with the seed while test does not. Pixels of a large
 * dataset stay on disk and are read batch by batch (`stream`); labels are always in memory.
 */
/**
 * The dataset's splits. `store`, where given, keeps tokenized text datasets (text/cache.ts), so
 * that a later run on the same data and tokenizer reads them back instead.
 */
export function loadDataset(spec: DatasetSpec, seed: number, options: { store?: string } = {}): LoadedSplits {
  if (!Object.hasOwn(DEFAULT_VALIDATION, spec.name)) {
    throw new InputError(`dataset.name: unknown dataset '${spec.name}', expected one of ${DATASET_NAMES.join(', ')}`);
  }
  const { train, test, tokenizer, testTexts, tokensCached } = loadParts(spec, options.store);
  const validationCount = spec.validation ?? DEFAULT_VALIDATION[spec.name](train.labels.length);
  const split = splitValidation(train, validationCount, seed);
  return {
    train: split.train,
    validation: split.validation,
    test,
    ...(tokenizer && { tokenizer, testTexts }),
    ...(tokensCached !== undefined && { tokensCached }),
  };
}

function loadParts(
  spec: DatasetSpec,
  store: string | undefined,
): TrainTestParts & { tokenizer?: TextTokenizer; testTexts?: readonly string[]; tokensCached?: boolean } {
  switch (spec.name) {
    case 'text':
    case 'banking77': {
      const text: TextDatasetSpec =
        spec.name === 'text'
          ? {
              ...spec,
              name: 'text',
              tokenizer: tokenizerOptions(spec.tokenizer),
              maxLength: spec.maxLength ?? DEFAULT_MAX_LENGTH,
              textField: spec.textField ?? 'text',
              labelField: spec.labelField ?? 'label',
            }
          : banking77Spec(tokenizerOptions(spec.tokenizer), spec.maxLength ?? DEFAULT_MAX_LENGTH, spec.trainLabels ?? true);
      if (store === undefined) return loadTextParts(text);
      const { cached, ...parts } = cachedTextParts(text, store, () => loadTextParts(text));
      return { ...parts, tokensCached: cached };
    }
    case 'digits': {
      const path = (spec as { path?: unknown }).path;
      if (path !== undefined) {
        throw new InputError(`dataset.path is not used by 'digits' (it is embedded in kdkit); remove it, got '${String(path)}'`);
      }
      return loadDigits();
    }
    case 'fashion-mnist': {
      const directory = spec.path ?? DEFAULT_FASHION_MNIST_DIR;
      if (spec.stream !== true) return loadFashionMnist(directory);
      const files = locateFashionMnist(directory);
      return fileParts(
        'fashion-mnist',
        'idx',
        {
          train: { images: files.trainImages, labels: files.trainLabels },
          test: { images: files.testImages, labels: files.testLabels },
        },
        FASHION_MNIST_CLASS_NAMES,
        true,
      );
    }
    case 'idx':
    case 'npy':
      return fileParts(spec.name, spec.name, spec, spec.classes, spec.stream ?? 'auto', spec.name === 'npy' ? spec.layout : undefined);
  }
}

/** A config's tokenizer with the defaults it may leave out. */
function tokenizerOptions(spec: z.input<typeof tokenizerSpec> | undefined): TokenizerSpec {
  if (typeof spec === 'string') return spec;
  return { ...WORDPIECE_DEFAULTS, ...spec, train: 'wordpiece' };
}

type PartFiles = { images: string | readonly string[]; labels: string | readonly string[] };

/** Train and test from files, streamed or read whole. */
function fileParts(
  name: string,
  format: FileFormat,
  parts: { train: PartFiles; test: PartFiles },
  classes: number | readonly string[] | undefined,
  stream: StreamChoice,
  layout?: 'nhwc' | 'nchw',
): TrainTestParts {
  const open = (part: 'train' | 'test') =>
    openPart({
      name: `${name}/${part}`,
      format,
      images: expandFiles(parts[part].images, `dataset.${part}.images`),
      labels: expandFiles(parts[part].labels, `dataset.${part}.labels`),
      field: `dataset.${part}`,
      layout,
    });
  const train = open('train');
  const test = open('test');
  if (train.encoding.sampleShape.join() !== test.encoding.sampleShape.join()) {
    throw new InputError(
      `dataset.test: samples are ${test.encoding.sampleShape.join('×')}, train samples are ${train.encoding.sampleShape.join('×')}; they must match`,
    );
  }
  const classNames = classNamesOf(classes, [train.labels, test.labels]);
  const streaming = shouldStream(stream, [train, test], 'dataset.stream');
  return { train: partDataset(train, classNames, streaming), test: partDataset(test, classNames, streaming) };
}

/** Most classes inferred from the labels when dataset.classes is not given (ImageNet-21k has 21,841). */
const MAX_INFERRED_CLASSES = 100_000;

/** Names given, or "0" … "n−1" for a count or for the largest label + 1. */
function classNamesOf(classes: number | readonly string[] | undefined, labels: Int32Array[]): readonly string[] {
  if (Array.isArray(classes)) return classes;
  const count =
    typeof classes === 'number' ? classes : Math.max(2, ...labels.map((each) => each.reduce((max, label) => Math.max(max, label + 1), 0)));
  // A stray label (1e9) would otherwise make a billion class names before any range check.
  if (classes === undefined && count > MAX_INFERRED_CLASSES) {
    throw new InputError(
      `dataset.classes: not given, and the largest label is ${count - 1}, which would make ${count} classes (kdkit infers at most ${MAX_INFERRED_CLASSES}); set dataset.classes, or check the label files`,
    );
  }
  return Array.from({ length: count }, (_, i) => String(i));
}

/** Where samples live for a run's log: "in memory", or "streamed from disk (N GB as float32)". */
export function describeStorage(data: DatasetSplits): string {
  if (data.train.samples.storage === 'memory') return 'in memory';
  const bytes = [data.train, data.validation, data.test].reduce((total, part) => total + part.labels.length * sampleBytes(part.inputs), 0);
  return `streamed from disk in batches (${(bytes / 1e9).toFixed(2)} GB as float32 stays on disk)`;
}

/** Closes the files a streamed dataset keeps open. */
export function closeDataset(data: DatasetSplits): void {
  for (const part of [data.train, data.validation, data.test]) part.samples.close?.();
}
