import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import { InputError } from '../errors.js';
import { IDX_IMAGES_MAGIC, IDX_LABELS_MAGIC, parseIdx, readIdxFile } from './idx.js';
import { gzipBomb, idxBytes } from './idx.test.util.js';

/** Asserts an InputError whose message names `path` and contains every fragment. */
function assertInputError(run: () => unknown, path: string, ...fragments: string[]): void {
  assert.throws(run, (error: unknown) => {
    assert.ok(error instanceof InputError, `expected InputError, got ${String(error)}`);
    assert.ok(error.message.includes(path), `message should name ${path}: ${error.message}`);
    for (const fragment of fragments) assert.ok(error.message.includes(fragment), `missing '${fragment}': ${error.message}`);
    return true;
  });
}

const directory = mkdtempSync(join(tmpdir(), 'kdkit-idx-'));
after(() => rmSync(directory, { recursive: true, force: true }));

function writeTemp(name: string, bytes: Uint8Array): string {
  const path = join(directory, name);
  writeFileSync(path, bytes);
  return path;
}

// Two 2×3 images; pixel values chosen so the layout is visible: image i, row r, col c = 100i + 10r + c.
const imagePixels = [0, 1, 2, 10, 11, 12, 100, 101, 102, 110, 111, 112];
const imagesFile = idxBytes(0x08, [2, 2, 3], imagePixels);

describe('readIdxFile round trip', () => {
  for (const [label, bytes] of [
    ['plain', imagesFile],
    ['gzipped', gzipSync(imagesFile)],
  ] as const) {
    it(`reads ${label} uint8 images`, () => {
      const path = writeTemp(`images-${label}`, bytes);
      const idx = readIdxFile(path, IDX_IMAGES_MAGIC);
      assert.equal(idx.dataType, 'uint8');
      assert.deepEqual(idx.dims, [2, 2, 3]);
      assert.deepEqual(Array.from(idx.values), imagePixels);
    });
  }

  it('reads labels with the label magic', () => {
    const path = writeTemp('labels', gzipSync(idxBytes(0x08, [3], [7, 0, 9])));
    const idx = readIdxFile(path, IDX_LABELS_MAGIC);
    assert.deepEqual(idx.dims, [3]);
    assert.deepEqual(Array.from(idx.values), [7, 0, 9]);
  });

  it('decodes big-endian multi-byte types', () => {
    // int16: ff fe = -2, 01 00 = 256. float32: 3f 80 00 00 = 1, c0 00 00 00 = -2.
    const int16 = parseIdx(idxBytes(0x0b, [2], [0xff, 0xfe, 0x01, 0x00]), 'int16');
    assert.equal(int16.dataType, 'int16');
    assert.deepEqual(Array.from(int16.values), [-2, 256]);
    const float32 = parseIdx(idxBytes(0x0d, [2], [0x3f, 0x80, 0, 0, 0xc0, 0, 0, 0]), 'float32');
    assert.deepEqual(Array.from(float32.values), [1, -2]);
    const int8 = parseIdx(idxBytes(0x09, [1], [0xff]), 'int8');
    assert.deepEqual(Array.from(int8.values), [-1]);
  });
});

