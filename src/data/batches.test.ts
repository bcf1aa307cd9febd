import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Rng } from '../util/rng.js';
import type { Dataset } from './dataset.js';
import { allocateBatch, batchCount, gatherBatch, shuffledOrder } from './batches.js';
import { memoryDataset } from './dataset.js';

/** Five 1×1×2 samples; sample i has pixels [10i, 10i + 1] and label i. */
const toy: Dataset = memoryDataset({
  name: 'toy',
  images: Float32Array.from([0, 1, 10, 11, 20, 21, 30, 31, 40, 41]),
  labels: Int32Array.from([0, 1, 2, 3, 4]),
  sampleShape: [1, 1, 2],
  numClasses: 5,
  classNames: ['a', 'b', 'c', 'd', 'e'],
});

describe('batches', () => {
  it('allocateBatch sizes buffers for batchSize samples', () => {
    const buffers = allocateBatch(toy, 3);
    assert.equal(buffers.images.length, 6);
    assert.equal(buffers.labels.length, 3);
  });

  it('gatherBatch copies samples by index and returns views of the filled part', () => {
    const buffers = allocateBatch(toy, 3);
    const full = gatherBatch(toy, [4, 0, 2], buffers);
    assert.deepEqual(Array.from(full.images), [40, 41, 0, 1, 20, 21]);
    assert.deepEqual(Array.from(full.labels), [4, 0, 2]);
    assert.equal(full.images.buffer, buffers.images.buffer, 'no new allocation');

    const partial = gatherBatch(toy, Int32Array.from([3]), buffers);
    assert.deepEqual(Array.from(partial.images), [30, 31]);
    assert.deepEqual(Array.from(partial.labels), [3]);
  });

  it('gatherBatch rejects overflowing batches and bad indices', () => {
    assert.throws(() => gatherBatch(toy, [0, 1, 2, 3], allocateBatch(toy, 3)), RangeError);
    assert.throws(() => gatherBatch(toy, [5], allocateBatch(toy, 3)), RangeError);
  });

  it('shuffledOrder is a seeded permutation', () => {
    const order = shuffledOrder(100, new Rng(3));
    assert.deepEqual(Array.from(order).sort((a, b) => a - b), Array.from({ length: 100 }, (_, i) => i));
    assert.deepEqual(order, shuffledOrder(100, new Rng(3)));
    assert.notDeepEqual(order, shuffledOrder(100, new Rng(4)));
  });

  it('batchCount rounds up for a final partial batch', () => {
    assert.equal(batchCount(10, 5), 2);
    assert.equal(batchCount(11, 5), 3);
    assert.equal(batchCount(0, 5), 0);
  });
});
