import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { InputError } from '../errors.js';
import { loadDataset, type DatasetSpec } from './index.js';
import { allPixels } from './dataset.js';

describe('loadDataset', () => {
  it('digits: 1438 train minus 10% (144) validation, 359 fixed test', () => {
    const splits = loadDataset({ name: 'digits' }, 1);
    assert.equal(splits.validation.labels.length, 144);
    assert.equal(splits.train.labels.length, 1438 - 144);
    assert.equal(splits.test.labels.length, 359);
    assert.deepEqual([splits.train.name, splits.validation.name, splits.test.name], ['digits/train', 'digits/validation', 'digits/test']);
  });

  it('digits: the test split does not depend on the seed, validation does', () => {
    const first = loadDataset({ name: 'digits' }, 1);
    const second = loadDataset({ name: 'digits' }, 2);
    assert.deepEqual(allPixels(first.test), allPixels(second.test));
    assert.deepEqual(first.test.labels, second.test.labels);
    assert.notDeepEqual(allPixels(first.validation), allPixels(second.validation));
  });

  it('honours an explicit validation count', () => {
    const splits = loadDataset({ name: 'digits', validation: 38 }, 1);
    assert.equal(splits.validation.labels.length, 38);
    assert.equal(splits.train.labels.length, 1400);
  });

  it('fashion-mnist: default 5000 validation leaves 55000 train', () => {
    const splits = loadDataset({ name: 'fashion-mnist' }, 1);
    assert.equal(splits.train.labels.length, 55000);
    assert.equal(splits.validation.labels.length, 5000);
    assert.equal(splits.test.labels.length, 10000);
  });

  it('rejects dataset.path for digits and unknown names', () => {
    assert.throws(() => loadDataset({ name: 'digits', path: '/tmp' } as DatasetSpec, 1), InputError);
    for (const name of ['mnist', 'constructor']) {
      assert.throws(
        () => loadDataset({ name } as unknown as DatasetSpec, 1),
        (error: unknown) => {
          assert.ok(error instanceof InputError);
          assert.ok(error.message.includes(`'${name}'`) && error.message.includes('digits, fashion-mnist'), error.message);
          return true;
        },
      );
    }
  });
});
