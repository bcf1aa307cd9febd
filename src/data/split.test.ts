import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { InputError } from '../errors.js';
import type { Dataset } from './dataset.js';
import { splitValidation, subset } from './split.js';
import { allPixels, allSamples, imageDataset, memoryDataset } from './dataset.js';

/** Ten 1×1×2 samples; sample i has pixels [i, i + 0.5] and label i % 3, so every sample is recognisable. */
function toyDataset(count = 10): Dataset {
  const images = new Float32Array(count * 2);
  const labels = new Int32Array(count);
  for (let i = 0; i < count; i++) {
    images[2 * i] = i;
    images[2 * i + 1] = i + 0.5;
    labels[i] = i % 3;
  }
  return imageDataset({ name: 'toy/train', images, labels, sampleShape: [1, 1, 2], numClasses: 3, classNames: ['a', 'b', 'c'] });
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
    assert.deepEqual(part.inputs, [{ name: 'image', dtype: 'float32', shape: [1, 1, 2] }]);
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
    assert.deepEqual(
      [...trainIds, ...validationIds].sort((a, b) => a - b),
      [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
    );
    assert.deepEqual(
      trainIds,
      [...trainIds].sort((a, b) => a - b),
    );
    assert.deepEqual(
      validationIds,
      [...validationIds].sort((a, b) => a - b),
    );
    // Labels travel with their pixels.
    for (const part of [train, validation]) {
      ids(part).forEach((id, i) => {
        assert.equal(part.labels[i], id % 3);
      });
    }
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
      assert.throws(
        () => splitValidation(toyDataset(), bad, 1),
        (error: unknown) => {
          assert.ok(error instanceof InputError);
          assert.ok(error.message.includes('dataset.validation'), error.message);
          assert.ok(error.message.includes('[0, 10)'), error.message);
          return true;
        },
      );
    });
  }
});

/**
 * Six token sequences of length 3: sample i has input_ids [10i, 10i + 1, 10i + 2] and an
 * attention_mask whose first i % 3 + 1 positions are 1, label i % 2. Every field names its sample.
 */
function textDataset(): Dataset {
  const count = 6;
  const ids = Int32Array.from({ length: count * 3 }, (_, k) => 10 * Math.floor(k / 3) + (k % 3));
  const mask = Int32Array.from({ length: count * 3 }, (_, k) => (k % 3 <= Math.floor(k / 3) % 3 ? 1 : 0));
  return memoryDataset({
    name: 'text/train',
    inputs: [
      { name: 'input_ids', dtype: 'int32', shape: [3] },
      { name: 'attention_mask', dtype: 'int32', shape: [3] },
    ],
    values: { input_ids: ids, attention_mask: mask },
    labels: Int32Array.from({ length: count }, (_, i) => i % 2),
    numClasses: 2,
    classNames: ['neg', 'pos'],
  });
}

describe('a dataset of two int32 fields', () => {
  it('subset keeps every field of each chosen sample together, as int32', () => {
    const part = subset(textDataset(), [4, 1]);
    const samples = allSamples(part);
    assert.ok(samples.input_ids instanceof Int32Array && samples.attention_mask instanceof Int32Array);
    assert.deepEqual(Array.from(samples.input_ids), [40, 41, 42, 10, 11, 12]);
    // Sample 4 attends to 4 % 3 + 1 = 2 positions, sample 1 to 2.
    assert.deepEqual(Array.from(samples.attention_mask), [1, 1, 0, 1, 1, 0]);
    assert.deepEqual(Array.from(part.labels), [0, 1]);
    assert.deepEqual(part.inputs, textDataset().inputs);
  });

  it("splitValidation splits the samples, not the fields: each part's ids, masks and labels stay aligned", () => {
    const { train, validation } = splitValidation(textDataset(), 2, 42);
    const seen: number[] = [];
    for (const part of [train, validation]) {
      const samples = allSamples(part);
      part.labels.forEach((label, i) => {
        const id = samples.input_ids[3 * i] / 10;
        seen.push(id);
        assert.deepEqual(Array.from(samples.input_ids.subarray(3 * i, 3 * i + 3)), [10 * id, 10 * id + 1, 10 * id + 2]);
        assert.deepEqual(
          Array.from(samples.attention_mask.subarray(3 * i, 3 * i + 3)),
          [0, 1, 2].map((k) => (k <= id % 3 ? 1 : 0)),
        );
        assert.equal(label, id % 2);
      });
    }
    assert.equal(validation.labels.length, 2);
    assert.deepEqual(
      seen.sort((a, b) => a - b),
      [0, 1, 2, 3, 4, 5],
    );
  });

  it('memoryDataset refuses values that do not match the declared fields', () => {
    const inputs = [{ name: 'input_ids', dtype: 'int32', shape: [3] }] as const;
    const base = { name: 'bad', inputs, labels: new Int32Array(2), numClasses: 2, classNames: ['a', 'b'] };
    assert.throws(
      () => memoryDataset({ ...base, values: { input_ids: new Float32Array(6) } }),
      /field 'input_ids' is int32, its values are a Float32Array/,
    );
    assert.throws(() => memoryDataset({ ...base, values: {} }), /no values for field 'input_ids'/);
    assert.throws(() => memoryDataset({ ...base, values: { input_ids: new Int32Array(5) } }), RangeError);
    assert.throws(
      () => allPixels(memoryDataset({ ...base, values: { input_ids: new Int32Array(6) } })),
      /bad: this step needs images .*input_ids int32 \[3\]/,
    );
  });
});
