import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import { InputError } from '../errors.js';
import { allPixels, fieldSize, imageInput, imageShape, readRange, type Dataset } from './dataset.js';
import { idxBytes } from './idx.test.util.js';
import { loadDataset, type DatasetSpec } from './index.js';
import { loadIdxPair } from './mnist_family.js';
import { datasetFingerprint } from '../teachers/cache.js';
import { allocateBatch, gatherBatch } from './batches.js';

const root = mkdtempSync(join(tmpdir(), 'kdkit-stream-'));
after(() => rmSync(root, { recursive: true, force: true }));

/** A version-1.0 `.npy` file with dtype `descr`, `shape` and the raw little-endian `data`. */
function npyBytes(descr: string, shape: number[], data: Uint8Array): Buffer {
  const shapeText = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${shapeText}, }`;
  header += `${' '.repeat((64 - ((10 + header.length + 1) % 64)) % 64)}\n`;
  const preamble = Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0, 0, 0]);
  preamble.writeUInt16LE(header.length, 8);
  return Buffer.concat([preamble, Buffer.from(header, 'latin1'), data]);
}

function write(name: string, bytes: Uint8Array): string {
  const path = join(root, name);
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(path, bytes);
  return path;
}

function assertInputError(run: () => unknown, ...fragments: (string | RegExp)[]): void {
  assert.throws(run, (error: unknown) => {
    assert.ok(error instanceof InputError, `expected InputError, got ${String(error)}`);
    for (const fragment of fragments) {
      assert.ok(
        typeof fragment === 'string' ? error.message.includes(fragment) : fragment.test(error.message),
        `missing ${String(fragment)}: ${error.message}`,
      );
    }
    return true;
  });
}

/** Reads samples `indices` of a dataset through its source. */
function read(dataset: Dataset, indices: number[]): number[] {
  const out = new Float32Array(indices.length * fieldSize(imageInput(dataset)));
  dataset.samples.read(indices, { image: out });
  return Array.from(out);
}

// 23 uint8 samples of 2×2×1, sample i holding [i, 2i, 3i, 255 − i]; labels i mod 3.
const COUNT = 23;
const pixelsOf = (i: number) => [i, 2 * i, 3 * i, 255 - i];
const rawImages = Uint8Array.from({ length: COUNT * 4 }, (_, k) => pixelsOf(Math.floor(k / 4))[k % 4]);
const rawLabels = Uint8Array.from({ length: COUNT }, (_, i) => i % 3);
/** Shards of 10, 3 and 10 samples, named so that natural order differs from text order. */
const SHARDS: [string, number, number][] = [
  ['part-2', 0, 10],
  ['part-10', 10, 13],
  ['part-11', 13, 23],
];
for (const [name, from, to] of SHARDS) {
  write(`shards/${name}-images.npy`, npyBytes('|u1', [to - from, 2, 2], rawImages.subarray(from * 4, to * 4)));
  write(`shards/${name}-labels.npy`, npyBytes('|u1', [to - from], rawLabels.subarray(from, to)));
}
write('shards/test-images.npy', npyBytes('|u1', [2, 2, 2], Uint8Array.of(0, 255, 51, 102, 255, 0, 0, 255)));
write('shards/test-labels.npy', npyBytes('<i8', [2], new Uint8Array(BigInt64Array.of(2n, 0n).buffer)));

const npySpec = (stream: boolean | 'auto', extra: Partial<Extract<DatasetSpec, { name: 'npy' }>> = {}): DatasetSpec => ({
  name: 'npy',
  train: { images: join(root, 'shards/part-*-images.npy'), labels: join(root, 'shards/part-*-labels.npy') },
  test: { images: join(root, 'shards/test-images.npy'), labels: join(root, 'shards/test-labels.npy') },
  classes: 3,
  validation: 5,
  stream,
  ...extra,
});

describe('datasets streamed from disk', () => {
  it('npy shards: any samples, shuffled, repeated and across shard ends, read as value / 255', () => {
    const { train, validation, test } = loadDataset(npySpec(true), 7);
    assert.equal(train.samples.storage, 'disk');
    assert.equal(train.labels.length + validation.labels.length, COUNT);
    assert.equal(test.samples.storage, 'disk');
    // Validation is carved out of train with the seed; reassemble the original order through both.
    const whole = loadDataset({ ...npySpec(true), validation: 0 }, 7).train;
    assert.deepEqual(Array.from(whole.labels), Array.from(rawLabels), 'shards concatenated in natural order (2, 10, 11)');
    const indices = [22, 0, 9, 10, 12, 13, 9, 21, 5, 5];
    assert.deepEqual(
      read(whole, indices),
      indices.flatMap((i) => pixelsOf(i).map((value) => Math.fround(value / 255))),
    );
    // int64 labels, as numpy saves by default.
    assert.deepEqual(Array.from(test.labels), [2, 0]);
    assert.deepEqual(read(test, [1, 0]), [1, 0, 0, 1, 0, 1, 0.2, 0.4].map(Math.fround));
  });

  it('streamed and in-memory loads of the same files give the same samples, splits and fingerprint', () => {
    const streamed = loadDataset(npySpec(true), 3);
    const loaded = loadDataset(npySpec(false), 3);
    assert.equal(loaded.train.samples.storage, 'memory');
    for (const part of ['train', 'validation', 'test'] as const) {
      assert.deepEqual(Array.from(streamed[part].labels), Array.from(loaded[part].labels), part);
      assert.deepEqual(allPixels(streamed[part]), allPixels(loaded[part]), part);
      assert.equal(datasetFingerprint(streamed[part]), datasetFingerprint(loaded[part]), part);
    }
    // The trainer's path: gatherBatch through a shuffled index list.
    const order = [4, 1, 15, 0, 9];
    const buffers = allocateBatch(streamed.train, order.length);
    const fromDisk = Array.from(gatherBatch(streamed.train, order, buffers).samples.image);
    assert.deepEqual(fromDisk, Array.from(gatherBatch(loaded.train, order, allocateBatch(loaded.train, 5)).samples.image));
    // 'auto' keeps a set this small in memory.
    assert.equal(loadDataset(npySpec('auto'), 3).train.samples.storage, 'memory');
  });

  it('an uncompressed IDX pair streams the same values the in-memory loader reads', () => {
    const images = write('idx/images', idxBytes(0x08, [3, 1, 2], [0, 255, 51, 102, 153, 204]));
    const labels = write('idx/labels', idxBytes(0x08, [3], [2, 0, 1]));
    const spec: DatasetSpec = { name: 'idx', train: { images, labels }, test: { images, labels }, classes: 3, validation: 0, stream: true };
    const streamed = loadDataset(spec, 1).train;
    assert.equal(streamed.samples.storage, 'disk');
    assert.deepEqual(imageShape(streamed), [1, 2, 1]);
    const loaded = loadIdxPair('x', images, labels, ['a', 'b', 'c']);
    assert.deepEqual(allPixels(streamed), allPixels(loaded));
    assert.deepEqual(Array.from(allPixels(streamed)), [0, 1, 0.2, 0.4, 0.6, 0.8].map(Math.fround));
  });

  it('float32, float16 and NCHW samples (as PyTorch saves them) come back NHWC', () => {
    // Two samples of 2 channels × 1 × 2 pixels, stored channel-major.
    const nchw = Float32Array.of(0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8);
    const f16 = Uint16Array.of(0x3c00, 0x3800, 0x3400, 0x0000, 0xbc00, 0x4000, 0x3c00, 0x3555); // 1, .5, .25, 0, −1, 2, 1, ≈1/3
    const labels = npyBytes('<i4', [2], new Uint8Array(Int32Array.of(0, 1).buffer));
    const spec = (images: string, layout: 'nhwc' | 'nchw'): DatasetSpec => ({
      name: 'npy',
      layout,
      classes: 2,
      validation: 0,
      stream: true,
      train: { images, labels: write('f/labels.npy', labels) },
      test: { images, labels: join(root, 'f/labels.npy') },
    });
    const f32 = loadDataset(spec(write('f/f32.npy', npyBytes('<f4', [2, 2, 1, 2], new Uint8Array(nchw.buffer))), 'nchw'), 1).train;
    assert.deepEqual(imageShape(f32), [1, 2, 2]);
    assert.deepEqual(read(f32, [1, 0]), [0.5, 0.7, 0.6, 0.8, 0.1, 0.3, 0.2, 0.4].map(Math.fround));
    const half = loadDataset(spec(write('f/f16.npy', npyBytes('<f2', [2, 1, 2, 2], new Uint8Array(f16.buffer))), 'nhwc'), 1).train;
    assert.deepEqual(imageShape(half), [1, 2, 2]);
    assert.deepEqual(read(half, [0, 1]), [1, 0.5, 0.25, 0, -1, 2, 1, Math.fround(0.333251953125)]);
  });

  it('reads files numpy itself wrote: uint8 NCHW images and int64 labels', () => {
    const directory = join(root, 'numpy');
    mkdirSync(directory, { recursive: true });
    execFileSync('/usr/bin/python3', [
      '-c',
      [
        'import numpy as np',
        `d = ${JSON.stringify(directory)}`,
        'x = np.arange(3 * 3 * 2 * 2, dtype=np.uint8).reshape(3, 3, 2, 2) * 7',
        "np.save(d + '/x.npy', x)",
        "np.save(d + '/y.npy', np.array([0, 2, 1]))",
        "np.save(d + '/nhwc.npy', (x.transpose(0, 2, 3, 1) / np.float32(255)).astype(np.float32))",
      ].join('\n'),
    ]);
    const spec: DatasetSpec = {
      name: 'npy',
      layout: 'nchw',
      classes: 3,
      validation: 0,
      stream: true,
      train: { images: join(directory, 'x.npy'), labels: join(directory, 'y.npy') },
      test: { images: join(directory, 'x.npy'), labels: join(directory, 'y.npy') },
    };
    const data = loadDataset(spec, 1).train;
    assert.deepEqual(imageShape(data), [2, 2, 3]);
    assert.deepEqual(Array.from(data.labels), [0, 2, 1]);
    // numpy's own NHWC float32 copy of the same samples.
    const nhwc = { images: join(directory, 'nhwc.npy'), labels: join(directory, 'y.npy') };
    const reference = loadDataset({ ...spec, layout: 'nhwc', train: nhwc, test: nhwc }, 1).train;
    assert.deepEqual(allPixels(data), allPixels(reference));
  });

  it('a batch prefetched on the reader thread equals one read here; a different read discards it', () => {
    const data = loadDataset({ ...npySpec(true), validation: 0 }, 1).train;
    const expected = (indices: number[]) => indices.flatMap((i) => pixelsOf(i).map((value) => Math.fround(value / 255)));
    for (const batch of [
      [3, 17, 9, 10],
      [22, 0],
      [5, 6, 7, 8, 9, 10, 11],
    ]) {
      data.samples.prefetch!(batch);
      assert.deepEqual(read(data, batch), expected(batch));
    }
    data.samples.prefetch!([1, 2]);
    assert.deepEqual(read(data, [2, 1]), expected([2, 1]), 'not the prefetched order');
    assert.deepEqual(read(data, [1, 2]), expected([1, 2]), 'read here, nothing pending any more');
    data.samples.close?.();
  });

  it('readRange returns a view of in-memory pixels and a read of streamed ones', () => {
    const streamed = loadDataset(npySpec(true), 1).test;
    const loaded = loadDataset(npySpec(false), 1).test;
    assert.equal(readRange(loaded, 0, 2).image.buffer, allPixels(loaded).buffer);
    assert.deepEqual(readRange(streamed, 1, 2), readRange(loaded, 1, 2));
  });
});

describe('bad dataset files are exit-2 errors naming the field or file', () => {
  it('a gzipped IDX file cannot stream; it says how to decompress it', () => {
    const images = write('gz/images.gz', gzipSync(idxBytes(0x08, [1, 1, 2], [0, 255])));
    const labels = write('gz/labels', idxBytes(0x08, [1], [0]));
    const spec: DatasetSpec = { name: 'idx', train: { images, labels }, test: { images, labels }, validation: 0, stream: true };
    assertInputError(() => loadDataset(spec, 1), 'dataset.stream', 'gzipped', `gunzip -k ${images}`);
    // Read whole, it loads.
    assert.equal(loadDataset({ ...spec, stream: 'auto' }, 1).train.samples.storage, 'memory');
  });

  it('a pattern matching nothing, a missing file, a count mismatch, a stray label, mixed shards', () => {
    assertInputError(
      () =>
        loadDataset(
          npySpec(true, { train: { images: join(root, 'shards/nope-*.npy'), labels: join(root, 'shards/part-*-labels.npy') } }),
          1,
        ),
      'dataset.train.images',
      'matches no file',
    );
    assertInputError(
      () =>
        loadDataset(npySpec(true, { test: { images: join(root, 'shards/missing.npy'), labels: join(root, 'shards/test-labels.npy') } }), 1),
      'dataset.test.images',
      'missing.npy',
      'no such file',
    );
    assertInputError(
      () =>
        loadDataset(
          npySpec(true, { test: { images: join(root, 'shards/test-images.npy'), labels: join(root, 'shards/part-2-labels.npy') } }),
          1,
        ),
      'dataset.test',
      '2 images',
      '10 labels',
    );
    assertInputError(
      () => loadDataset(npySpec(true, { classes: 2 }), 1),
      'part-2-labels.npy: label at index 2',
      'label 2 is outside [0, 2)',
    );
    write('mixed/a.npy', npyBytes('|u1', [1, 2, 2], Uint8Array.of(1, 2, 3, 4)));
    write('mixed/b.npy', npyBytes('|u1', [1, 2, 3], Uint8Array.of(1, 2, 3, 4, 5, 6)));
    write('mixed/y.npy', npyBytes('|u1', [2], Uint8Array.of(0, 1)));
    const mixed = { images: [join(root, 'mixed/a.npy'), join(root, 'mixed/b.npy')], labels: join(root, 'mixed/y.npy') };
    assertInputError(() => loadDataset({ name: 'npy', train: mixed, test: mixed, stream: true }, 1), 'b.npy', 'all shards must match');
    write('mixed/labels-f.npy', npyBytes('<f4', [1], new Uint8Array(4)));
    assertInputError(
      () =>
        loadDataset(
          {
            name: 'npy',
            train: { images: join(root, 'mixed/a.npy'), labels: join(root, 'mixed/labels-f.npy') },
            test: mixed,
            stream: true,
          },
          1,
        ),
      'labels-f.npy',
      "'<f4'",
      'integers',
    );
  });

  it('labels past int32 name their true value; a stray large label does not make a billion classes', () => {
    const x = write('wide/x.npy', npyBytes('|u1', [2, 1, 1], Uint8Array.of(0, 0)));
    const wide = write('wide/y.npy', npyBytes('<u4', [2], new Uint8Array(Uint32Array.of(1, 2 ** 32 - 1).buffer)));
    assertInputError(
      () => loadDataset({ name: 'npy', train: { images: x, labels: wide }, test: { images: x, labels: wide }, validation: 0 }, 1),
      'y.npy: label at index 1 is 4294967295',
    );
    const stray = write('wide/z.npy', npyBytes('<i4', [2], new Uint8Array(Int32Array.of(1, 1e9).buffer)));
    assertInputError(
      () => loadDataset({ name: 'npy', train: { images: x, labels: stray }, test: { images: x, labels: stray }, validation: 0 }, 1),
      'dataset.classes: not given',
      'largest label is 1000000000',
    );
  });

  it('a header promising more bytes than the file has is refused before any read', () => {
    const path = write('short/x.npy', npyBytes('|u1', [1000000, 28, 28], Uint8Array.of(1, 2, 3)));
    write('short/y.npy', npyBytes('|u1', [1], Uint8Array.of(0)));
    const part = { images: path, labels: join(root, 'short/y.npy') };
    assertInputError(
      () => loadDataset({ name: 'npy', train: part, test: part, stream: true }, 1),
      'x.npy',
      'header promises 784000000 bytes',
    );
  });

  it('float pixels that are not finite or beyond ±1e4: gzipped IDX, float16 shards read by the reader thread', () => {
    const floats = Buffer.alloc(4 * 4);
    [0.5, 0.25, -Infinity, 1].forEach((value, i) => {
      floats.writeFloatBE(value, 4 * i);
    });
    const images = write('range/images.gz', gzipSync(Buffer.concat([idxBytes(0x0d, [2, 1, 2], []), floats])));
    const labels = write('range/labels', idxBytes(0x08, [2], [0, 1]));
    assertInputError(
      () => loadDataset({ name: 'idx', train: { images, labels }, test: { images, labels }, validation: 0 }, 1),
      'images.gz: sample 1 holds -Infinity',
      'scaled to about [0, 1]',
    );
    // float16 0x7c00 is +Infinity; sample 2 of the second shard.
    const half = (bits: number[]) => new Uint8Array(Uint16Array.from(bits).buffer);
    const shards = [
      write('range/a.npy', npyBytes('<f2', [1, 1, 2], half([0x3800, 0x3800]))),
      write('range/b.npy', npyBytes('<f2', [3, 1, 2], half([0, 0, 0, 0, 0x3c00, 0x7c00]))),
    ];
    const y = write('range/y.npy', npyBytes('|u1', [4], Uint8Array.of(0, 1, 0, 1)));
    const data = loadDataset(
      { name: 'npy', train: { images: shards, labels: y }, test: { images: shards, labels: y }, validation: 0, stream: true },
      1,
    );
    assert.deepEqual(read(data.train, [0, 1]), [0.5, 0.5, 0, 0]);
    data.train.samples.prefetch!([2, 3]);
    assertInputError(() => read(data.train, [2, 3]), 'b.npy: sample 2 holds Infinity');
    data.train.samples.close?.();
  });

  it('a shard truncated after it was opened is an InputError naming it, not a crash', () => {
    const images = write('cut/x.npy', npyBytes('|u1', [4, 2, 2], new Uint8Array(16).fill(9)));
    const labels = write('cut/y.npy', npyBytes('|u1', [4], Uint8Array.of(0, 1, 0, 1)));
    const data = loadDataset({ name: 'npy', train: { images, labels }, test: { images, labels }, validation: 0, stream: true }, 1);
    truncateSync(images, 128 + 8);
    assert.throws(
      () => read(data.train, [3]),
      (error: unknown) => error instanceof InputError && /x\.npy: ended early, sample 3 of 4/.test(error.message),
    );
    // The same, when the reader thread meets it.
    data.train.samples.prefetch!([2, 3]);
    assert.throws(
      () => read(data.train, [2, 3]),
      (error: unknown) => error instanceof InputError && /x\.npy: ended early, sample 2 of 4/.test(error.message),
    );
    data.train.samples.close?.();
  });
});
