/**
 * What a soft-label store entry (store.ts) keeps besides the logits: the identity of a dataset, and
 * the teacher's features at tapped layers or outputs, one `.npy` per tap beside the shards.
 */
import { sha256 } from '../util/hash.js';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { readRange, sampleCount, type Dataset, type FieldArray, type SampleBatch } from '../data/dataset.js';
import { createHash } from 'node:crypto';
import { decodeNpy, encodeNpy } from '../util/npy.js';
import { writeFileAtomic } from '../util/atomic.js';
import { MAX_WHOLE_FILE_BYTES, readRegularFile } from '../util/regular_file.js';
import { InputError } from '../errors.js';

/** Samples hashed per read while fingerprinting a dataset that streams from disk. */
const FINGERPRINT_CHUNK = 4096;

/**
 * Identity of a dataset's samples and labels (not of its name): SHA-256 over every field's name,
 * dtype and shape, each field's values (hashed on their own, so the chunking of reads does not
 * matter) and the int32 labels. A streamed dataset is hashed chunk by chunk and gets the same
 * fingerprint as the same samples held in memory.
 */
export function datasetFingerprint(dataset: Dataset): string {
  const known = fingerprints.get(dataset);
  if (known !== undefined) return known;
  const fields = dataset.inputs.map((field) => ({ name: field.name, hash: createHash('sha256') }));
  const count = sampleCount(dataset);
  let scratch: SampleBatch | undefined;
  for (let start = 0; start < count; start += FINGERPRINT_CHUNK) {
    const batch = readRange(dataset, start, Math.min(start + FINGERPRINT_CHUNK, count), scratch);
    scratch = batch;
    for (const { name, hash } of fields) hash.update(bytesOf(batch[name]));
  }
  const hash = createHash('sha256').update(JSON.stringify(dataset.inputs.map(({ name, dtype, shape }) => ({ name, dtype, shape }))));
  for (const field of fields) hash.update(field.hash.digest());
  hash.update(bytesOf(dataset.labels));
  const fingerprint = hash.digest('hex');
  fingerprints.set(dataset, fingerprint);
  return fingerprint;
}

function bytesOf(values: FieldArray): Uint8Array {
  return new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
}

/** A run fingerprints its splits for its stage records and for the store: one pass each. Datasets are immutable. */
const fingerprints = new WeakMap<Dataset, string>();

/** features.json in a soft-label entry: one `.npy` per tapped teacher layer. */
interface FeatureManifest {
  taps: Record<string, { file: string; shape: number[]; sha256: string }>;
}

const FEATURES_MANIFEST = 'features.json';
/** features.json names one file per tap; far larger is not one. */
const MAX_FEATURES_MANIFEST_BYTES = 16 * 1024 * 1024;
/** What featureFile() makes; any other name in features.json would point outside the entry. */
const FEATURE_FILE_NAME = /^teacher-features-[A-Za-z0-9_-]+\.npy$/;

type TapRecord = FeatureManifest['taps'][string];

/** A well-formed record of one tap, whose file is one featureFile() could have named. */
function isTapRecord(entry: unknown): entry is TapRecord {
  const { file, shape, sha256: checksum } = (typeof entry === 'object' && entry !== null ? entry : {}) as Record<string, unknown>;
  return typeof file === 'string' && FEATURE_FILE_NAME.test(file) && Array.isArray(shape) && typeof checksum === 'string';
}

/** features.json parsed, or null when it is not JSON holding a `taps` object. */
function readFeatureManifest(path: string): FeatureManifest | null {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readRegularFile(path, MAX_FEATURES_MANIFEST_BYTES).toString('utf8'));
  } catch {
    return null;
  }
  const taps = (parsed as { taps?: unknown } | null)?.taps;
  return typeof taps === 'object' && taps !== null && !Array.isArray(taps) ? { taps: taps as FeatureManifest['taps'] } : null;
}

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
export async function cachedTeacherFeatures(options: {
  directory: string;
  taps: { name: string; shape: number[] }[];
  samples: number;
  compute: () => Record<string, Float32Array> | Promise<Record<string, Float32Array>>;
}): Promise<{ features: Record<string, Float32Array>; cached: boolean }> {
  const manifestPath = join(options.directory, FEATURES_MANIFEST);
  const manifest: FeatureManifest = (existsSync(manifestPath) ? readFeatureManifest(manifestPath) : null) ?? { taps: {} };
  const read = (name: string, shape: number[]): Float32Array | null => {
    const entry = Object.hasOwn(manifest.taps, name) ? manifest.taps[name] : undefined;
    if (!isTapRecord(entry) || !tfShapesEqual(entry.shape, [options.samples, ...shape])) return null;
    try {
      const bytes = readRegularFile(join(options.directory, entry.file), MAX_WHOLE_FILE_BYTES);
      if (sha256(bytes) !== entry.sha256) return null;
      const array = decodeNpy(bytes, join(options.directory, entry.file));
      return array.dtype === 'float32' && tfShapesEqual(array.shape, entry.shape) ? array.data : null;
    } catch {
      return null;
    }
  };
  const found = Object.fromEntries(options.taps.map(({ name, shape }) => [name, read(name, shape)]));
  if (options.taps.every(({ name }) => found[name] !== null)) return { features: found as Record<string, Float32Array>, cached: true };
  const computed = await options.compute();
  for (const { name, shape } of options.taps) {
    const data = computed[name];
    const full = [options.samples, ...shape];
    const bytes = encodeNpy({ dtype: 'float32', data, shape: full });
    const file = featureFile(name);
    writeFileAtomic(join(options.directory, file), bytes);
    manifest.taps = { ...manifest.taps, [name]: { file, shape: full, sha256: sha256(bytes) } };
  }
  writeFileAtomic(manifestPath, `${JSON.stringify(manifest, null, 2)}\n`);
  return { features: computed, cached: false };
}

/** Problems with the teacher features stored in a soft-label entry: unreadable features.json, missing or damaged files. */
export function verifyTeacherFeatures(directory: string): string[] {
  const manifestPath = join(directory, FEATURES_MANIFEST);
  if (!existsSync(manifestPath)) return [];
  const manifest = readFeatureManifest(manifestPath);
  if (manifest === null) return [`${FEATURES_MANIFEST}: not JSON with a 'taps' object`];
  return Object.entries(manifest.taps).flatMap(([tap, entry]) => {
    if (!isTapRecord(entry)) return [`features '${tap}': bad record ${JSON.stringify(entry)?.slice(0, 200)} in ${FEATURES_MANIFEST}`];
    const path = join(directory, entry.file);
    if (!existsSync(path)) return [`features '${tap}': ${entry.file} is missing`];
    try {
      return sha256(readRegularFile(path, MAX_WHOLE_FILE_BYTES, `features '${tap}': cannot read ${entry.file}`)) === entry.sha256
        ? []
        : [`features '${tap}': ${entry.file} fails its checksum`];
    } catch (error) {
      if (error instanceof InputError) return [error.message];
      throw error;
    }
  });
}

function tfShapesEqual(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((value, i) => value === b[i]);
}
