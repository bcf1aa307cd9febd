/**
 * The persistent soft-label store: the teacher's logits over a dataset, computed once and kept as
 * `.npy` shards plus a manifest.json (numpy reads both), in a directory named by a content hash of
 * the teacher, the data and the storage options. Temperature is applied at loss time, never here.
 *
 * Generation is resumable: each shard is written under a temporary name and renamed, then the
 * manifest is rewritten to list it, so a build killed at any point leaves only complete shards
 * listed; the next build checks their checksums and computes the missing or damaged ones, in
 * order. Shards hold nothing but the teacher's numbers, so an interrupted build and an
 * uninterrupted one give byte-identical shards. Storage (float16, top-k): see store_codec.ts.
 */
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Dataset } from '../data/dataset.js';
import { sampleCount } from '../data/dataset.js';
import { sha256 } from '../util/hash.js';
import { withDirectoryLock } from '../util/lock.js';
import { isOrphanedTemporary, writeFileAtomic } from '../util/atomic.js';
import { InputError } from '../errors.js';
import { datasetFingerprint } from './cache.js';
import type { Teacher } from './teacher.js';
import { teacherLogits } from './logits.js';
import { decodeShard, encodeShard, RECONSTRUCTION, type ShardFormat, type StorageDtype } from './store_codec.js';
import type { ExperimentConfig } from '../config/schema.js';
import {
  entryDirectoryName,
  FORMAT,
  MANIFEST_FILE,
  readManifest,
  readShardFiles,
  shardCount,
  shardFiles,
  TEMPERATURE_NOTE,
  writeManifest,
  type ShardRecord,
  type StoreManifest,
} from './store_manifest.js';

export { listEntries, removeEntry, resolveEntry, verifyEntry, type EntrySummary } from './store_entries.js';
export type { StoreManifest } from './store_manifest.js';

export const DEFAULT_SHARD_SIZE = 8192;

export interface StoreOptions {
  /** Directory holding entries, one subdirectory per key. */
  root: string;
  /** Storage of the logits (default float32). */
  dtype?: StorageDtype;
  /** Keep only each row's k largest logits (with their class indices). */
  topK?: number;
  /** Samples per shard (default 8192). */
  shardSize?: number;
}

export interface SoftLabelEntry {
  key: string;
  directory: string;
  /** Dense [samples, classes] float32 logits, reconstructed from the shards (top-k: see store_codec.ts). */
  logits: Float32Array;
  /** True when every shard came from the store (no teacher inference). */
  cached: boolean;
  /** Shards computed in this call (0 when cached). */
  computedShards: number;
}

export interface StoreProgress {
  shard: number;
  shards: number;
  /** Samples covered by shards 0..shard. */
  samples: number;
  /** True when this shard was read from the store. */
  cached: boolean;
  /** Why a stored shard was recomputed (missing, failed checksum), when it was. */
  problem?: string;
}

/** Reads the entry for this teacher and data, computing (and storing) any shard that is missing or fails its checksum, in order. */
export async function softLabelsFromStore(
  teacher: Teacher,
  dataset: Dataset,
  options: StoreOptions,
  onProgress?: (event: StoreProgress) => void,
): Promise<SoftLabelEntry> {
  const classes = dataset.numClasses;
  if (teacher.info.classes !== null && teacher.info.classes !== classes) {
    throw new InputError(
      `teacher ${teacher.info.description} outputs ${teacher.info.classes} classes; the dataset '${dataset.name}' has ${classes}`,
    );
  }
  const { format, shardSize } = storageFormat(options, classes);
  const datasetId = datasetFingerprint(dataset);
  const key = sha256(
    JSON.stringify({
      format: FORMAT,
      teacher: teacher.info.fingerprint,
      dataset: datasetId,
      dtype: format.dtype,
      topK: format.topK,
      shardSize,
    }),
  );
  const directory = join(resolve(options.root), entryDirectoryName(key));
  const samples = sampleCount(dataset);
  const fresh: StoreManifest = {
    format: FORMAT,
    key,
    note: TEMPERATURE_NOTE,
    teacher: { kind: teacher.info.kind, description: teacher.info.description, fingerprint: teacher.info.fingerprint },
    dataset: {
      name: dataset.name,
      fingerprint: datasetId,
      samples,
      inputs: dataset.inputs.map(({ name, dtype, shape }) => ({ name, dtype, shape: [...shape] })),
    },
    classes,
    dtype: format.dtype,
    topK: format.topK,
    reconstruction: format.topK === null ? null : RECONSTRUCTION,
    shardSize,
    shards: [],
    createdAt: new Date().toISOString(),
    complete: samples === 0,
  };
  // One builder per entry at a time: another waits, then finds the shards written (a run sharing the store, or kdkit cache build).
  return withDirectoryLock(
    directory,
    async () => {
      const { manifest, problem: manifestProblem } = existingManifest(directory, fresh);
      removeOrphanedTemporaries(directory);
      const shards = shardCount(manifest);
      const logits = new Float32Array(samples * classes);
      let computedShards = 0;
      for (let index = 0; index < shards; index++) {
        const start = index * shardSize;
        const end = Math.min(start + shardSize, samples);
        const out = logits.subarray(start * classes, end * classes);
        const listed = manifest.shards.find((shard) => shard.index === index);
        // Why this shard is recomputed: a damaged file, or (reported once) a manifest that was unusable.
        const problem = listed ? readStoredShard(directory, listed, format, out) : index === 0 ? manifestProblem : null;
        if (listed && problem === null) {
          onProgress?.({ shard: index, shards, samples: end, cached: true });
          continue;
        }
        const computed = await teacherLogits(teacher, dataset, start, end);
        const bytes = encodeShard(computed, end - start, format);
        const files = shardFiles(index, format.topK);
        writeFileAtomic(join(directory, files.logits), bytes.logits);
        if (files.indices && bytes.indices) writeFileAtomic(join(directory, files.indices), bytes.indices);
        // What training sees is what a later cached read will see: the stored (rounded, top-k) values.
        decodeShard(bytes, files, end - start, format, out);
        const record: ShardRecord = {
          index,
          rows: [start, end],
          files,
          sha256: { logits: sha256(bytes.logits), ...(bytes.indices ? { indices: sha256(bytes.indices) } : {}) },
        };
        manifest.shards = [...manifest.shards.filter((shard) => shard.index !== index), record].sort((a, b) => a.index - b.index);
        manifest.complete = manifest.shards.length === shards;
        writeManifest(directory, manifest);
        computedShards++;
        onProgress?.({ shard: index, shards, samples: end, cached: false, ...(problem ? { problem } : {}) });
      }
      if (shards === 0 && manifest === fresh) writeManifest(directory, manifest);
      return { key, directory, logits, cached: computedShards === 0, computedShards };
    },
    { what: 'soft-label entry', waitMs: Infinity, hint: 'another process is building this entry' },
  );
}

