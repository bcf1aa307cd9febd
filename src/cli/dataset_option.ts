/**
 * The dataset `kdkit eval` and `kdkit export` measure on: a bundled one (`--dataset`, `--data`), or
 * the `dataset:` of an experiment config (`--config`), which is how idx / npy datasets, streamed
 * or not, are named on the command line.
 */
import { InputError } from '../errors.js';
import { loadConfigFile } from '../config/load.js';
import type { DatasetSpec } from '../data/index.js';

export interface DatasetOptions {
  dataset?: 'digits' | 'fashion-mnist';
  /** Directory of the Fashion-MNIST IDX files. */
  data?: string;
  /** An experiment config whose `dataset:` to use; it wins over --dataset and --data. */
  config?: string;
}

/** The dataset spec the options name, or undefined when they name none. */
export function datasetOfOptions(options: DatasetOptions): DatasetSpec | undefined {
  if (options.config) return loadConfigFile(options.config).dataset;
  if (options.data !== undefined && options.dataset !== 'fashion-mnist')
    throw new InputError('--data applies to --dataset fashion-mnist only (digits is embedded in kdkit)');
  if (!options.dataset) return undefined;
  return { name: options.dataset, ...(options.data ? { path: options.data } : {}) } as DatasetSpec;
}
