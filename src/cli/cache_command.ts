/**
 * `kdkit cache build|ls|verify|rm`: the soft-label store from the command line. Build runs an
 * existing teacher (loaded, ONNX or remote) over a config's training split; the rest inspect and
 * prune the store. Problems are InputErrors, which the CLI turns into exit code 2.
 */
import { join, resolve } from 'node:path';
import { defaultRunDirectory } from './run_directory.js';
import { loadConfigFile } from '../config/load.js';
import type { Dataset } from '../data/dataset.js';
import { loadDataset } from '../data/index.js';
import { initEngine } from '../engine/index.js';
import { InputError } from '../errors.js';
import { bytes } from '../report/table.js';
import { openTeacher } from '../teachers/index.js';
import { listOnlineGroups, removeOnlineGroup, type OnlineGroup } from '../teachers/online_store.js';
import { LlmTeacher } from '../teachers/llm.js';
import { lastFailure, listLlmStores, removeLlmStore, type LlmStoreEntry } from '../teachers/llm_store.js';
import type { Teacher } from '../teachers/teacher.js';
import { withDirectoryLock } from '../util/lock.js';
import {
  listEntries,
  removeEntry,
  resolveEntry,
  softLabelsFromStore,
  storeOptions,
  verifyEntry,
  type EntrySummary,
  type SoftLabelEntry,
  type StoreOptions,
} from '../teachers/store.js';

type Write = (text: string) => void;

export async function cacheBuildCommand(configPath: string, options: { store?: string }, write: Write): Promise<void> {
  const config = loadConfigFile(configPath);
  await initEngine({ backend: config.backend });
  const data = loadDataset(config.dataset, config.seed);
  const root = options.store ?? config.softLabels.store ?? join(defaultRunDirectory(configPath, config.seed), 'cache');
  const { teacher } = await openTeacher(config, data, { source: configPath, storeRoot: root });
  try {
    if (teacher instanceof LlmTeacher) {
      const unlabelled = 'trainLabels' in config.dataset && !config.dataset.trainLabels;
      for (const dataset of unlabelled ? [data.train, data.validation] : [data.train]) await buildLlmAnswers(teacher, dataset, write);
      return;
    }
    await buildSoftLabels(teacher, data.train, storeOptions(config, root), write);
  } finally {
    await teacher.dispose();
  }
}

/** Asks the LLM about every text of `dataset` not in its store yet, a line per tenth done. */
async function buildLlmAnswers(teacher: LlmTeacher, dataset: Dataset, write: Write): Promise<void> {
  write(
    `answers of ${teacher.info.description} over '${dataset.name}' (${dataset.labels.length} texts) in ${resolve(teacher.store.directory)}\n`,
  );
  let tenth = -1;
  const labels = await teacher.labelDataset(dataset, {
    onProgress: (progress) => {
      const now = progress.total === 0 ? 10 : Math.floor((progress.done / progress.total) * 10);
      if (now <= tenth) return;
      tenth = now;
      write(
        `  ${progress.done}/${progress.total} texts (${progress.fromStore} from the store), ${progress.requests} requests, ${progress.tokens} tokens sent\n`,
      );
    },
  });
  write(`  done: ${labels.unanswered} unanswered, ${labels.unparseable} unparseable answers\n`);
}

/** Fills (or completes, or repairs) the store entry of `teacher` over `dataset`, saying what it did per shard. */
export async function buildSoftLabels(teacher: Teacher, dataset: Dataset, options: StoreOptions, write: Write): Promise<SoftLabelEntry> {
  write(
    `soft labels of ${teacher.info.description} over '${dataset.name}' (${dataset.labels.length} samples) in ${resolve(options.root)}\n`,
  );
  const started = performance.now();
  const entry = await softLabelsFromStore(teacher, dataset, options, (event) => {
    const status = event.cached ? 'cached' : event.problem ? `recomputed (${event.problem})` : 'computed';
    write(`  shard ${event.shard + 1}/${event.shards}: ${status}, ${event.samples} samples done\n`);
  });
  const seconds = ((performance.now() - started) / 1000).toFixed(2);
  const what = entry.cached ? 'cached' : `computed ${entry.computedShards} shard${entry.computedShards === 1 ? '' : 's'}`;
  write(`soft labels: ${what} in ${seconds} s (${entry.directory})\n`);
  return entry;
}

