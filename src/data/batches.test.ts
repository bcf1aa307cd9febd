import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Rng } from '../util/rng.js';
import type { Dataset } from './dataset.js';
import { allocateBatch, batchCount, gatherBatch, shuffledOrder } from './batches.js';
import { imageDataset, memoryDataset } from './dataset.js';

/** Five 1×1×2 samples; sample i has pixels [10i, 10i + 1] and label i. */
const toy: Dataset = imageDataset({
  name: 'toy',
  images: Float32Array.from([0, 1, 10, 11, 20, 21, 30, 31, 40, 41]),
  labels: Int32Array.from([0, 1, 2, 3, 4]),
  sampleShape: [1, 1, 2],
  numClasses: 5,
  classNames: ['a', 'b', 'c', 'd', 'e'],
});

/** Five token sequences of length 2: sample i has input_ids [100 + i, 200 + i], attention_mask [1, i % 2], label 4 − i. */
const text: Dataset = memoryDataset({
  name: 'text',
  inputs: [
    { name: 'input_ids', dtype: 'int32', shape: [2] },
    { name: 'attention_mask', dtype: 'int32', shape: [2] },
  ],
  values: {
    input_ids: Int32Array.from([100, 200, 101, 201, 102, 202, 103, 203, 104, 204]),
    attention_mask: Int32Array.from([1, 0, 1, 1, 1, 0, 1, 1, 1, 0]),
  },
  labels: Int32Array.from([4, 3, 2, 1, 0]),
  numClasses: 5,
  classNames: ['a', 'b', 'c', 'd', 'e'],
});

describe('batches', () => {
  it('allocateBatch sizes buffers for batchSize samples', () => {
    const buffers = allocateBatch(toy, 3);
    assert.equal(buffers.samples.image.length, 6);
    assert.equal(buffers.labels.length, 3);
  });

  it('gatherBatch copies samples by index and returns views of the filled part', () => {
    const buffers = allocateBatch(toy, 3);
    const full = gatherBatch(toy, [4, 0, 2], buffers);
    assert.deepEqual(Array.from(full.samples.image), [40, 41, 0, 1, 20, 21]);
    assert.deepEqual(Array.from(full.labels), [4, 0, 2]);
    assert.equal(full.samples.image.buffer, buffers.samples.image.buffer, 'no new allocation');

    const partial = gatherBatch(toy, Int32Array.from([3]), buffers);
    assert.deepEqual(Array.from(partial.samples.image), [30, 31]);
    assert.deepEqual(Array.from(partial.labels), [3]);
  });

  it('gatherBatch rejects overflowing batches and bad indices', () => {
    assert.throws(() => gatherBatch(toy, [0, 1, 2, 3], allocateBatch(toy, 3)), RangeError);
    assert.throws(() => gatherBatch(toy, [5], allocateBatch(toy, 3)), RangeError);
  });

  it('a two-field int32 dataset batches every field as int32, row by row with its label', () => {
    const buffers = allocateBatch(text, 4);
    assert.ok(buffers.samples.input_ids instanceof Int32Array && buffers.samples.attention_mask instanceof Int32Array);
    assert.equal(buffers.samples.input_ids.length, 8);
    const batch = gatherBatch(text, [3, 0, 4], buffers);
    assert.deepEqual(Array.from(batch.samples.input_ids), [103, 203, 100, 200, 104, 204]);
    assert.deepEqual(Array.from(batch.samples.attention_mask), [1, 1, 1, 0, 1, 0]);
    assert.deepEqual(Array.from(batch.labels), [1, 4, 0]);
    assert.equal(batch.samples.attention_mask.buffer, buffers.samples.attention_mask.buffer, 'no new allocation');
  });

  it('a shuffled epoch visits each sample of a two-field dataset once, in the seeded order, its fields together', () => {
    const order = shuffledOrder(5, new Rng(11));
    const buffers = allocateBatch(text, 2);
    const visited: number[] = [];
    for (let step = 0; step < batchCount(5, 2); step++) {
      const indices = order.subarray(step * 2, Math.min(5, (step + 1) * 2));
      const batch = gatherBatch(text, indices, buffers);
      batch.labels.forEach((label, i) => {
        const sample = batch.samples.input_ids[2 * i] - 100;
        visited.push(sample);
        // Each row is sample `indices[i]`, whole: both ids, the mask and the label.
        assert.equal(sample, indices[i]);
        assert.equal(batch.samples.input_ids[2 * i + 1], 200 + sample);
        assert.deepEqual(Array.from(batch.samples.attention_mask.subarray(2 * i, 2 * i + 2)), [1, sample % 2]);
        assert.equal(label, 4 - sample);
      });
    }
    assert.deepEqual(visited, Array.from(order));
    assert.deepEqual([...visited].sort(), [0, 1, 2, 3, 4]);
    assert.deepEqual(shuffledOrder(5, new Rng(11)), order, 'the same seed, the same order');
  });

  it('shuffledOrder is a seeded permutation', () => {
    const order = shuffledOrder(100, new Rng(3));
    assert.deepEqual(
      Array.from(order).sort((a, b) => a - b),
      Array.from({ length: 100 }, (_, i) => i),
    );
    assert.deepEqual(order, shuffledOrder(100, new Rng(3)));
    assert.notDeepEqual(order, shuffledOrder(100, new Rng(4)));
  });

  it('batchCount rounds up for a final partial batch', () => {
    assert.equal(batchCount(10, 5), 2);
    assert.equal(batchCount(11, 5), 3);
    assert.equal(batchCount(0, 5), 0);
  });
});
