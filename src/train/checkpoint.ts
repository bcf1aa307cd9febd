/**
 * Checkpoints of a training stage: everything needed to continue it exactly where it stopped.
 * One directory per checkpoint, `<stage dir>/ckpt-<global step>`, holding `tensors.bin` (the
 * model's weights, adapters, terms' own variables and the optimizer's slots, float32) and
 * `state.json` (position, random generators, metrics so far, callbacks' state, a checksum of the tensors). It is
 * written under a temporary name, synced, then renamed, so a kill at any instant leaves the last
 * complete checkpoint as it was; only the newest `keep` are kept.
 */
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { basename, join } from 'node:path';
import { FileWriteError, isOrphanedTemporary, temporaryPath, writeFileAtomic } from '../util/atomic.js';
import { MAX_WHOLE_FILE_BYTES, readRegularFile } from '../util/regular_file.js';
import { sha256 } from '../util/hash.js';
import type { LoopPosition } from './callbacks/callback.js';

const FORMAT = 'kdkit-checkpoint/2';
const PREFIX = 'ckpt-';
/** state.json holds positions and per-epoch metrics: kilobytes, far below this. */
const MAX_STATE_BYTES = 64 * 1024 * 1024;

export interface CheckpointState {
  format: typeof FORMAT;
  stage: string;
  /** Where the loop was, with its metrics so far. */
  position: LoopPosition;
  /** True once the stage has ended for good (its last epoch, or a callback stopped it): resuming returns at once. */
  complete: boolean;
  /** Why it stopped before its last epoch (early stopping), if it did. */
  stopped: string | null;
  optimizerIterations: number;
  /** lrBackoff restarts spent so far, so that a resumed stage has only the rest of its budget (absent in older checkpoints: 0). */
  lrBackoffs?: number;
  /** Arrays of the loop's own snapshot at the front of tensors.bin; callbacks' follow, in `callbacks` order. */
  loopTensors: number;
  /** Callbacks' state, by callback name, with how many arrays of tensors.bin each owns. */
  callbacks: Record<string, { json?: unknown; tensors: number }>;
  /** Lengths, in floats, of the arrays in tensors.bin, in order. */
  tensorLengths: number[];
  tensorsSha256: string;
}

export interface Checkpoint {
  state: CheckpointState;
  tensors: Float32Array[];
  directory: string;
}

/** Writes a checkpoint into `stageDirectory` and prunes it to the newest `keep`. */
export function saveCheckpoint(
  stageDirectory: string,
  state: Omit<CheckpointState, 'format' | 'tensorLengths' | 'tensorsSha256'>,
  tensors: Float32Array[],
  keep: number,
): string {
  mkdirSync(stageDirectory, { recursive: true });
  const bytes = concatenate(tensors);
  const full: CheckpointState = {
    format: FORMAT,
    ...state,
    tensorLengths: tensors.map((tensor) => tensor.length),
    tensorsSha256: sha256(bytes),
  };
  const name = `${PREFIX}${String(state.position.globalStep).padStart(9, '0')}`;
  const final = join(stageDirectory, name);
  const temporary = temporaryPath(final);
  try {
    // Exclusive: fails rather than write into anything planted under the name.
    mkdirSync(temporary);
  } catch (error) {
    throw new FileWriteError(temporary, error);
  }
  try {
    writeFileAtomic(join(temporary, 'tensors.bin'), bytes);
    writeFileAtomic(join(temporary, 'state.json'), `${JSON.stringify(full)}\n`);
    syncDirectory(temporary);
    // A checkpoint of the same step (a resumed run passing it again) is replaced whole.
    rmSync(final, { recursive: true, force: true });
    renameSync(temporary, final);
    syncDirectory(stageDirectory);
  } catch (error) {
    // A full disk leaves the previous checkpoints as they were, and nothing half-written beside them.
    rmSync(temporary, { recursive: true, force: true });
    throw new FileWriteError(final, error instanceof FileWriteError ? error.cause : error);
  }
  for (const old of checkpointNames(stageDirectory).slice(keep)) rmSync(join(stageDirectory, old), { recursive: true, force: true });
  return final;
}

/** The newest intact checkpoint in `stageDirectory`, skipping damaged ones; null when there is none. */
export function latestCheckpoint(stageDirectory: string): Checkpoint | null {
  if (!existsSync(stageDirectory)) return null;
  for (const name of checkpointNames(stageDirectory)) {
    const directory = join(stageDirectory, name);
    try {
      // Regular files only: anything else planted in the run directory is a damaged checkpoint, never a hang.
      const state = JSON.parse(readRegularFile(join(directory, 'state.json'), MAX_STATE_BYTES).toString('utf8')) as CheckpointState;
      const bytes = readRegularFile(join(directory, 'tensors.bin'), MAX_WHOLE_FILE_BYTES);
      if (state.format !== FORMAT || sha256(bytes) !== state.tensorsSha256) continue;
      const all = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
      const tensors: Float32Array[] = [];
      let offset = 0;
      for (const length of state.tensorLengths) {
        tensors.push(all.subarray(offset, offset + length));
        offset += length;
      }
      if (offset !== all.length) continue;
      return { state, tensors, directory };
    } catch {
      // Unreadable or damaged: the next (older) checkpoint may still do.
    }
  }
  return null;
}

/**
 * Starts a stage over: removes its checkpoints and the temporaries of writers that no longer run,
 * and nothing else (a stage directory may hold a record of the stage, or a user's file).
 */
export function clearCheckpoints(stageDirectory: string): void {
  if (!existsSync(stageDirectory)) return;
  for (const name of readdirSync(stageDirectory)) {
    if (name.startsWith(PREFIX) || isOrphanedTemporary(name)) rmSync(join(stageDirectory, name), { recursive: true, force: true });
  }
}

/** Checkpoint directory names, newest first. */
function checkpointNames(stageDirectory: string): string[] {
  return readdirSync(stageDirectory)
    .filter((name) => name.startsWith(PREFIX))
    .sort()
    .reverse();
}

function concatenate(tensors: Float32Array[]): Uint8Array {
  const all = new Float32Array(tensors.reduce((total, tensor) => total + tensor.length, 0));
  let offset = 0;
  for (const tensor of tensors) {
    all.set(tensor, offset);
    offset += tensor.length;
  }
  return new Uint8Array(all.buffer);
}

/** fsync of a directory, so that the renames in it survive a power cut, not only a kill. */
function syncDirectory(directory: string): void {
  const fd = openSync(directory, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

export function checkpointLabel(directory: string): string {
  return basename(directory);
}
