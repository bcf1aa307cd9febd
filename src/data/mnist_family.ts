/**
 * Loader for any MNIST-family directory: four IDX files (images uint8 [count, height, width],
 * labels uint8 [count]) named as in the original MNIST distribution, each optionally gzipped.
 */
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { InputError } from '../errors.js';
import { imageDataset, type Dataset } from './dataset.js';
import { IDX_IMAGES_MAGIC, IDX_LABELS_MAGIC, readIdxFile } from './idx.js';

export interface MnistFamilyArgs {
  /** Dataset name used in Dataset.name and in error messages, e.g. 'fashion-mnist'. */
  readonly name: string;
  /** Directory holding the four IDX files. */
  readonly directory: string;
  /** One name per class; its length is the number of classes labels are checked against. */
  readonly classNames: readonly string[];
  /** Appended to "missing directory/file" errors: how the user can obtain the files. */
  readonly howToGet: string;
}

/** The official train and test parts; validation is carved out of train later. */
export interface TrainTestParts {
  readonly train: Dataset;
  readonly test: Dataset;
}

export const MNIST_FAMILY_FILES = {
  trainImages: 'train-images-idx3-ubyte',
  trainLabels: 'train-labels-idx1-ubyte',
  testImages: 't10k-images-idx3-ubyte',
  testLabels: 't10k-labels-idx1-ubyte',
} as const;

export function loadMnistFamily(args: MnistFamilyArgs): TrainTestParts {
  const paths = locateMnistFamily(args);
  return {
    train: loadIdxPair(`${args.name}/train`, paths.trainImages, paths.trainLabels, args.classNames),
    test: loadIdxPair(`${args.name}/test`, paths.testImages, paths.testLabels, args.classNames),
  };
}

/** Paths of the four files, each uncompressed if present else gzipped; a missing one is an InputError. */
export function locateMnistFamily(args: Omit<MnistFamilyArgs, 'classNames'>): Record<keyof typeof MNIST_FAMILY_FILES, string> {
  const { name, directory, howToGet } = args;
  if (!existsSync(directory)) {
    throw new InputError(`${name}: directory ${directory} does not exist. ${howToGet}`);
  }
  if (!statSync(directory).isDirectory()) {
    throw new InputError(`${name}: ${directory} is not a directory, expected a directory holding the four IDX files. ${howToGet}`);
  }
  const locate = (baseName: string) => findIdxFile(args, baseName);
  // Locate all four before parsing any, so a missing file is reported before a slow parse.
  return {
    trainImages: locate(MNIST_FAMILY_FILES.trainImages),
    trainLabels: locate(MNIST_FAMILY_FILES.trainLabels),
    testImages: locate(MNIST_FAMILY_FILES.testImages),
    testLabels: locate(MNIST_FAMILY_FILES.testLabels),
  };
}

/** The uncompressed file if present, else the gzipped one. */
function findIdxFile(args: Omit<MnistFamilyArgs, 'classNames'>, baseName: string): string {
  const plain = join(args.directory, baseName);
  if (existsSync(plain)) return plain;
  const gzipped = `${plain}.gz`;
  if (existsSync(gzipped)) return gzipped;
  throw new InputError(`${args.name}: missing file, neither ${plain} nor ${gzipped} exists. ${args.howToGet}`);
}

/**
 * Reads one images file and its labels file into a Dataset: pixels scaled from 0..255 to [0, 1],
 * labels checked against the class count and the images count.
 */
export function loadIdxPair(name: string, imagesPath: string, labelsPath: string, classNames: readonly string[]): Dataset {
  const labelsIdx = readIdxFile(labelsPath, IDX_LABELS_MAGIC);
  const rawLabels = labelsIdx.values as Uint8Array;
  const numClasses = classNames.length;
  const labels = new Int32Array(rawLabels.length);
  for (let i = 0; i < rawLabels.length; i++) {
    if (rawLabels[i] >= numClasses) {
      throw new InputError(`${labelsPath}: label at index ${i} is ${rawLabels[i]}, expected a class in [0, ${numClasses})`);
    }
    labels[i] = rawLabels[i];
  }

  const imagesIdx = readIdxFile(imagesPath, IDX_IMAGES_MAGIC);
  const [imageCount, height, width] = imagesIdx.dims;
  if (height === 0 || width === 0) throw new InputError(`${imagesPath}: images are ${height}×${width} pixels; expected at least 1×1`);
  if (imageCount !== labels.length) {
    throw new InputError(`${imagesPath} has ${imageCount} images but ${labelsPath} has ${labels.length} labels; they must match`);
  }
  const rawPixels = imagesIdx.values as Uint8Array;
  const images = new Float32Array(rawPixels.length);
  for (let i = 0; i < rawPixels.length; i++) images[i] = rawPixels[i] / 255;

  return imageDataset({ name, images, labels, sampleShape: [height, width, 1], numClasses, classNames, rawScale: 1 / 255 });
}