export function cacheListCommand(options: { store: string }, write: Write): void {
  const root = options.store;
  const entries = listEntries(root);
  const groups = listOnlineGroups(root);
  const llms = listLlmStores(root);
  if (entries.length === 0 && groups.length === 0 && llms.length === 0) {
    write(`no soft-label entries in ${resolve(root)}\n`);
    return;
  }
  write(`soft-label store ${resolve(root)}\n`);
  if (entries.length > 0)
    writeTable(['key', 'teacher', 'dataset', 'samples × classes', 'storage', 'shards', 'size'], entries.map(listRow), write);
  if (groups.length > 0) {
    write('online outputs (each augmented batch the teacher labelled, kept by content):\n');
    writeTable(['key', 'teacher', 'taps', 'batches', 'size'], groups.map(groupRow), write);
  }
  if (llms.length > 0) {
    write('LLM answers (one per text, kept so that no text is paid for twice):\n');
    writeTable(['key', 'teacher', 'texts', 'requests', 'tokens', 'unanswered', 'failures', 'size'], llms.map(llmRow), write);
    for (const llm of llms) {
      const last = lastFailure(llm.directory);
      if (last) write(`  ${llm.id}: last failure ${last.at}: ${last.message}\n`);
    }
  }
}

function llmRow(entry: LlmStoreEntry): string[] {
  const { identity, summary } = entry;
  const count = (n: number) => n.toLocaleString('en-US');
  const teacher = identity ? `${identity.model} at ${identity.endpoint} (${identity.mode})` : '(no teacher.json)';
  return [
    entry.id,
    teacher,
    count(summary.texts),
    count(summary.requests),
    `${count(summary.promptTokens + summary.completionTokens)} (${count(summary.promptTokens)} prompt + ${count(summary.completionTokens)} completion)`,
    `${count(summary.unanswered)}${summary.unparseable > 0 ? ` (${count(summary.unparseable)} unparseable answers)` : ''}`,
    count(summary.failures),
    bytes(entry.sizeBytes),
  ];
}

function writeTable(header: string[], rows: string[][], write: Write): void {
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => row[column].length)));
  const line = (cells: string[]) =>
    `${cells
      .map((cell, column) => cell.padEnd(widths[column]))
      .join('  ')
      .trimEnd()}\n`;
  write(line(header));
  for (const row of rows) write(line(row));
}

function groupRow(group: OnlineGroup): string[] {
  const taps = group.descriptor?.taps.map(({ name, shape }) => `${name} [${shape.join(', ')}]`).join(', ');
  return [group.id, group.descriptor?.teacher ?? '(no group.json)', taps || 'logits only', String(group.batches), bytes(group.sizeBytes)];
}

/** The group of online outputs `key` names (a prefix of at least 4 hex digits of its id), or null. */
function onlineGroupOf(root: string, key: string): OnlineGroup | null {
  const wanted = key.toLowerCase();
  if (!/^[0-9a-f]{4,24}$/.test(wanted)) return null;
  const matches = listOnlineGroups(root).filter((group) => group.id.startsWith(wanted));
  if (matches.length > 1) throw new InputError(`'${key}' matches ${matches.length} groups of online outputs; give more digits`);
  return matches[0] ?? null;
}

function listRow(entry: EntrySummary): string[] {
  const manifest = entry.manifest;
  if (manifest === null) return [entry.id, `(unreadable: ${entry.problem})`, '', '', '', '', bytes(entry.sizeBytes)];
  return [
    entry.id,
    manifest.teacher.description,
    manifest.dataset.name,
    `${manifest.dataset.samples} × ${manifest.classes}`,
    manifest.topK === null ? manifest.dtype : `${manifest.dtype}, top-${manifest.topK}`,
    `${entry.shardsComplete}/${entry.shardsTotal}`,
    bytes(entry.sizeBytes),
  ];
}

