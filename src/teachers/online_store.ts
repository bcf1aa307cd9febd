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
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { SampleBatch } from '../data/dataset.js';
import { writeFileAtomic } from '../util/atomic.js';
import { sha256 } from '../util/hash.js';

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
  teacher: { fingerprint: string; classes: number },
  taps: readonly { name: string; shape: readonly number[] }[],
): OnlineStore | null {
  const sizes = taps.map(({ shape }) => shape.reduce((product, size) => product * size, 1));
  const floatsPerSample = teacher.classes + sizes.reduce((sum, size) => sum + size, 0);
  if (floatsPerSample > MAX_FLOATS_PER_SAMPLE) return null;
  const names = taps.map(({ name }) => name);
  const directory = join(root, 'online', sha256('online outputs', teacher.fingerprint, JSON.stringify(names)).slice(0, 24));
  const counts = { reused: 0, computed: 0 };

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
      writeFileAtomic(path, new Uint8Array(all.buffer));
      return outputs;
    },
  };
}
