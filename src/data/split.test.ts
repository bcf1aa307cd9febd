import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { InputError } from '../errors.js';
import type { Dataset } from './dataset.js';
import { splitValidation, subset } from './split.js';
import { allPixels, memoryDataset } from './dataset.js';

/** Ten 1×1×2 samples; sample i has pixels [i, i + 0.5] and label i % 3, so every sample is recognisable. */
function toyDataset(count = 10): Dataset {
  const images = new Float32Array(count * 2);
  const labels = new Int32Array(count);
  for (let i = 0; i < count; i++) {
    images[2 * i] = i;
    images[2 * i + 1] = i + 0.5;
    labels[i] = i % 3;
  }
  return memoryDataset({ name: 'toy/train', images, labels, sampleShape: [1, 1, 2], numClasses: 3, classNames: ['a', 'b', 'c'] });
}

/** Recovers original sample ids from the first pixel of each sample. */
function ids(dataset: Dataset): number[] {
  return Array.from(dataset.labels, (_, i) => allPixels(dataset)[2 * i]);
}

describe('subset', () => {
  it('copies the chosen samples in the given order', () => {
    const part = subset(toyDataset(), [7, 2, 7], 'toy/part');
    assert.equal(part.name, 'toy/part');
    assert.deepEqual(Array.from(allPixels(part)), [7, 7.5, 2, 2.5, 7, 7.5]);
    assert.deepEqual(Array.from(part.labels), [1, 2, 1]);
    assert.deepEqual(part.sampleShape, [1, 1, 2]);
    assert.equal(part.numClasses, 3);
  });

  it('rejects indices outside the dataset', () => {
    assert.throws(() => subset(toyDataset(), [10]), RangeError);
    assert.throws(() => subset(toyDataset(), [-1]), RangeError);
  });
});

describe('splitValidation', () => {
  it('is disjoint, covers everything, and keeps sample order', () => {
    const { train, validation } = splitValidation(toyDataset(), 3, 42);
    assert.equal(train.name, 'toy/train');
    assert.equal(validation.name, 'toy/validation');
    assert.equal(validation.labels.length, 3);
    assert.equal(train.labels.length, 7);
    const trainIds = ids(train);
    const validationIds = ids(validation);
    assert.deepEqual([...trainIds, ...validationIds].sort((a, b) => a - b), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    assert.deepEqual(trainIds, [...trainIds].sort((a, b) => a - b));
    assert.deepEqual(validationIds, [...validationIds].sort((a, b) => a - b));
    // Labels travel with their pixels.
    for (const part of [train, validation]) ids(part).forEach((id, i) => assert.equal(part.labels[i], id % 3));
  });

  it('is deterministic per seed and differs across seeds', () => {
    const data = toyDataset(100);
    assert.deepEqual(ids(splitValidation(data, 20, 7).validation), ids(splitValidation(data, 20, 7).validation));
    assert.notDeepEqual(ids(splitValidation(data, 20, 7).validation), ids(splitValidation(data, 20, 8).validation));
  });

  it('allows an empty validation set', () => {
    const { train, validation } = splitValidation(toyDataset(), 0, 1);
    assert.equal(validation.labels.length, 0);
    assert.deepEqual(ids(train), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  for (const bad of [10, 11, -1, 2.5, Number.NaN]) {
    it(`rejects validationCount ${bad} with an InputError naming dataset.validation`, () => {
      assert.throws(() => splitValidation(toyDataset(), bad, 1), (error: unknown) => {
        assert.ok(error instanceof InputError);
        assert.ok(error.message.includes('dataset.validation'), error.message);
        assert.ok(error.message.includes('[0, 10)'), error.message);
        return true;
      });
    });
  }
});
