/**
 * A run directory belongs to kdkit alone. It carries a marker, `.kdkit-run.json`, recording which
 * config wrote it and which top-level entries kdkit created there. kdkit:
 * - refuses a non-empty directory without the marker (a user's own folder) unless forced;
 * - refuses the default directory of another config with the same file name;
 * - refuses symbolic links among the entries it writes, so nothing is written or deleted through one;
 * - sweeps the temporaries of writers killed mid-write;
 * - after a run, removes what an earlier run wrote and this one did not (a stale student.onnx), and
 *   nothing it did not create.
 * Call it holding the run's lock: nothing else writes there meanwhile.
 */
import { existsSync, lstatSync, readdirSync, readlinkSync, rmSync, type Stats } from 'node:fs';
import { join, relative } from 'node:path';
import { z } from 'zod';
import { InputError } from '../errors.js';
import type { ExperimentConfig } from '../config/schema.js';
import { isOrphanedTemporary, writeFileAtomic } from '../util/atomic.js';
import { readRegularFile } from '../util/regular_file.js';

export const RUN_MARKER = '.kdkit-run.json';
/** The lock a run holds on its directory (see util/lock.ts); a second run on the same --out is refused. */
export const RUN_LOCK = '.kdkit.lock';
/** Kept across runs, whatever the config: checkpoints (for --resume), the soft-label cache, the log of every run. */
const KEPT = ['checkpoints', 'cache', 'logs.jsonl'];

const markerSchema = z.object({
  format: z.literal('kdkit-run/1'),
  /** The config file (absolute) or 'demo' that wrote the directory last. */
  source: z.string(),
  /** Entries created by a run that has not finished (yet): its own to remove if the next run does not write them. */
  claimed: z.array(z.string()),
  /** Entries the last finished run wrote. */
  written: z.array(z.string()),
});
type RunMarker = z.infer<typeof markerSchema>;

export interface ClaimOptions {
  /** The config file (absolute path) or 'demo'. */
  source: string;
  /** Top-level entries this run will write (plannedEntries). */
  planned: string[];
  /** --force: write into a non-empty directory that is not a kdkit run directory. */
  force: boolean;
  /** The directory was chosen by kdkit (no --out), so a different config's run there is a collision. */
  defaultDirectory: boolean;
}

export interface ClaimedDirectory {
  /** Temporaries of killed writers that were removed, relative to the directory. */
  sweptTemporaries: string[];
  /** Records `written` as the directory's content and removes what earlier runs wrote and this one did not; returns those. */
  finish(written: string[]): string[];
  /** A run that failed before writing anything: removes the marker again from a directory that was new or empty. */
  abandon(): void;
}

export function claimRunDirectory(outDir: string, options: ClaimOptions): ClaimedDirectory {
  const entries = readdirSync(outDir).filter((name) => name !== RUN_LOCK);
  const previous = readMarker(outDir);
  // `kdkit cache build CONFIG` fills the cache/ of the directory `kdkit run CONFIG` will use, before it exists as a run.
  const foreign = entries.filter((name) => !(name === 'cache' && holdsOnlyStoreEntries(join(outDir, name))));
  if (previous === null && foreign.length > 0 && !options.force && !isEarlierKdkitRun(outDir)) {
    const shown = foreign.slice(0, 5).join(', ') + (foreign.length > 5 ? `, … (${foreign.length} entries)` : '');
    throw new InputError(
      `${outDir} is not empty and is not a kdkit run directory (it holds ${shown}); kdkit writes only into a new or empty directory or one of its own runs, so it cannot overwrite your files. Give another --out, or add --force to write into this one anyway (kdkit then replaces the entries it writes: ${options.planned.join(', ')}).`,
    );
  }
  if (previous !== null && options.defaultDirectory && previous.source !== options.source) {
    throw new InputError(
      `${outDir} holds the run of ${previous.source}, not of ${options.source} (both default to this directory); give --out to choose another directory, or --force to replace that run.`,
    );
  }
  const ours = [...new Set([...options.planned, ...(previous?.claimed ?? []), ...(previous?.written ?? []), ...KEPT])];
  for (const name of ours) refuseLinks(outDir, join(outDir, name));
  const sweptTemporaries = [
    ...entries
      .filter((name) => isOrphanedTemporary(name))
      .map((name) => {
        rmSync(join(outDir, name), { recursive: true, force: true });
        return name;
      }),
    ...ours.flatMap((name) => sweepTemporaries(outDir, join(outDir, name))),
  ];
  // Entries already there that no record says kdkit made (a forced directory) are not claimed: never removed.
  const fresh = options.planned.filter((name) => !existsSync(join(outDir, name)));
  const claimed = [...new Set([...(previous?.claimed ?? []), ...(previous?.written ?? []), ...fresh])];
  writeMarker(outDir, { format: 'kdkit-run/1', source: options.source, claimed, written: previous?.written ?? [] });
  return {
    sweptTemporaries,
    finish(written) {
      const stale = claimed.filter((name) => !written.includes(name) && !KEPT.includes(name) && existsSync(join(outDir, name)));
      for (const name of stale) rmSync(join(outDir, name), { recursive: true, force: true });
      writeMarker(outDir, { format: 'kdkit-run/1', source: options.source, claimed: [], written });
      return stale;
    },
    abandon() {
      if (previous === null && readdirSync(outDir).every((name) => name === RUN_LOCK || name === RUN_MARKER))
        rmSync(join(outDir, RUN_MARKER), { force: true });
    },
  };
}

