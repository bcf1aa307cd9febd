// Fuzzes the streamed-dataset loader (data/files.ts, data/streamed.ts): damaged `.npy` image and
// label shards and uncompressed IDX files, opened for streaming and then read through. See
// mutate.test.util.ts for the contract; an error must name the config field or the file.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { InputError } from '../errors.js';
import { allPixels, imageShape } from '../data/dataset.js';
import { loadDataset, type DatasetSpec } from '../data/index.js';
import { idxBytes } from '../data/idx.test.util.js';
import { encodeNpy } from '../util/npy.js';
import { applyByteMutations, byteMutations, expectParsedOrInputError, fuzzOptions } from './mutate.test.util.js';

const directory = mkdtempSync(join(tmpdir(), 'kdkit-fuzz-shards-'));
test.after(() => rmSync(directory, { recursive: true, force: true }));

/** A uint8 `.npy` (encodeNpy's float32 header with the dtype swapped; both are 4 characters). */
function uint8Npy(shape: number[], values: ArrayLike<number>): Uint8Array {
  const header = Buffer.from(encodeNpy({ dtype: 'float32', data: new Float32Array(0), shape }))
    .toString('latin1')
    .replace("'<f4'", "'|u1'");
  return Buffer.concat([Buffer.from(header, 'latin1'), Buffer.from(Uint8Array.from(values))]);
}

const npySeeds = {
  images: [
    uint8Npy(
      [3, 2, 2],
      Array.from({ length: 12 }, (_, i) => i * 20),
    ),
    encodeNpy({ dtype: 'float32', data: Float32Array.from({ length: 12 }, (_, i) => i / 12), shape: [3, 2, 2, 1] }),
    encodeNpy({ dtype: 'float16', data: Uint16Array.from({ length: 12 }, () => 0x3800), shape: [3, 1, 2, 2] }),
  ],
  labels: [encodeNpy({ dtype: 'int32', data: Int32Array.of(0, 1, 2), shape: [3] }), uint8Npy([3], [2, 1, 0])],
};
const idxSeeds = {
  images: idxBytes(
    0x08,
    [3, 2, 2],
    Array.from({ length: 12 }, (_, i) => i * 20),
  ),
  labels: idxBytes(0x08, [3], [0, 1, 2]),
};
// The .npy version, header length and the first bytes of the dict; the IDX magic and dimensions.
const headerOffsets = [6, 7, 8, 9, 10, 20, 30, 40, 50, 0, 2, 3, 4, 8, 12];

/** Rethrows an InputError that names neither a config field nor a file under `directory`. */
function mustName<T>(load: () => T): () => T {
  return () => {
    try {
      return load();
    } catch (error) {
      if (error instanceof InputError && !error.message.includes('dataset.') && !error.message.includes(directory)) {
        throw new Error(`the message names neither the field nor the file: ${error.message}`);
      }
      throw error;
    }
  };
}

test('streamed .npy shards and IDX files: damaged headers and data load consistently or are InputErrors', async (t) => {
  let inputs = 0;
  let loaded = 0;
  await fc.assert(
    fc.asyncProperty(
      fc.boolean(),
      fc.nat(),
      fc.nat(),
      byteMutations(headerOffsets, 256),
      byteMutations(headerOffsets, 256),
      fc.constantFrom('images', 'labels', 'both'),
      fc.constantFrom('nhwc', 'nchw'),
      async (idx, imageSeed, labelSeed, imageEdits, labelEdits, damaged, layout) => {
        inputs++;
        const images = idx ? idxSeeds.images : npySeeds.images[imageSeed % npySeeds.images.length];
        const labels = idx ? idxSeeds.labels : npySeeds.labels[labelSeed % npySeeds.labels.length];
        const damagedImages = damaged === 'labels' ? images : applyByteMutations(images, imageEdits);
        const damagedLabels = damaged === 'images' ? labels : applyByteMutations(labels, labelEdits);
        // Two train shards (the damaged one second) for .npy; one file each for IDX.
        const write = (name: string, bytes: Uint8Array) => {
          writeFileSync(join(directory, name), bytes);
          return join(directory, name);
        };
        const train = idx
          ? { images: write('x.idx', damagedImages), labels: write('y.idx', damagedLabels) }
          : {
              images: [write('x1.npy', images), write('x2.npy', damagedImages)],
              labels: [write('y1.npy', labels), write('y2.npy', damagedLabels)],
            };
        const spec: DatasetSpec = idx
          ? { name: 'idx', train, test: train, classes: 3, validation: 0, stream: true }
          : { name: 'npy', train, test: train, classes: 3, validation: 0, stream: true, layout };
        const size = damagedImages.length + damagedLabels.length;
        const data = await expectParsedOrInputError(
          '',
          size,
          mustName(() => {
            const splits = loadDataset(spec, 1);
            return { splits, pixels: allPixels(splits.train) };
          }),
        );
        if (data) {
          loaded++;
          const { train: part } = data.splits;
          assert.equal(part.samples.storage, 'disk');
          assert.equal(data.pixels.length, part.labels.length * imageShape(part).reduce((a, b) => a * b, 1));
          assert.ok(part.labels.every((label) => label >= 0 && label < 3));
          part.samples.close?.();
        }
      },
    ),
    fuzzOptions(10_000),
  );
  t.diagnostic(`streamed shards: ${inputs} inputs, ${loaded} loaded and read through, the rest InputErrors`);
  assert.ok(inputs >= 10_000);
});
