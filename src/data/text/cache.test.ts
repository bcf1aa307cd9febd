import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { allSamples } from '../dataset.js';
import { cachedTextParts } from './cache.js';
import { loadTextParts, type TextDatasetSpec } from './dataset.js';

test('a tokenized dataset is kept in the store, read back equal, and rebuilt when an entry is damaged', () => {
  const directory = mkdtempSync(join(tmpdir(), 'kdkit-token-cache-'));
  const store = join(directory, 'store');
  writeFileSync(join(directory, 'train.csv'), 'text,label\nwhere is my card,card\nrefund please,refund\nmy card is late,card\n');
  writeFileSync(join(directory, 'test.csv'), 'text,label\ncard not here,card\n');
  const spec: TextDatasetSpec = {
    name: 'text',
    train: join(directory, 'train.csv'),
    test: join(directory, 'test.csv'),
    textField: 'text',
    labelField: 'label',
    tokenizer: { train: 'wordpiece', vocabSize: 40, lowercase: true, minFrequency: 1, limitAlphabet: 1000 },
    maxLength: 8,
  };
  let computed = 0;
  const load = () =>
    cachedTextParts(spec, store, () => {
      computed++;
      return loadTextParts(spec);
    });
  const first = load();
  const second = load();
  assert.deepEqual([first.cached, second.cached, computed], [false, true, 1]);
  for (const which of ['train', 'test'] as const) {
    assert.deepEqual(allSamples(second[which]), allSamples(first[which]));
    assert.deepEqual(second[which].labels, first[which].labels);
    assert.deepEqual(second[which].inputs, first[which].inputs);
    assert.deepEqual(second[which].classNames, first[which].classNames);
  }
  assert.deepEqual(second.testTexts, ['card not here']);
  assert.deepEqual(second.tokenizer.ids('My card', 8), first.tokenizer.ids('My card', 8));
  // A damaged array is not trusted: the entry is rebuilt.
  const [entry] = readdirSync(store);
  truncateSync(join(store, entry, 'train.input_ids.i32'), 4);
  assert.equal(load().cached, false);
  assert.equal(computed, 2);
  // Another maxLength is another entry.
  spec.maxLength = 6;
  assert.equal(load().cached, false);
  assert.equal(readdirSync(store).length, 2);
});