/** The top-level entries a run of `config` writes into its directory. */
export function plannedEntries(config: ExperimentConfig): string[] {
  const quantized = [
    ...new Set([
      ...config.export.quantize,
      ...(config.deploy?.quantization && config.deploy.quantization !== 'float32' ? [config.deploy.quantization] : []),
    ]),
  ];
  return [
    'summary.json',
    'report.md',
    'report.html',
    'logs.jsonl',
    'checkpoints',
    'student',
    ...(config.softLabels.store === undefined ? ['cache'] : []),
    ...quantized.map((quantization) => `student-${quantization}`),
    ...(config.export.onnx ? ['student.onnx', ...quantized.map((quantization) => `student-${quantization}.onnx`)] : []),
    ...('model' in config.teacher || 'load' in config.teacher ? ['teacher'] : []),
    ...config.stages.map((_, index) => `assistant-${index + 1}`),
  ];
}

/** The top-level entries behind a summary's artifact paths (relative to the run directory). */
export function topLevelEntries(paths: string[]): string[] {
  return [...new Set(paths.map((path) => path.split(/[\\/]/)[0]).filter((name) => name !== '' && name !== '..' && name !== '.'))];
}

function readMarker(outDir: string): RunMarker | null {
  const path = join(outDir, RUN_MARKER);
  if (!existsSync(path)) return null;
  let parsed: ReturnType<typeof markerSchema.safeParse>;
  try {
    if (!lstatSync(path).isFile()) throw new Error('not a regular file');
    parsed = markerSchema.safeParse(JSON.parse(readRegularFile(path, 16 * 1024 * 1024).toString('utf8')));
  } catch (error) {
    throw new InputError(
      `${path}: cannot read kdkit's run marker (${(error as Error).message}); remove it if this is not a kdkit run directory`,
    );
  }
  if (!parsed.success)
    throw new InputError(
      `${path}: not a kdkit run marker (${parsed.error.issues[0].message} at ${parsed.error.issues[0].path.join('.')}); remove it if this is not a kdkit run directory`,
    );
  return parsed.data;
}

function writeMarker(outDir: string, marker: RunMarker): void {
  writeFileAtomic(join(outDir, RUN_MARKER), `${JSON.stringify(marker, null, 2)}\n`);
}

/** Throws when `path`, or anything under it, is a symbolic link: kdkit would write or delete through it. */
function refuseLinks(outDir: string, path: string): void {
  let stat: Stats;
  try {
    stat = lstatSync(path);
  } catch {
    return;
  }
  if (stat.isSymbolicLink()) {
    let target = '';
    try {
      target = ` to ${readlinkSync(path)}`;
    } catch {
      // Unreadable target: the link is refused all the same.
    }
    throw new InputError(
      `${path} is a symbolic link${target}; kdkit does not write through links in its run directory ${outDir}. Remove the link (its target is left alone), or give another --out.`,
    );
  }
  if (stat.isDirectory()) for (const name of readdirSync(path)) refuseLinks(outDir, join(path, name));
}

/** Removes the temporaries of writers that no longer run under `path`; returns them relative to `outDir`. */
function sweepTemporaries(outDir: string, path: string): string[] {
  let stat: Stats;
  try {
    stat = lstatSync(path);
  } catch {
    return [];
  }
  if (!stat.isDirectory()) return [];
  const swept: string[] = [];
  for (const name of readdirSync(path)) {
    const child = join(path, name);
    if (isOrphanedTemporary(name)) {
      rmSync(child, { recursive: true, force: true });
      swept.push(relative(outDir, child));
    } else {
      swept.push(...sweepTemporaries(outDir, child));
    }
  }
  return swept;
}

/** A directory holding soft-label store entries (and their locks) only, as `kdkit cache build` leaves one. */
function holdsOnlyStoreEntries(path: string): boolean {
  try {
    return lstatSync(path).isDirectory() && readdirSync(path).every((name) => /^soft-labels-[0-9a-f]+(\.lock)?$/.test(name));
  } catch {
    return false;
  }
}

/** A finished run of a kdkit from before the marker: its summary.json says kdkit wrote it. */
function isEarlierKdkitRun(outDir: string): boolean {
  try {
    const summary = JSON.parse(readRegularFile(join(outDir, 'summary.json'), 64 * 1024 * 1024).toString('utf8')) as {
      kdkit?: { version?: unknown };
    };
    return typeof summary?.kdkit?.version === 'string';
  } catch {
    return false;
  }
}
