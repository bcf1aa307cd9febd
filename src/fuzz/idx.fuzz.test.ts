// Fuzzes the IDX reader (MNIST-family files): raw bytes, the gzip container around them, and the
// images + labels pair the dataset loader reads. See mutate.test.util.ts for the contract.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { InputError } from '../errors.js';
import { loadIdxPair } from '../data/mnist_family.js';
import { maybeGunzip, parseIdx, readIdxFile, IDX_IMAGES_MAGIC } from '../data/idx.js';
import { idxBytes } from '../data/idx.test.util.js';
import { applyByteMutations, byteMutations, expectParsedOrInputError, fuzzOptions } from './mutate.test.util.js';
import { allPixels, imageShape } from '../data/dataset.js';

const BYTES_PER_VALUE = { uint8: 1, int8: 1, int16: 2, int32: 4, float32: 4, float64: 8 } as const;

const seeds = [
  idxBytes(
    0x08,
    [3, 4, 5],
    Array.from({ length: 60 }, (_, i) => i),
  ),
  idxBytes(0x08, [6], [0, 1, 2, 3, 4, 5]),
  idxBytes(
    0x0d,
    [2, 3],
    Array.from({ length: 24 }, (_, i) => i * 7),
  ),
  idxBytes(
    0x0b,
    [5],
    Array.from({ length: 10 }, (_, i) => i),
  ),
  idxBytes(
    0x0e,
    [1, 1, 1, 2],
    Array.from({ length: 16 }, (_, i) => i),
  ),
];
// The magic number's type and rank bytes, and the first three dimension fields.
const headerOffsets = [0, 2, 3, 4, 8, 12];
const directory = mkdtempSync(join(tmpdir(), 'kdkit-fuzz-idx-'));

test('parseIdx: truncated, bit-flipped and oversized IDX bytes parse consistently or are InputErrors', async (t) => {
  let inputs = 0;
  await fc.assert(
    fc.asyncProperty(fc.nat(), byteMutations(headerOffsets), fc.boolean(), async (seedIndex, mutations, expectImages) => {
      inputs++;
      const bytes = applyByteMutations(seeds[seedIndex % seeds.length], mutations);
      const parsed = await expectParsedOrInputError('fuzz.idx', bytes.length, () =>
        parseIdx(bytes, 'fuzz.idx', expectImages ? IDX_IMAGES_MAGIC : undefined),
      );
      if (parsed) {
        assert.equal(
          parsed.values.length,
          parsed.dims.reduce((product, size) => product * size, 1),
        );
        assert.equal(4 + 4 * parsed.dims.length + parsed.values.length * BYTES_PER_VALUE[parsed.dataType], bytes.length);
      }
    }),
    fuzzOptions(12_000),
  );
  t.diagnostic(`parseIdx: ${inputs} inputs`);
  assert.ok(inputs >= 10_000);
});

test('maybeGunzip + parseIdx: a damaged gzip container, or gzipped damaged bytes, is an InputError naming the file', async (t) => {
  let inputs = 0;
  const gzipped = seeds.map((seed) => gzipSync(seed));
  // Gzip header fields: compression method, flags, OS.
  await fc.assert(
    fc.asyncProperty(fc.nat(), byteMutations([2, 3, 9]), fc.boolean(), async (seedIndex, mutations, damageContainer) => {
      inputs++;
      const seed = seeds[seedIndex % seeds.length];
      const bytes = Buffer.from(
        damageContainer ? applyByteMutations(gzipped[seedIndex % seeds.length], mutations) : gzipSync(applyByteMutations(seed, mutations)),
      );
      await expectParsedOrInputError('fuzz.idx.gz', bytes.length, () => parseIdx(maybeGunzip(bytes, 'fuzz.idx.gz'), 'fuzz.idx.gz'));
    }),
    fuzzOptions(10_000),
  );
  t.diagnostic(`maybeGunzip + parseIdx (gzip): ${inputs} inputs`);
  assert.ok(inputs >= 10_000);
});

test('loadIdxPair: damaged images and labels files give a consistent dataset or an InputError', async (t) => {
  let inputs = 0;
  const images = idxBytes(
    0x08,
    [4, 3, 2],
    Array.from({ length: 24 }, (_, i) => i * 10),
  );
  const labels = idxBytes(0x08, [4], [0, 1, 2, 1]);
  const imagesPath = join(directory, 'pair-images');
  const labelsPath = join(directory, 'pair-labels');
  await fc.assert(
    fc.asyncProperty(
      byteMutations(headerOffsets),
      byteMutations(headerOffsets),
      fc.boolean(),
      async (imageEdits, labelEdits, damageLabels) => {
        inputs++;
        writeFileSync(imagesPath, applyByteMutations(images, imageEdits));
        writeFileSync(labelsPath, damageLabels ? applyByteMutations(labels, labelEdits) : labels);
        const dataset = await expectParsedOrInputError('pair-', 64, () => loadIdxPair('fuzz', imagesPath, labelsPath, ['a', 'b', 'c']));
        if (dataset) {
          const [height, width] = imageShape(dataset);
          assert.ok(height > 0 && width > 0);
          assert.equal(allPixels(dataset).length, dataset.labels.length * height * width);
          assert.ok(dataset.labels.every((label) => label >= 0 && label < 3));
        }
      },
    ),
    fuzzOptions(1_000),
  );
  t.diagnostic(`loadIdxPair: ${inputs} inputs`);
});

test('a header claiming 2^32-1 × 2^32-1 × 2^32-1 values in a 16-byte file allocates nothing', () => {
  const header = idxBytes(0x0e, [0xffffffff, 0xffffffff, 0xffffffff], []);
  const before = process.memoryUsage().arrayBuffers;
  assert.throws(
    () => parseIdx(header, 'huge.idx'),
    (error: unknown) => error instanceof InputError && /huge\.idx: wrong length/.test(error.message),
  );
  assert.ok(process.memoryUsage().arrayBuffers - before < 1024 * 1024);
});

test('a gzip bomb stops at the size its header promises: a header for 1000 bytes, then 64 MiB of zeros', () => {
  const bomb = gzipSync(Buffer.concat([idxBytes(0x08, [1000], new Uint8Array(1000)), new Uint8Array(64 * 1024 * 1024)]));
  const path = join(directory, 'bomb.gz');
  writeFileSync(path, bomb);
  const before = process.memoryUsage().arrayBuffers;
  assert.throws(
    () => readIdxFile(path),
    (error: unknown) =>
      error instanceof InputError && error.message.includes(path) && /more than the 1008 bytes its IDX header promises/.test(error.message),
  );
  assert.ok(process.memoryUsage().arrayBuffers - before < 1024 * 1024);
});
