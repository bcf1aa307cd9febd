/**
 * The UCI optical-recognition digits (Alpaydin & Kaynak 1998, CC BY 4.0), as shipped by
 * scikit-learn: 1797 samples of 8×8 pixel counts in 0..16, 10 classes. Embedded in the package
 * under data/digits/ (see its README for provenance) so that kdkit runs with no download.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { InputError } from '../errors.js';
import type { Dataset } from './dataset.js';
import { parseDigitsCsv, splitDigits } from './digits_csv.js';
import type { TrainTestParts } from './mnist_family.js';

export * from './digits_csv.js';

/** Resolves to <package>/data/digits/digits.csv.gz from both src/data/ and dist/data/. */
export const DIGITS_CSV_URL = new URL('../../data/digits/digits.csv.gz', import.meta.url);

/** All 1797 samples, in file order. */
export function loadDigitsAll(): Dataset {
  const path = fileURLToPath(DIGITS_CSV_URL);
  let text: string;
  try {
    text = gunzipSync(readFileSync(path)).toString('utf8');
  } catch (error) {
    throw new InputError(`cannot read the embedded digits data ${path}: ${(error as Error).message}; reinstall kdkit`);
  }
  return parseDigitsCsv(text, path);
}

/** The fixed train/test parts (1438 / 359). Validation is carved from train by the run seed. */
export function loadDigits(): TrainTestParts {
  return splitDigits(loadDigitsAll());
}
