/**
 * What `kdkit cache ls|verify|rm` do to a soft-label store: list its entries, check every
 * checksum, and delete entries. Deletion only ever touches an entry directory directly under the
 * store's root, found by listing the root, never by joining a user-given path.
 */
import { existsSync, lstatSync, readdirSync, rmSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { InputError } from '../errors.js';
import { verifyTeacherFeatures } from './cache.js';
import { ENTRY_PREFIX, readManifest, readShardFiles, shardCount, type StoreManifest } from './store_manifest.js';

const entryName = new RegExp(`^${ENTRY_PREFIX}([0-9a-f]{24})$`);

export interface EntrySummary {
  /** The 24 hex digits of the directory name: what `ls` shows and `rm` takes. */
  id: string;
  directory: string;
  /** null when manifest.json is missing or unreadable; `problem` says why. */
  manifest: StoreManifest | null;
  problem?: string;
  shardsComplete: number;
  /** null when the manifest is unreadable. */
  shardsTotal: number | null;
  /** Every file in the entry: shards, manifest, teacher features. */
  sizeBytes: number;
}

/** The entries under `root` (none when it does not exist), by id. */
export function listEntries(root: string): EntrySummary[] {
  const base = resolve(root);
  if (!existsSync(base)) return [];
  return readdirSync(base, { withFileTypes: true })
    .filter((item) => item.isDirectory() && entryName.test(item.name))
    .map((item) => summarize(join(base, item.name), entryName.exec(item.name)![1]))
    .sort((a, b) => a.id.localeCompare(b.id));
}

function summarize(directory: string, id: string): EntrySummary {
  const sizeBytes = readdirSync(directory).reduce((total, name) => total + statSync(join(directory, name)).size, 0);
  try {
    const manifest = readManifest(directory);
    return { id, directory, manifest, shardsComplete: manifest.shards.length, shardsTotal: shardCount(manifest), sizeBytes };
  } catch (error) {
    return { id, directory, manifest: null, problem: (error as Error).message, shardsComplete: 0, shardsTotal: null, sizeBytes };
  }
}

/** Checks the manifest and every checksum in an entry; each problem names its shard and file. */
export function verifyEntry(directory: string): { ok: boolean; problems: string[] } {
  let manifest: StoreManifest;
  try {
    manifest = readManifest(directory);
  } catch (error) {
    return { ok: false, problems: [(error as Error).message] };
  }
  const problems: string[] = [];
  for (const shard of manifest.shards) {
    const read = readShardFiles(directory, shard);
    if ('problem' in read) problems.push(read.problem);
  }
  const total = shardCount(manifest);
  if (manifest.shards.length < total) {
    const next = Array.from({ length: total }, (_, index) => index).find(
      (index) => !manifest.shards.some((shard) => shard.index === index),
    );
    problems.push(`incomplete: ${manifest.shards.length} of ${total} shards built; the next build continues from shard ${next}`);
  }
  problems.push(...verifyTeacherFeatures(directory));
  return { ok: problems.length === 0, problems };
}

/**
 * The entry `key` names: a full 64-hex key, or a prefix (at least 4 hex digits) of an entry's id.
 * An InputError when the key is not hex, matches nothing, or matches several entries.
 */
export function resolveEntry(root: string, key: string): EntrySummary {
  const wanted = key.toLowerCase();
  if (!/^[0-9a-f]{4,64}$/.test(wanted))
    throw new InputError(`'${key}' is not an entry key (4 to 64 hex digits, as \`kdkit cache ls\` shows)`);
  const matches = listEntries(root).filter(
    (entry) => entry.id.startsWith(wanted.slice(0, 24)) && (wanted.length <= 24 || entry.manifest?.key === wanted),
  );
  if (matches.length === 0) throw new InputError(`no soft-label entry '${key}' in ${resolve(root)} (see \`kdkit cache ls\`)`);
  if (matches.length > 1)
    throw new InputError(
      `'${key}' matches ${matches.length} entries in ${resolve(root)} (${matches.map((entry) => entry.id).join(', ')}); give more digits`,
    );
  return matches[0];
}

/** Deletes the entry `key` names (see resolveEntry); refuses anything not a directory directly under `root`. */
export function removeEntry(root: string, key: string): void {
  const entry = resolveEntry(root, key);
  if (
    dirname(entry.directory) !== resolve(root) ||
    lstatSync(entry.directory).isSymbolicLink() ||
    !entryName.test(entry.directory.slice(resolve(root).length + 1))
  ) {
    throw new InputError(`${entry.directory}: not an entry directory of ${resolve(root)}; not removed`);
  }
  rmSync(entry.directory, { recursive: true, force: true });
}