/** Checks every checksum of the named entries (all by default); an InputError when any fails. */
export function cacheVerifyCommand(keys: string[], options: { store: string }, write: Write): void {
  const root = options.store;
  const entries = keys.length > 0 ? keys.map((key) => resolveEntry(root, key)) : listEntries(root);
  if (entries.length === 0) {
    write(`no soft-label entries in ${resolve(root)}\n`);
    return;
  }
  const failed: string[] = [];
  for (const entry of entries) {
    const { ok, problems } = verifyEntry(entry.directory);
    write(`${entry.id}  ${ok ? 'OK' : 'BAD'}\n${problems.map((problem) => `  ${problem}\n`).join('')}`);
    if (!ok) failed.push(`${entry.id}: ${problems.join('; ')}`);
  }
  if (failed.length > 0) {
    throw new InputError(
      `${failed.length} of ${entries.length} soft-label entries in ${resolve(root)} failed verification:\n${failed.join('\n')}\n(\`kdkit cache build\` recomputes missing and damaged shards)`,
    );
  }
}

/**
 * Removes the named entries (or all). Each is removed holding its entry lock, so an entry being
 * built is refused (exit 2) rather than deleted under its builder; entries before it stay removed.
 */
export async function cacheRemoveCommand(
  keys: string[],
  options: { store: string; all?: boolean; lockStaleMs?: number },
  write: Write,
): Promise<void> {
  const root = options.store;
  if (Boolean(options.all) === keys.length > 0) throw new InputError('cache rm: give entry keys or --all, not both and not neither');
  const groups = options.all ? listOnlineGroups(root) : [];
  const llms = options.all ? listLlmStores(root) : [];
  const namedLlms = options.all ? [] : keys.map((key) => llmStoreOf(root, key));
  llms.push(...namedLlms.filter((item): item is LlmStoreEntry => item !== null));
  const named = options.all
    ? []
    : keys.filter((_, i) => namedLlms[i] === null).map((key) => onlineGroupOf(root, key) ?? resolveEntry(root, key));
  groups.push(...named.filter((item): item is OnlineGroup => 'batches' in item));
  const entries = options.all ? listEntries(root) : named.filter((item): item is EntrySummary => !('batches' in item));
  for (const group of groups) {
    removeOnlineGroup(root, group);
    write(`removed online outputs ${group.id} (${group.batches} batches, ${bytes(group.sizeBytes)})\n`);
  }
  for (const entry of entries) {
    await withDirectoryLock(entry.directory, () => removeEntry(root, entry.id), {
      what: 'soft-label entry',
      staleMs: options.lockStaleMs,
      hint: 'wait for that build to finish',
      command: `kdkit cache rm ${entry.id}`,
    });
    write(`removed ${entry.id} (${bytes(entry.sizeBytes)})\n`);
  }
  for (const llm of llms) {
    removeLlmStore(llm);
    write(`removed LLM answers ${llm.id} (${llm.summary.texts} texts, ${bytes(llm.sizeBytes)})\n`);
  }
  if (entries.length === 0 && groups.length === 0 && llms.length === 0) write(`no soft-label entries in ${resolve(root)}\n`);
}

/** The LLM answers `key` names (a prefix of at least 4 hex digits of its id, with or without 'llm-'), or null. */
function llmStoreOf(root: string, key: string): LlmStoreEntry | null {
  const wanted = key.toLowerCase().replace(/^llm-/, '');
  if (!/^[0-9a-f]{4,24}$/.test(wanted)) return null;
  const matches = listLlmStores(root).filter((entry) => entry.id.startsWith(wanted));
  if (matches.length > 1) throw new InputError(`'${key}' matches ${matches.length} directories of LLM answers; give more digits`);
  return matches[0] ?? null;
}
