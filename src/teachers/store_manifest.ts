/**
 * The manifest of a soft-label store entry (manifest.json) and the checks on its shards. It is the
 * one record of which shards are complete: rewritten atomically after each shard, so a killed build
 * leaves a manifest that lists exactly the shards whose files were fully written.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { sha256 } from '../util/hash.js';
import { writeFileAtomic } from '../util/atomic.js';
import { InputError } from '../errors.js';
import { MAX_WHOLE_FILE_BYTES, readRegularFile } from '../util/regular_file.js';
import type { ShardBytes } from './store_codec.js';

export const MANIFEST_FILE = 'manifest.json';
/** Entry directories are this prefix plus the first 24 hex digits of the key. */
export const ENTRY_PREFIX = 'soft-labels-';
export const FORMAT = 'kdkit-soft-labels/1';
export const TEMPERATURE_NOTE = 'logits are stored before any temperature; apply T at loss time';

// File names are derived from the shard index and checked against the manifest, never trusted from
// it, so an edited manifest cannot make kdkit read or write outside the entry directory.
const shardFileName = /^(logits|indices)-\d{5}\.npy$/;

const shardSchema = z.object({
  index: z.number().int().nonnegative(),
  rows: z.tuple([z.number().int().nonnegative(), z.number().int().nonnegative()]),
  files: z.object({ logits: z.string().regex(shardFileName), indices: z.string().regex(shardFileName).optional() }),
  sha256: z.object({ logits: z.string(), indices: z.string().optional() }),
});

const manifestSchema = z.object({
  format: z.literal(FORMAT),
  key: z.string().regex(/^[0-9a-f]{64}$/),
  note: z.string(),
  teacher: z.object({ kind: z.string(), description: z.string(), fingerprint: z.string() }),
  dataset: z.object({
    name: z.string(),
    fingerprint: z.string(),
    samples: z.number().int().nonnegative(),
    inputs: z.array(z.object({ name: z.string(), dtype: z.enum(['float32', 'int32']), shape: z.array(z.number().int()) })).optional(),
    // What entries written before samples had named fields recorded instead of inputs; they still list, verify and remove.
    sampleShape: z.array(z.number().int()).optional(),
  }),
  classes: z.number().int().positive(),
  dtype: z.enum(['float32', 'float16']),
  topK: z.number().int().positive().nullable(),
  reconstruction: z.string().nullable(),
  shardSize: z.number().int().positive(),
  shards: z.array(shardSchema),
  createdAt: z.string(),
  complete: z.boolean(),
});

export type ShardRecord = z.infer<typeof shardSchema>;
export type StoreManifest = z.infer<typeof manifestSchema>;

export function entryDirectoryName(key: string): string {
  return `${ENTRY_PREFIX}${key.slice(0, 24)}`;
}

export function shardCount(manifest: Pick<StoreManifest, 'dataset' | 'shardSize'>): number {
  return Math.ceil(manifest.dataset.samples / manifest.shardSize);
}

export function shardFiles(index: number, topK: number | null): { logits: string; indices?: string } {
  const suffix = String(index).padStart(5, '0');
  return topK === null ? { logits: `logits-${suffix}.npy` } : { logits: `logits-${suffix}.npy`, indices: `indices-${suffix}.npy` };
}

/** A manifest lists shards of the store's 1 GiB budget; far larger is not one. */
const MAX_MANIFEST_BYTES = 64 * 1024 * 1024;

/** Reads and validates manifest.json; an InputError names the file and what is wrong. */
export function readManifest(directory: string): StoreManifest {
  const path = join(directory, MANIFEST_FILE);
  if (!existsSync(path)) throw new InputError(`${path}: missing`);
  const text = readRegularFile(path, MAX_MANIFEST_BYTES, `${path}: cannot read the soft-label manifest`).toString('utf8');
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new InputError(`${path}: not JSON (${(error as Error).message})`);
  }
  const parsed = manifestSchema.safeParse(json);
  if (!parsed.success)
    throw new InputError(
      `${path}: not a kdkit soft-label manifest (${FORMAT}): ${parsed.error.issues.map((issue) => `${issue.path.join('.') || '(top level)'}: ${issue.message}`).join('; ')}`,
    );
  const manifest = parsed.data;
  const total = shardCount(manifest);
  for (const shard of manifest.shards) {
    const files = shardFiles(shard.index, manifest.topK);
    const start = shard.index * manifest.shardSize;
    const end = Math.min(start + manifest.shardSize, manifest.dataset.samples);
    if (
      shard.index >= total ||
      shard.rows[0] !== start ||
      shard.rows[1] !== end ||
      shard.files.logits !== files.logits ||
      shard.files.indices !== files.indices
    ) {
      throw new InputError(
        `${path}: shard ${shard.index} does not match the entry's layout (${total} shards of ${manifest.shardSize} samples)`,
      );
    }
  }
  return manifest;
}

export function writeManifest(directory: string, manifest: StoreManifest): void {
  writeFileAtomic(join(directory, MANIFEST_FILE), `${JSON.stringify(manifest, null, 2)}\n`);
}

/** A shard's file bytes when every file is present and matches its checksum, else what is wrong. */
export function readShardFiles(directory: string, shard: ShardRecord): { bytes: ShardBytes } | { problem: string } {
  const read = (file: string, expected: string | undefined): Uint8Array | string => {
    const path = join(directory, file);
    if (!existsSync(path)) return `shard ${shard.index}: ${file} is missing`;
    let bytes: Uint8Array;
    try {
      bytes = readRegularFile(path, MAX_WHOLE_FILE_BYTES, `shard ${shard.index}: cannot read ${file}`);
    } catch (error) {
      if (error instanceof InputError) return error.message;
      throw error;
    }
    return sha256(bytes) === expected ? bytes : `shard ${shard.index}: ${file} fails its checksum`;
  };
  const logits = read(shard.files.logits, shard.sha256.logits);
  if (typeof logits === 'string') return { problem: logits };
  if (shard.files.indices === undefined) return { bytes: { logits } };
  const indices = read(shard.files.indices, shard.sha256.indices);
  return typeof indices === 'string' ? { problem: indices } : { bytes: { logits, indices } };
}
