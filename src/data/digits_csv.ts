/**
 * The UCI optical-recognition digits (Alpaydin & Kaynak 1998, CC BY 4.0), as shipped by
 * scikit-learn: 1797 samples of 8×8 pixel counts in 0..16, 10 classes. Embedded in the package
 * under data/digits/ (see its README for provenance) so that kdkit runs with no download.
 * This module parses and splits its CSV anywhere (kdkit/browser too); ./digits.ts reads the file in Node.
 */
import { InputError } from '../errors.js';
import { Rng } from '../util/rng.js';
import { imageDataset, type Dataset } from './dataset.js';
import type { TrainTestParts } from './mnist_family.js';
import { subset } from './split.js';

export const DIGITS_CLASS_NAMES: readonly string[] = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'];

const SIDE = 8;
const PIXELS = SIDE * SIDE;
const MAX_PIXEL = 16;

/**
 * The test hold-out is drawn with this fixed seed, never the run seed, so that test accuracy
 * is measured on the same 359 samples in every run and is comparable across seeds.
 */
export const DIGITS_TEST_SEED = 19980701;
/** Percentage of each class held out for test. */
export const DIGITS_TEST_PERCENT = 20;

/** Parses the scikit-learn CSV: one sample per line, 64 pixel counts then the label. */
export function parseDigitsCsv(text: string, source: string): Dataset {
  const lines = text.split('\n').filter((line) => line.trim() !== '');
  const images = new Float32Array(lines.length * PIXELS);
  const labels = new Int32Array(lines.length);
  lines.forEach((line, row) => {
    const fields = line.split(',');
    if (fields.length !== PIXELS + 1) {
      throw new InputError(`${source}: line ${row + 1} has ${fields.length} fields, expected ${PIXELS + 1} (64 pixels and a label)`);
    }
    fields.forEach((field, column) => {
      const value = Number(field);
      const max = column < PIXELS ? MAX_PIXEL : DIGITS_CLASS_NAMES.length - 1;
      if (field.trim() === '' || !Number.isInteger(value) || value < 0 || value > max) {
        throw new InputError(`${source}: line ${row + 1}, field ${column + 1} is '${field}', expected an integer in 0..${max}`);
      }
      if (column < PIXELS) images[row * PIXELS + column] = value / MAX_PIXEL;
      else labels[row] = value;
    });
  });
  return imageDataset({
    name: 'digits',
    images,
    labels,
    sampleShape: [SIDE, SIDE, 1],
    numClasses: DIGITS_CLASS_NAMES.length,
    classNames: DIGITS_CLASS_NAMES,
    rawScale: 1 / MAX_PIXEL,
  });
}

/**
 * Fixed stratified hold-out: within each class, shuffle that class's indices with
 * DIGITS_TEST_SEED and take round(20%) for test. Both parts keep file order.
 */
export function digitsTestIndices(labels: Int32Array, numClasses: number): Int32Array {
  const rng = new Rng(DIGITS_TEST_SEED);
  const test: number[] = [];
  for (let label = 0; label < numClasses; label++) {
    const members: number[] = [];
    labels.forEach((value, index) => {
      if (value === label) members.push(index);
    });
    rng.shuffle(members);
    test.push(...members.slice(0, Math.round((members.length * DIGITS_TEST_PERCENT) / 100)));
  }
  return Int32Array.from(test).sort();
}

/** The fixed train/test parts (1438 / 359) of all the samples. Validation is carved from train by the run seed. */
export function splitDigits(all: Dataset): TrainTestParts {
  const testIndices = digitsTestIndices(all.labels, all.numClasses);
  const isTest = new Uint8Array(all.labels.length);
  for (const index of testIndices) isTest[index] = 1;
  const trainIndices: number[] = [];
  isTest.forEach((flag, index) => {
    if (!flag) trainIndices.push(index);
  });
  return {
    train: subset(all, trainIndices, 'digits/train'),
    test: subset(all, testIndices, 'digits/test'),
  };
}
