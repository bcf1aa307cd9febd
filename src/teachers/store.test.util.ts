// Deterministic fake teachers and datasets for the soft-label store tests.
import type { Dataset } from '../data/dataset.js';
import type { Teacher } from './teacher.js';
import { imageDataset } from '../data/dataset.js';

/** `samples` 2×2×1 images whose first pixel is the sample's index (so a table teacher can look rows up). */
export function fakeDataset(samples: number, classes: number, name = 'fake'): Dataset {
  const images = new Float32Array(samples * 4);
  for (let i = 0; i < samples; i++) {
    images[i * 4] = i;
    for (let j = 1; j < 4; j++) images[i * 4 + j] = ((i * 7 + j * 3) % 11) / 10;
  }
  return imageDataset({
    name,
    images,
    labels: new Int32Array(samples).map((_, i) => i % classes),
    sampleShape: [2, 2, 1],
    numClasses: classes,
    classNames: Array.from({ length: classes }, (_, c) => `class ${c}`),
  });
}

export interface FakeTeacher extends Teacher {
  /** Calls of logits() so far. */
  calls: number;
}

/**
 * Logits as a fixed function of the pixels: class c of a sample scores Σ_j pixel_j · w(c, j) with
 * small integer weights, or, given `table`, row (first pixel) of the table. `delayMs` makes each
 * call slow, for killing a build partway.
 */
export function fakeTeacher(options: {
  classes: number;
  batchSize?: number;
  delayMs?: number;
  fingerprint?: string;
  table?: number[][];
}): FakeTeacher {
  const { classes } = options;
  const teacher: FakeTeacher = {
    calls: 0,
    info: { kind: 'tfjs', description: 'fake teacher', fingerprint: options.fingerprint ?? 'fake-teacher-v1', classes, featureNames: [] },
    batchSize: options.batchSize ?? 8,
    async logits(batch, count) {
      const images = batch.image as Float32Array;
      teacher.calls++;
      if (options.delayMs) await new Promise((done) => setTimeout(done, options.delayMs));
      const out = new Float32Array(count * classes);
      for (let i = 0; i < count; i++) {
        const pixels = images.subarray(i * 4, (i + 1) * 4);
        for (let c = 0; c < classes; c++) {
          out[i * classes + c] = options.table
            ? options.table[Math.round(pixels[0])][c]
            : pixels.reduce((sum, pixel, j) => sum + pixel * ((((c + 1) * (j + 2)) % 5) - 2), 0) / 10;
        }
      }
      return out;
    },
    async features() {
      return {};
    },
    async dispose() {},
  };
  return teacher;
}