describe('readIdxFile corruption', () => {
  it('wrong magic names what was found and what was expected', () => {
    const path = writeTemp('labels-as-images', idxBytes(0x08, [3], [1, 2, 3]));
    assertInputError(() => readIdxFile(path, IDX_IMAGES_MAGIC), path, '0x00000801', '0x00000803');
  });

  it('non-zero leading bytes are not IDX', () => {
    const path = writeTemp('png', Buffer.from([0x89, 0x50, 0x4e, 0x47, 0, 0, 0, 0]));
    assertInputError(() => readIdxFile(path), path, '0x89504e47', 'two zero bytes');
  });

  it('truncated data: header says 12 bytes, file has 11', () => {
    const path = writeTemp('truncated', imagesFile.subarray(0, imagesFile.length - 1));
    assertInputError(() => readIdxFile(path, IDX_IMAGES_MAGIC), path, 'says 12 bytes', 'has 11 bytes');
  });

  it('extra bytes: header says 12 bytes, file has 13', () => {
    const path = writeTemp('extra', Buffer.concat([imagesFile, Buffer.from([0])]));
    assertInputError(() => readIdxFile(path, IDX_IMAGES_MAGIC), path, 'says 12 bytes', 'has 13 bytes');
  });

  it('huge claimed dims are rejected without allocating', () => {
    // 4294967295³ bytes would be ~7.9e28; the file holds 3.
    const path = writeTemp('huge', idxBytes(0x08, [0xffffffff, 0xffffffff, 0xffffffff], [1, 2, 3]));
    assertInputError(() => readIdxFile(path, IDX_IMAGES_MAGIC), path, 'has 3 bytes');
  });

  it('truncated header: 3 dims need 16 bytes', () => {
    const path = writeTemp('short-header', imagesFile.subarray(0, 10));
    assertInputError(() => readIdxFile(path, IDX_IMAGES_MAGIC), path, 'truncated IDX header', '16');
  });

  it('file shorter than the magic number', () => {
    const path = writeTemp('tiny', Buffer.from([0, 0]));
    assertInputError(() => readIdxFile(path), path, '2 bytes');
  });

  it('unsupported type byte', () => {
    const path = writeTemp('type-0a', idxBytes(0x0a, [1], [0]));
    assertInputError(() => readIdxFile(path), path, 'unsupported IDX type byte 0x0a');
  });

  it('corrupt gzip: truncated stream', () => {
    const gz = gzipSync(imagesFile);
    const path = writeTemp('truncated.gz', gz.subarray(0, gz.length - 10));
    assertInputError(() => readIdxFile(path), path, 'gzip');
  });

  it('corrupt gzip: garbage after the gzip magic', () => {
    const path = writeTemp('garbage.gz', Buffer.from([0x1f, 0x8b, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]));
    assertInputError(() => readIdxFile(path), path, 'gzip');
  });

  it('missing file', () => {
    const path = join(directory, 'does-not-exist');
    assertInputError(() => readIdxFile(path), path, 'no such file');
  });
});

describe('gzipped IDX sized by its header', () => {
  it('inflates no further than its header promises: 1 GiB of zeros after a header for 100 images of 28×28', () => {
    // Its trailer claims the whole gigabyte, so only the header bounds the output.
    const path = writeTemp('bomb-images.gz', gzipBomb(idxBytes(0x08, [100, 28, 28], new Uint8Array(100 * 784)), 1024, 1024 ** 3));
    const peakKiB = process.resourceUsage().maxRSS;
    assertInputError(
      () => readIdxFile(path, IDX_IMAGES_MAGIC),
      path,
      'decompresses to more than the 78416 bytes its IDX header promises (100×28×28 uint8)',
    );
    const grewMiB = (process.resourceUsage().maxRSS - peakKiB) / 1024;
    assert.ok(grewMiB < 64, `peak resident memory grew by ${grewMiB.toFixed(0)} MiB`);
  });

  it('reads a header kept behind a long gzip file name, and a file exactly as large as its header says', () => {
    const data = idxBytes(
      0x08,
      [3, 2, 2],
      Array.from({ length: 12 }, (_, i) => i),
    );
    const named = Buffer.concat([
      Buffer.from([0x1f, 0x8b, 8, 8, 0, 0, 0, 0, 0, 3]),
      Buffer.from(`${'x'.repeat(5000)}\0`),
      gzipSync(data).subarray(10),
    ]);
    assert.deepEqual(
      Array.from(readIdxFile(writeTemp('named.gz', named), IDX_IMAGES_MAGIC).values),
      Array.from({ length: 12 }, (_, i) => i),
    );
  });
});
