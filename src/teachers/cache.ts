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

/** features.json in a soft-label entry: one `.npy` per tapped teacher layer. */
interface FeatureManifest {
  taps: Record<string, { file: string; shape: number[]; sha256: string }>;
}

const FEATURES_MANIFEST = 'features.json';

/** A safe file name for a tap (layer names are letters, digits, `_` and `/`). */
function featureFile(tap: string): string {
  return `teacher-features-${tap.replace(/[^A-Za-z0-9_-]/g, '_')}.npy`;
}

/**
 * The teacher's features at `taps` over the entry's dataset, stored beside its logits in
 * `directory` (a soft-label entry, which already names the teacher and the data): read when
 * present and intact, otherwise computed by `compute` (tap → row-major [samples, ...shape]) and
 * written. Returns the arrays and whether they came from the cache.
 */
export function cachedTeacherFeatures(options: {
  directory: string;
  taps: { name: string; shape: number[] }[];
  samples: number;
  compute: () => Record<string, Float32Array>;
}): { features: Record<string, Float32Array>; cached: boolean } {
  const manifestPath = join(options.directory, FEATURES_MANIFEST);
  let manifest: FeatureManifest = { taps: {} };
  if (existsSync(manifestPath)) {
    try {
      manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as FeatureManifest;
    } catch {
      manifest = { taps: {} };
    }
  }
  const read = (name: string, shape: number[]): Float32Array | null => {
    const entry = manifest.taps?.[name];
    if (!entry || !tfShapesEqual(entry.shape, [options.samples, ...shape])) return null;
    try {
      const bytes = readFileSync(join(options.directory, entry.file));
      if (sha256(bytes) !== entry.sha256) return null;
      const array = decodeNpy(bytes, join(options.directory, entry.file));
      return array.dtype === 'float32' && tfShapesEqual(array.shape, entry.shape) ? array.data : null;
    } catch {
      return null;
    }
  };
  const found = Object.fromEntries(options.taps.map(({ name, shape }) => [name, read(name, shape)]));
  if (options.taps.every(({ name }) => found[name] !== null)) return { features: found as Record<string, Float32Array>, cached: true };
  const computed = options.compute();
  for (const { name, shape } of options.taps) {
    const data = computed[name];
    const full = [options.samples, ...shape];
    const bytes = encodeNpy({ dtype: 'float32', data, shape: full });
    const file = featureFile(name);
    writeFileAtomic(join(options.directory, file), bytes);
    manifest.taps = { ...manifest.taps, [name]: { file, shape: full, sha256: sha256(bytes) } };
  }
  writeFileAtomic(manifestPath, JSON.stringify(manifest, null, 2) + '\n');
  return { features: computed, cached: false };
}

function tfShapesEqual(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((value, i) => value === b[i]);
}
