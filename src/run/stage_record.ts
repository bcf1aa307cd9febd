/**
 * What a stage's checkpoints were made from. `checkpoints/<stage>/stage.json` records everything
 * that shapes the stage's result (its config fields, seed, backend, data, teacher), so that
 * --resume continues or reuses a stage only for the config that trained it, and otherwise names
 * what changed instead of passing old weights off as the new config's.
 */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { InputError } from '../errors.js';
import { writeFileAtomic } from '../util/atomic.js';
import { readRegularFile } from '../util/regular_file.js';

/** The stage's inputs keyed as the config names them: `{distill: {epochs: 6}, seed: 1, …}`. */
export type StageInputs = Record<string, unknown>;

const RECORD_FILE = 'stage.json';
const FORMAT = 'kdkit-stage/1';
/** Differences listed in a refusal; the rest are counted. */
const SHOWN = 6;

export interface ResumePolicy {
  /** --resume: continue from the stage's checkpoints. */
  resume: boolean;
  /** --retrain-changed: a stage whose inputs changed starts over instead of being refused. */
  retrainChanged: boolean;
  /** Told why a stage starts over. */
  info?: (message: string) => void;
}

/**
 * Before a stage runs in `directory`: a fresh stage records its inputs; a resumed one must find
 * the same inputs recorded beside its checkpoints, or it is refused (exit 2) naming each change,
 * or with `retrainChanged` starts over. Returns whether the stage continues from its checkpoints.
 */
export function checkStageRecord(directory: string, stage: string, inputs: StageInputs, policy: ResumePolicy): boolean {
  const path = join(directory, RECORD_FILE);
  const hasCheckpoints = existsSync(directory) && readdirSync(directory).some((name) => name.startsWith('ckpt-'));
  if (policy.resume && hasCheckpoints) {
    const recorded = readRecord(path);
    const changes = recorded === null ? [`no record of the config that made them (${RECORD_FILE})`] : differences(recorded, inputs);
    if (changes.length === 0) return true;
    const listed = changes.slice(0, SHOWN).join('; ') + (changes.length > SHOWN ? `; and ${changes.length - SHOWN} more` : '');
    if (!policy.retrainChanged) {
      throw new InputError(
        `--resume: the ${stage} stage's checkpoints in ${directory} were made with another config, so its weights are not this config's: ${listed}. Add --retrain-changed to train the changed stages again (and keep the others), run without --resume to train everything again, or give another --out.`,
      );
    }
    policy.info?.(`${stage}: trained again, its config changed since its checkpoints (${listed})`);
  }
  // Recorded before the stage's first checkpoint, which then belongs to these inputs.
  writeFileAtomic(path, `${JSON.stringify({ format: FORMAT, stage, inputs }, null, 2)}\n`);
  return false;
}

function readRecord(path: string): StageInputs | null {
  try {
    const record = JSON.parse(readRegularFile(path, 16 * 1024 * 1024).toString('utf8')) as { format?: unknown; inputs?: unknown };
    return record.format === FORMAT && typeof record.inputs === 'object' && record.inputs !== null ? (record.inputs as StageInputs) : null;
  } catch {
    return null;
  }
}

/** `field: old → new` for every leaf that differs, in the order of the fields. */
export function differences(before: unknown, after: unknown): string[] {
  const old = leaves(before);
  const now = leaves(after);
  const fields = [...new Set([...old.keys(), ...now.keys()])];
  return fields
    .filter((field) => old.get(field) !== now.get(field))
    .map((field) => `${field}: ${shown(old.get(field))} → ${shown(now.get(field))}`);
}

/** Field path → JSON text of each leaf value: `distill.terms[0].temperature` → `4`. */
function leaves(value: unknown, prefix = '', into = new Map<string, string>()): Map<string, string> {
  if (Array.isArray(value)) {
    if (value.length === 0) into.set(prefix, '[]');
    value.forEach((item, index) => {
      leaves(item, `${prefix}[${index}]`, into);
    });
  } else if (typeof value === 'object' && value !== null) {
    const entries = Object.entries(value);
    if (entries.length === 0) into.set(prefix, '{}');
    for (const [key, item] of entries) leaves(item, prefix === '' ? key : `${prefix}.${key}`, into);
  } else {
    into.set(prefix, JSON.stringify(value ?? null));
  }
  return into;
}

function shown(text: string | undefined): string {
  if (text === undefined) return '(none)';
  // Fingerprints (data, teacher weights) are long hex strings; their first characters tell them apart.
  return text.length > 24 ? `${text.slice(0, 13)}…"` : text;
}
