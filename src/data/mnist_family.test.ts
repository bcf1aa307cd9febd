import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import { InputError } from '../errors.js';
import { DEFAULT_FASHION_MNIST_DIR, FASHION_MNIST_CLASS_NAMES, loadFashionMnist } from './fashion_mnist.js';
import { loadMnistFamily, type MnistFamilyArgs } from './mnist_family.js';
import { idxBytes } from './idx.test.util.js';
import { allPixels, imageShape } from './dataset.js';

function assertInputError(run: () => unknown, ...fragments: string[]): void {
  assert.throws(run, (error: unknown) => {
    assert.ok(error instanceof InputError, `expected InputError, got ${String(error)}`);
    for (const fragment of fragments) assert.ok(error.message.includes(fragment), `missing '${fragment}': ${error.message}`);
    return true;
  });
}

const root = mkdtempSync(join(tmpdir(), 'kdkit-mnist-'));
after(() => rmSync(root, { recursive: true, force: true }));

interface FakeSet {
  trainImages?: Buffer;
  trainLabels?: Buffer;
  testImages?: Buffer;
  testLabels?: Buffer;
}

// Train: three 1×2 images. Test: one 1×2 image. Three classes.
const good: Required<FakeSet> = {
  trainImages: idxBytes(0x08, [3, 1, 2], [0, 255, 51, 102, 153, 204]),
  trainLabels: idxBytes(0x08, [3], [2, 0, 1]),
  testImages: idxBytes(0x08, [1, 1, 2], [255, 0]),
  testLabels: idxBytes(0x08, [1], [1]),
};

let directoryCount = 0;
/** Writes a fake set; train files plain, test files gzipped, so both paths are exercised. */
function writeSet(overrides: FakeSet): string {
  const files = { ...good, ...overrides };
  const directory = join(root, `set-${directoryCount++}`);
  mkdirSync(directory);
  writeFileSync(join(directory, 'train-images-idx3-ubyte'), files.trainImages);
  writeFileSync(join(directory, 'train-labels-idx1-ubyte'), files.trainLabels);
  writeFileSync(join(directory, 't10k-images-idx3-ubyte.gz'), gzipSync(files.testImages));
  writeFileSync(join(directory, 't10k-labels-idx1-ubyte.gz'), gzipSync(files.testLabels));
  return directory;
}

function args(directory: string): MnistFamilyArgs {
  return { name: 'toy', directory, classNames: ['a', 'b', 'c'], howToGet: 'Get it from HOWTO.' };
}

describe('loadMnistFamily', () => {
  it('loads plain and gzipped files, scales pixels by 1/255, shapes NHWC', () => {
    const { train, test } = loadMnistFamily(args(writeSet({})));
    assert.equal(train.name, 'toy/train');
    assert.equal(test.name, 'toy/test');
    assert.deepEqual(imageShape(train), [1, 2, 1]);
    assert.equal(train.numClasses, 3);
    assert.deepEqual(train.classNames, ['a', 'b', 'c']);
    // 51/255 = 0.2, 102/255 = 0.4, 153/255 = 0.6, 204/255 = 0.8 (then rounded to float32).
    assert.deepEqual(Array.from(allPixels(train)), [0, 1, 0.2, 0.4, 0.6, 0.8].map(Math.fround));
    assert.deepEqual(Array.from(train.labels), [2, 0, 1]);
    assert.deepEqual(Array.from(allPixels(test)), [1, 0]);
    assert.deepEqual(Array.from(test.labels), [1]);
  });

  it('label out of range names the file, the index and the value', () => {
    const directory = writeSet({ trainLabels: idxBytes(0x08, [3], [2, 3, 7]) });
    assertInputError(() => loadMnistFamily(args(directory)), join(directory, 'train-labels-idx1-ubyte'), 'index 1 is 3', '[0, 3)');
  });

  it('image count ≠ label count names both files', () => {
    const directory = writeSet({ testLabels: idxBytes(0x08, [2], [0, 1]) });
    assertInputError(
      () => loadMnistFamily(args(directory)),
      join(directory, 't10k-images-idx3-ubyte.gz'),
      join(directory, 't10k-labels-idx1-ubyte.gz'),
      '1 images',
      '2 labels',
    );
  });

  it('images and labels swapped gives a wrong-magic error naming the file', () => {
    const directory = writeSet({ trainImages: good.trainLabels });
    assertInputError(() => loadMnistFamily(args(directory)), join(directory, 'train-images-idx3-ubyte'), '0x00000801', '0x00000803');
  });

  it('missing directory says which path and how to get it', () => {
    const directory = join(root, 'absent');
    assertInputError(() => loadMnistFamily(args(directory)), directory, 'does not exist', 'HOWTO');
  });

  it('a file instead of a directory', () => {
    const path = join(root, 'plain-file');
    writeFileSync(path, 'x');
    assertInputError(() => loadMnistFamily(args(path)), path, 'not a directory');
  });

  it('missing file names both candidate paths', () => {
    const directory = writeSet({});
    rmSync(join(directory, 't10k-labels-idx1-ubyte.gz'));
    const expected = join(directory, 't10k-labels-idx1-ubyte');
    assertInputError(() => loadMnistFamily(args(directory)), expected, `${expected}.gz`, 'HOWTO');
  });
});

describe('loadFashionMnist', () => {
  it('missing directory explains how to install it', () => {
    const directory = join(root, 'no-fashion');
    assertInputError(() => loadFashionMnist(directory), directory, 'apt-get install dataset-fashion-mnist', '--data', 'dataset.path');
  });

  // Assumes Debian's dataset-fashion-mnist package is installed (CI installs it).
  it(`loads ${DEFAULT_FASHION_MNIST_DIR}: 60000 train, 10000 test, 28×28×1`, () => {
    const { train, test } = loadFashionMnist();
    assert.equal(train.labels.length, 60000);
    assert.equal(test.labels.length, 10000);
    assert.deepEqual(imageShape(train), [28, 28, 1]);
    assert.equal(allPixels(train).length, 60000 * 28 * 28);
    assert.equal(allPixels(test).length, 10000 * 28 * 28);
    assert.equal(train.numClasses, 10);
    assert.deepEqual(train.classNames, FASHION_MNIST_CLASS_NAMES);
    // Published by Zalando: every class has 6000 train and 1000 test images.
    for (const [part, perClass] of [
      [train, 6000],
      [test, 1000],
    ] as const) {
      const counts = new Array<number>(10).fill(0);
      for (const label of part.labels) counts[label]++;
      assert.deepEqual(counts, new Array<number>(10).fill(perClass));
    }
    let min = Infinity;
    let max = -Infinity;
    for (const pixel of allPixels(train)) {
      if (pixel < min) min = pixel;
      if (pixel > max) max = pixel;
    }
    assert.equal(min, 0);
    assert.equal(max, 1);
  });
});
