/**
 * The soft-label cache: the teacher's logits over the transfer set, computed once and stored as
 * `.npy` under a directory named by a content hash of the teacher and the data. Temperature is
 * applied at loss time, never here, so one cache serves every temperature.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Dataset } from '../data/dataset.js';
import { decodeNpy, encodeNpy } from '../util/npy.js';
import { writeFileAtomic } from '../util/atomic.js';
import { InputError } from '../errors.js';

const LOGITS_FILE = 'teacher-logits.npy';

export interface SoftLabelManifest {
  key: string;
  teacher: string;
  dataset: string;
  samples: number;
  classes: number;
  dtype: 'float32';
  files: { logits: string };
  sha256: { logits: string };
  createdAt: string;
}

export interface SoftLabels {
  /** Row-major [samples, classes] teacher logits, before any temperature. */
  logits: Float32Array;
  directory: string;
  /** True when read from an existing cache entry rather than computed now. */
  cached: boolean;
}

export function sha256(...parts: (string | Uint8Array)[]): string {
  const hash = createHash('sha256');
  for (const part of parts) hash.update(part);
  return hash.digest('hex');
}

/** Identity of a dataset's samples and labels (not of its name). */
export function datasetFingerprint(dataset: Dataset): string {
  const images = new Uint8Array(dataset.images.buffer, dataset.images.byteOffset, dataset.images.byteLength);
  const labels = new Uint8Array(dataset.labels.buffer, dataset.labels.byteOffset, dataset.labels.byteLength);
  return sha256(JSON.stringify(dataset.sampleShape), images, labels);
}

/**
 * Returns the teacher's logits over `dataset`, from `cacheRoot` when an entry for this teacher and
 * data exists and its checksum holds, otherwise by calling `compute` and storing the result.
 */
export function softLabels(options: {
  cacheRoot: string;
  teacherFingerprint: string;
  dataset: Dataset;
  compute: () => Float32Array;
}): SoftLabels {
  const datasetId = datasetFingerprint(options.dataset);
  const key = sha256(options.teacherFingerprint, datasetId).slice(0, 24);
  const directory = join(options.cacheRoot, `soft-labels-${key}`);
  const manifestPath = join(directory, 'manifest.json');
  const samples = options.dataset.labels.length;
  const classes = options.dataset.numClasses;
  if (existsSync(manifestPath)) {
    const logits = readEntry(directory, manifestPath, samples, classes);
    if (logits) return { logits, directory, cached: true };
  }
  const logits = options.compute();
  if (logits.length !== samples * classes) {
    throw new InputError(`teacher produced ${logits.length / samples} outputs per sample; the dataset has ${classes} classes`);
  }
  const bytes = encodeNpy({ dtype: 'float32', data: logits, shape: [samples, classes] });
  writeFileAtomic(join(directory, LOGITS_FILE), bytes);
  const manifest: SoftLabelManifest = {
    key,
    teacher: options.teacherFingerprint,
    dataset: datasetId,
    samples,
    classes,
    dtype: 'float32',
    files: { logits: LOGITS_FILE },
    sha256: { logits: sha256(bytes) },
    createdAt: new Date().toISOString(),
  };
  writeFileAtomic(manifestPath, JSON.stringify(manifest, null, 2) + '\n');
  return { logits, directory, cached: false };
}

/** Reads a cache entry; null when it is stale or damaged, so the caller regenerates it. */
function readEntry(directory: string, manifestPath: string, samples: number, classes: number): Float32Array | null {
  try {
    const manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as SoftLabelManifest;
    const bytes = readFileSync(join(directory, LOGITS_FILE));
    if (sha256(bytes) !== manifest.sha256?.logits) return null;
    const array = decodeNpy(bytes, join(directory, LOGITS_FILE));
    if (array.dtype !== 'float32' || array.shape[0] !== samples || array.shape[1] !== classes) return null;
    return array.data;
  } catch {
    return null;
  }
}
