/**
 * Online soft labels kept by content: what the teacher said about each augmented batch, in the
 * soft-label store, under the SHA-256 of the teacher, the taps asked for and the batch's bytes.
 * Runs that show the teacher the same batches (the rows of a method comparison with one seed,
 * a sweep over loss weights) then run it once: the augmentation depends on the seed, epoch and
 * step, never on the student, so their batches are byte-identical.
 *
 * A batch's entry is one file of float32: the logits [count, classes], then each tap's
 * [count, ...shape] in the order asked, written atomically. A file of the wrong length (cut off
 * by a full disk) is a miss and is written again. Taps of more than MAX_FLOATS_PER_SAMPLE floats
 * a sample (feature maps, which would cost gigabytes an epoch) are not kept: such batches always
 * run the teacher.
 */
import { existsSync, lstatSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { InputError } from '../errors.js';
import type { SampleBatch } from '../data/dataset.js';
import { writeFileAtomic } from '../util/atomic.js';
import { sha256 } from '../util/hash.js';

/** The store's subdirectory of online outputs, one group directory per teacher and taps. */
const ONLINE = 'online';
const GROUP_FILE = 'group.json';
const groupName = /^[0-9a-f]{24}$/;

/** What a group holds, in its group.json, for `kdkit cache ls`. */
interface OnlineGroupDescriptor {
  teacher: string;
  fingerprint: string;
  classes: number;
  taps: readonly { name: string; shape: readonly number[] }[];
}

/** Floats a sample, logits and taps together, above which a batch's outputs are not kept (16 KiB a sample). */
export const MAX_FLOATS_PER_SAMPLE = 4096;

export interface OnlineOutputs {
  logits: Float32Array;
  features: Record<string, Float32Array>;
}

export interface OnlineStore {
  /** The teacher's outputs for this batch, from the store or from `compute` (then kept). */
  outputs(samples: SampleBatch, count: number, compute: () => Promise<OnlineOutputs>): Promise<OnlineOutputs>;
  /** Batches answered from the store, and batches the teacher ran on, so far. */
  readonly counts: { reused: number; computed: number };
}

/**
 * The store's online part for one teacher and set of taps, in `<root>/online/<teacher and taps>/`;
 * null when a sample's outputs are too large to keep.
 */
export function onlineStore(
  root: string,
  teacher: { fingerprint: string; description: string; classes: number },
  taps: readonly { name: string; shape: readonly number[] }[],
): OnlineStore | null {
  const sizes = taps.map(({ shape }) => shape.reduce((product, size) => product * size, 1));
  const floatsPerSample = teacher.classes + sizes.reduce((sum, size) => sum + size, 0);
  if (floatsPerSample > MAX_FLOATS_PER_SAMPLE) return null;
  const names = taps.map(({ name }) => name);
  const directory = join(root, ONLINE, sha256('online outputs', teacher.fingerprint, JSON.stringify(names)).slice(0, 24));
  const descriptor = join(directory, GROUP_FILE);
  const counts = { reused: 0, computed: 0 };
  /** Whether group.json is known to exist: checked once per store, not once per batch. */
  let described = false;

  const pathOf = (samples: SampleBatch, count: number): string => {
    const fields = Object.keys(samples).sort();
    const parts: (string | Uint8Array)[] = [String(count)];
    for (const field of fields) {
      const array = samples[field];
      // Only the batch's own samples: a reused buffer may be longer than count samples.
      const bytes = new Uint8Array(array.buffer, array.byteOffset, array.byteLength);
      parts.push(field, array.constructor.name, bytes);
    }
    const key = sha256(...parts);
    return join(directory, key.slice(0, 2), `${key}.f32`);
  };

  return {
    counts,
    async outputs(samples, count, compute) {
      const path = pathOf(samples, count);
      const bytes = count * floatsPerSample * 4;
      if (existsSync(path) && statSync(path).size === bytes) {
        const buffer = readFileSync(path);
        const all = new Float32Array(buffer.buffer.slice(buffer.byteOffset, buffer.byteOffset + bytes));
        let offset = count * teacher.classes;
        const features: Record<string, Float32Array> = {};
        names.forEach((name, index) => {
          features[name] = all.subarray(offset, offset + count * sizes[index]);
          offset += count * sizes[index];
        });
        counts.reused++;
        return { logits: all.subarray(0, count * teacher.classes), features };
      }
      const outputs = await compute();
      counts.computed++;
      const all = new Float32Array(count * floatsPerSample);
      all.set(outputs.logits.subarray(0, count * teacher.classes));
      let offset = count * teacher.classes;
      names.forEach((name, index) => {
        all.set(outputs.features[name].subarray(0, count * sizes[index]), offset);
        offset += count * sizes[index];
      });
      if (!described && !existsSync(descriptor)) {
        const group: OnlineGroupDescriptor = {
          teacher: teacher.description,
          fingerprint: teacher.fingerprint,
          classes: teacher.classes,
          taps,
        };
        writeFileAtomic(descriptor, `${JSON.stringify(group, null, 2)}\n`);
      }
      described = true;
      writeFileAtomic(path, new Uint8Array(all.buffer));
      return outputs;
    },
  };
}

export interface OnlineGroup {
  /** The 24 hex digits of the group's directory: what `cache ls` shows and `cache rm` takes. */
  id: string;
  directory: string;
  /** null when group.json is missing or unreadable. */
  descriptor: OnlineGroupDescriptor | null;
  batches: number;
  sizeBytes: number;
}

/** The groups of online outputs under a store's root (none when there are none), by id. */
export function listOnlineGroups(root: string): OnlineGroup[] {
  const base = join(resolve(root), ONLINE);
  if (!existsSync(base)) return [];
  return readdirSync(base, { withFileTypes: true })
    .filter((item) => item.isDirectory() && groupName.test(item.name))
    .map((item) => {
      const directory = join(base, item.name);
      let batches = 0;
      let sizeBytes = 0;
      for (const file of readdirSync(directory, { withFileTypes: true, recursive: true })) {
        if (!file.isFile()) continue;
        sizeBytes += statSync(join(file.parentPath, file.name)).size;
        if (file.name.endsWith('.f32')) batches++;
      }
      let descriptor: OnlineGroupDescriptor | null = null;
      try {
        descriptor = JSON.parse(readFileSync(join(directory, GROUP_FILE), 'utf8')) as OnlineGroupDescriptor;
      } catch {
        descriptor = null;
      }
      return { id: item.name, directory, descriptor, batches, sizeBytes };
    })
    .sort((a, b) => a.id.localeCompare(b.id));
}

/** Deletes one group, found by listing the store (never by joining a user-given path). */
export function removeOnlineGroup(root: string, group: OnlineGroup): void {
  const base = join(resolve(root), ONLINE);
  if (dirname(group.directory) !== base || lstatSync(group.directory).isSymbolicLink() || !groupName.test(group.id))
    throw new InputError(`${group.directory}: not a group of online outputs in ${base}; not removed`);
  rmSync(group.directory, { recursive: true, force: true });
}