function storageFormat(options: StoreOptions, classes: number): { format: ShardFormat; shardSize: number } {
  const shardSize = options.shardSize ?? DEFAULT_SHARD_SIZE;
  if (!Number.isInteger(shardSize) || shardSize <= 0)
    throw new InputError(`soft-label store: shardSize must be a positive integer, got ${shardSize}`);
  const topK = options.topK ?? null;
  if (topK !== null && (!Number.isInteger(topK) || topK <= 0 || topK >= classes)) {
    throw new InputError(
      `soft-label store: topK must be an integer in [1, ${classes - 1}] (fewer than the ${classes} classes), got ${topK}`,
    );
  }
  return { format: { classes, dtype: options.dtype ?? 'float32', topK }, shardSize };
}

/** The entry's manifest when it is intact and describes this entry; otherwise a fresh one and why. */
function existingManifest(directory: string, fresh: StoreManifest): { manifest: StoreManifest; problem: string | null } {
  if (!existsSync(join(directory, MANIFEST_FILE))) return { manifest: fresh, problem: null };
  let stored: StoreManifest;
  try {
    stored = readManifest(directory);
  } catch (error) {
    return { manifest: fresh, problem: `${(error as Error).message}; rebuilding` };
  }
  const same = ['key', 'classes', 'dtype', 'topK', 'shardSize'] as const;
  const mismatch =
    same.find((field) => stored[field] !== fresh[field]) ?? (stored.dataset.samples !== fresh.dataset.samples ? 'dataset.samples' : null);
  if (mismatch !== null)
    return { manifest: fresh, problem: `${join(directory, MANIFEST_FILE)}: ${mismatch} does not match this teacher and data; rebuilding` };
  return { manifest: { ...stored, teacher: fresh.teacher, dataset: fresh.dataset }, problem: null };
}

/** null when the shard was read into `out`; otherwise why it has to be recomputed. */
function readStoredShard(directory: string, shard: ShardRecord, format: ShardFormat, out: Float32Array): string | null {
  const read = readShardFiles(directory, shard);
  if ('problem' in read) return read.problem;
  try {
    decodeShard(read.bytes, shard.files, shard.rows[1] - shard.rows[0], format, out);
    return null;
  } catch (error) {
    return `shard ${shard.index}: ${(error as Error).message}`;
  }
}

/**
 * Deletes writeFileAtomic's temporaries left by processes that no longer
 * run, e.g. a build killed mid-write. A live writer's temporaries are left alone.
 */
function removeOrphanedTemporaries(directory: string): void {
  let names: string[];
  try {
    names = readdirSync(directory);
  } catch {
    return;
  }
  for (const name of names) {
    if (isOrphanedTemporary(name)) rmSync(join(directory, name), { force: true });
  }
}

/** The store options a config asks for; `root` (--store, else where `kdkit run` would look) is its directory. */
export function storeOptions(config: Pick<ExperimentConfig, 'softLabels'>, root: string): StoreOptions {
  const { softLabels } = config;
  return {
    root,
    dtype: softLabels.dtype,
    shardSize: softLabels.shardSize,
    ...(softLabels.topK !== undefined ? { topK: softLabels.topK } : {}),
  };
}
